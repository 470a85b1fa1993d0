#!/usr/bin/env bash
# Checks the machine-level prerequisites of `make test` / `make demo` and says, in one
# message, what to install. Everything else (virtualenv, packages, KCL jars, services) the
# Makefile sets up itself.
set -u
missing=()

py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null 2>&1; then
  missing+=("Python 3.11+ ($py not found; apt install python3 python3-venv)")
elif ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  missing+=("Python 3.11+ ($py is $("$py" -V 2>&1))")
elif ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
  missing+=("Python's venv module (apt install python3-venv)")
fi
command -v java >/dev/null 2>&1 || missing+=("Java 17+ for the KCL MultiLangDaemon (apt install openjdk-17-jre-headless)")
command -v mvn >/dev/null 2>&1 || missing+=("Maven, to fetch the KCL jars (apt install maven)")

pg_found=""
for dir in ${TOTESYS_CDC_PG_BIN:-} $(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)") /usr/lib/postgresql/*/bin; do
  if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then pg_found=$dir; break; fi
done
[ -n "$pg_found" ] || missing+=("PostgreSQL 15+ server binaries: initdb, pg_ctl (apt install postgresql), or set TOTESYS_CDC_PG_BIN")

if [ "$(id -u)" = 0 ] && ! command -v runuser >/dev/null 2>&1; then
  missing+=("runuser (util-linux): as root, PostgreSQL runs as an unprivileged user")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "Missing prerequisites; please install:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
