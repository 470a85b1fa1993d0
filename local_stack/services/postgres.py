"""The project-owned PostgreSQL clusters: initdb, start, stop, status, databases.

Two clusters, as in AWS (``local_stack.services.config``): the source (ToteSys) and the
warehouse, each on 127.0.0.1 only, on a port of its own, with ``wal_level=logical`` so the
capture engine can use a replication slot on the source. Each holds only its own side's roles.
``initdb`` and ``postgres`` refuse to run as root; when this runs as root the servers run as an
unprivileged system user instead.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from cdc import source_roles
from local_stack.services.config import (
    CLUSTERS,
    SOURCE,
    SOURCE_ROLES,
    WAREHOUSE,
    WAREHOUSE_ROLES,
    StackConfig,
)
from local_stack.services.processes import PrerequisiteMissing, StackError, wait_until
from warehouse_loader import roles as warehouse_roles

APP_DATABASES = {SOURCE: "totesys", WAREHOUSE: "warehouse"}
INSTALL_HINT = (
    "install the PostgreSQL 15+ server (apt install postgresql) or set TOTESYS_CDC_PG_BIN"
)

# Settings appended to postgresql.conf. fsync/full_page_writes are off because this cluster
# is a disposable local stand-in: a crashed *process* loses nothing with them off, only an
# operating-system crash could, and the stack is rebuilt from scratch after one.
# synchronous_commit stays on: logical decoding reads only flushed WAL, so asynchronous
# commits would reach the capture engine up to a few hundred milliseconds late.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "wal_level": "logical",
    "max_replication_slots": "20",
    "max_wal_senders": "20",
    "max_connections": "200",
    "fsync": "off",
    "full_page_writes": "off",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "log_min_messages": "warning",
}


def find_bin_dir(explicit: Path | None = None) -> Path:
    """The directory holding ``initdb``/``pg_ctl``: ``explicit`` (TOTESYS_CDC_PG_BIN, read by
    ``local_stack.services.config``), PATH, then Debian's versioned directories (newest first)."""
    candidates = [Path(explicit)] if explicit else []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    candidates += [Path(p) for p in debian]
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    raise PrerequisiteMissing(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}"
    )


def server_user() -> str | None:
    """The unprivileged user the server runs as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PrerequisiteMissing(
        "running as root but no 'postgres' or 'nobody' user exists to run PostgreSQL"
    )


@dataclass(frozen=True)
class Cluster:
    """One local cluster: where its files are, who runs it, how to reach it."""

    config: StackConfig
    bin_dir: Path
    run_as: str | None
    base_dir: Path
    name: str = SOURCE  # SOURCE or WAREHOUSE

    @property
    def port(self) -> int:
        return self.config.port(self.name)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "socket"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if self.run_as is None:
            return argv
        return ["runuser", "-u", self.run_as, "--", *argv]

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._as_server_user(argv), capture_output=True, text=True, check=False
        )

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        result = self._run([str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)])
        return result.returncode == 0

    def accepts_connections(self) -> bool:
        result = subprocess.run(
            [
                str(self.bin_dir / "pg_isready"),
                "-q",
                "-h",
                self.config.host,
                "-p",
                str(self.port),
                "-t",
                "1",
            ],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def init(self) -> None:
        """initdb (once) and write the settings; a second call changes nothing."""
        if self.is_initialised():
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self._hand_to_server_user(self.base_dir, self.socket_dir)
        result = self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.config.pg_superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed:\n{result.stdout}{result.stderr}")
        settings = dict(
            SERVER_SETTINGS,
            port=str(self.port),
            unix_socket_directories=f"'{self.socket_dir}'",
        )
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# --- totesys-cdc local stack ---\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        # Only loopback, only the superuser the project created; replication for the capture engine.
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
            "host replication all 127.0.0.1/32 trust\n"
        )

    def _hand_to_server_user(self, *paths: Path) -> None:
        if self.run_as is None:
            return
        entry = pwd.getpwnam(self.run_as)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)
            path.chmod(0o700)

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server (if it is not running) and wait until it accepts connections."""
        if not self.is_running():
            result = self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_path),
                    "-t",
                    str(int(timeout_s)),
                    "-w",
                ]
            )
            if result.returncode != 0:
                raise StackError(
                    f"PostgreSQL did not start: {result.stderr.strip()}; see {self.log_path}"
                )
        wait_until(
            self.accepts_connections,
            what="PostgreSQL to accept connections",
            timeout_s=timeout_s,
            log_path=self.log_path,
        )

    def stop(self) -> None:
        if self.is_running():
            result = self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "stop",
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    "60",
                ]
            )
            if result.returncode != 0:
                raise StackError(f"PostgreSQL did not stop: {result.stderr.strip()}")

    def ensure_databases(self) -> None:
        """Create this cluster's roles and its application database if it does not exist
        yet, with its roles' grants."""
        ensure_roles(self.config, self.name)
        name = APP_DATABASES[self.name]
        with psycopg.connect(self.config.pg_dsn("postgres", cluster=self.name)) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is not None:
                return
        if self.name == SOURCE:
            create_source_database(self.config, name)
        else:
            create_warehouse_database(self.config, name)


def cluster(config: StackConfig, name: str = SOURCE) -> Cluster:
    """A cluster of this configuration (the source's by default), with its files placed
    where the server user can reach them (see ``_base_dir``)."""
    run_as = server_user()
    return Cluster(
        config=config,
        bin_dir=find_bin_dir(config.pg_bin),
        run_as=run_as,
        base_dir=_base_dir(config, name, run_as),
        name=name,
    )


def clusters(config: StackConfig) -> list[Cluster]:
    """Both clusters: the source's, then the warehouse's."""
    return [cluster(config, name) for name in CLUSTERS]


def _base_dir(config: StackConfig, name: str, run_as: str | None) -> Path:
    """The cluster's own folder: ``<state dir>/pg`` (``pg-warehouse`` for the warehouse).

    As root, the unprivileged server user must be able to traverse every parent of it; a
    clone in a private folder (``mktemp -d`` gives 0700) does not allow that. Rather than
    loosen the permissions of the user's folders, the cluster then lives in a folder of
    the system temp dir named after the project path, and ``<state dir>/pg`` is a symlink to it.
    """
    wanted = config.pg_dir(name)
    if wanted.is_symlink() or run_as is None:
        return wanted.resolve() if wanted.is_symlink() else wanted
    if _reachable_by(run_as, wanted.parent):
        return wanted
    digest = hashlib.sha256(str(config.state_dir).encode()).hexdigest()[:12]
    suffix = "" if name == SOURCE else f"-{name}"
    outside = Path(tempfile.gettempdir()) / f"totesys-cdc-pg-{digest}{suffix}"
    outside.mkdir(mode=0o711, exist_ok=True)
    wanted.parent.mkdir(parents=True, exist_ok=True)
    if not wanted.exists():
        wanted.symlink_to(outside, target_is_directory=True)
    return outside


def _reachable_by(user: str, directory: Path) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(directory)], check=False)
    return probe.returncode == 0


def ensure_roles(config: StackConfig, cluster: str | None = None) -> None:
    """Make the pipeline's roles that a cluster does not have yet (both clusters when
    ``cluster`` is None): the source's (``cdc.source_roles``) on the source cluster, the
    warehouse's (``warehouse_loader.roles``) on the warehouse cluster; logins without a
    password, as the clusters trust loopback."""
    wanted = {
        SOURCE: zip(
            (SOURCE_ROLES.owner, SOURCE_ROLES.app, SOURCE_ROLES.capture),
            source_roles.cluster_statements(SOURCE_ROLES, passwords=False),
            strict=True,
        ),
        WAREHOUSE: zip(
            (WAREHOUSE_ROLES.owner, WAREHOUSE_ROLES.loader, WAREHOUSE_ROLES.analyst),
            warehouse_roles.cluster_statements(WAREHOUSE_ROLES, passwords=False),
            strict=True,
        ),
    }
    for name in (cluster,) if cluster else CLUSTERS:
        with psycopg.connect(config.pg_dsn("postgres", cluster=name), autocommit=True) as conn:
            existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}
            for role, statement in wanted[name]:
                if role not in existing:
                    # made at the same moment by another process (tests run in parallel)
                    with contextlib.suppress(psycopg.errors.DuplicateObject):
                        conn.execute(statement)


def _grant(config: StackConfig, name: str, statements: list[sql.Composable], cluster: str) -> None:
    with (
        psycopg.connect(config.pg_dsn(name, cluster=cluster), autocommit=True) as conn,
        conn.transaction(),
    ):
        for statement in statements:
            conn.execute(statement)


def create_source_database(config: StackConfig, name: str) -> None:
    """An empty ToteSys database on the source cluster, owned by the source's owner role,
    with the app and capture roles' grants (``config.source_dsns(name)`` are its DSNs)."""
    create_database(config, name)
    _grant(config, name, source_roles.database_statements(SOURCE_ROLES, name), SOURCE)


def create_warehouse_database(config: StackConfig, name: str) -> None:
    """An empty warehouse database on the warehouse cluster, owned by the warehouse's owner
    role, with the loader and analyst roles' grants (``config.warehouse_dsns(name)``); the
    owner migrates it."""
    create_database(config, name, cluster=WAREHOUSE)
    grant_warehouse_roles(config, name)


def grant_warehouse_roles(config: StackConfig, name: str) -> None:
    """Hand an existing, empty database of the warehouse cluster to the owner role and give
    the loader and analyst roles their grants."""
    _grant(config, name, warehouse_roles.database_statements(WAREHOUSE_ROLES, name), WAREHOUSE)


def create_database(config: StackConfig, name: str, *, cluster: str = SOURCE) -> str:
    """Create an empty database on a local cluster (the source's by default); return its
    superuser DSN."""
    with psycopg.connect(config.pg_dsn("postgres", cluster=cluster), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return config.pg_dsn(name, cluster=cluster)


def drop_database(config: StackConfig, name: str) -> None:
    """Drop a database from whichever local cluster holds it, with its replication slots
    (PostgreSQL refuses to drop a database that still has logical slots)."""
    for cluster in CLUSTERS:
        with psycopg.connect(config.pg_dsn("postgres", cluster=cluster), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                "WHERE database = %s AND active_pid IS NOT NULL",
                (name,),
            )
            wait_until(  # a terminated walsender releases its slot as it exits
                lambda: (
                    conn.execute(
                        "SELECT count(*) FROM pg_replication_slots WHERE database = %s AND active",
                        (name,),
                    ).fetchone()[0]
                    == 0
                ),
                what=f"the replication slots of {name} to be released",
                timeout_s=30,
            )
            slots = conn.execute(
                "SELECT slot_name FROM pg_replication_slots WHERE database = %s", (name,)
            )
            for (slot,) in slots.fetchall():
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
