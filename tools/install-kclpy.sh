#!/usr/bin/env bash
# Installs amazon-kclpy into a virtualenv with its KCL jars fetched by Maven.
#
# amazon-kclpy's setup.py downloads ~80 jars one by one with a Python URL opener and
# carries on (printing a warning) when one fails. Here Maven resolves the exact jars the
# package's pom.xml declares (-DexcludeTransitive=true: the pom already lists the full
# closure), with retries, checksums and its local repository as a cache. The jars are
# copied into the unpacked sdist so that setup.py finds them all and downloads nothing.
#
# Usage: tools/install-kclpy.sh <python-of-venv> <version>
# A second run with the jars already in .cache/ fetches nothing.
set -euo pipefail

python=${1:?python of the virtualenv}
version=${2:?amazon-kclpy version}
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/kclpy-$version"
src="$cache/src/amazon_kclpy-$version"
jars="$cache/jars"

if "$python" -c "import amazon_kclpy, importlib.metadata as m, pathlib, sys; \
d = pathlib.Path(amazon_kclpy.__file__).parent / 'jars'; \
sys.exit(0 if m.version('amazon-kclpy') == '$version' and len(list(d.glob('*.jar'))) >= 50 else 1)" 2>/dev/null; then
  echo "amazon-kclpy $version with its jars is already installed"
  exit 0
fi

for tool in mvn java; do
  command -v "$tool" >/dev/null || { echo "error: '$tool' not found: install Java 17+ and Maven (apt install openjdk-17-jdk-headless maven)" >&2; exit 1; }
done

mkdir -p "$cache/src"
if [ ! -f "$src/pom.xml" ]; then
  "$python" -m pip download --quiet --no-deps --no-binary :all: "amazon-kclpy==$version" -d "$cache/src"
  tar -xzf "$cache/src/amazon_kclpy-$version.tar.gz" -C "$cache/src"
fi

expected=$(grep -c '<dependency>' "$src/pom.xml")
if [ ! -f "$jars/.complete" ]; then
  # The published pom.xml has no project coordinates; Maven needs some to run at all.
  sed 's#<modelVersion>4.0.0</modelVersion>#<modelVersion>4.0.0</modelVersion><groupId>local.totesys</groupId><artifactId>kclpy-jars</artifactId><version>'"$version"'</version>#' \
    "$src/pom.xml" > "$cache/pom.xml"
  rm -rf "$jars"
  echo "fetching amazon-kclpy $version's KCL jars with Maven (log: $cache/mvn.log)"
  if ! mvn --batch-mode -Dstyle.color=never -f "$cache/pom.xml" dependency:copy-dependencies \
      -DexcludeTransitive=true -DoutputDirectory="$jars" > "$cache/mvn.log" 2>&1; then
    tail -n 30 "$cache/mvn.log" >&2
    echo "error: Maven could not fetch the KCL jars (full log: $cache/mvn.log)" >&2
    exit 1
  fi
  got=$(find "$jars" -name '*.jar' | wc -l)
  if [ "$got" -ne "$expected" ]; then
    echo "error: Maven fetched $got jars, amazon-kclpy $version's pom.xml declares $expected" >&2
    exit 1
  fi
  touch "$jars/.complete"
fi

mkdir -p "$src/amazon_kclpy/jars"
cp "$jars"/*.jar "$src/amazon_kclpy/jars/"
"$python" -m pip install --quiet "$src"
echo "amazon-kclpy $version installed with $expected KCL jars (cache: $jars)"
