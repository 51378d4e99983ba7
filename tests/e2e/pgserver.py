"""A real PostgreSQL server for tests and benchmarks: initdb into a temp dir, started on a free loopback
port with its unix socket in the same dir, stopped (and the dir removed) at the end.

Postgres refuses to run as root; as root the server runs as the `postgres` system user (created by
Debian's postgresql package) and the temp dir is chowned to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.e2e.harness import free_port

DB = "ledger"
USER = "gw"
PASSWORD = "pg-Secret-0123456789"  # tests assert it never shows up anywhere


def find_bindir() -> Path | None:
    """Directory holding initdb/pg_ctl/postgres/createdb, newest Debian version first, else PATH."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres", "psql")):
            return Path(d)
    initdb = shutil.which("initdb")
    if initdb:
        d = Path(os.path.realpath(initdb)).parent
        if all((d / b).exists() for b in ("pg_ctl", "postgres", "psql")):
            return d
    return None


def missing_reason() -> str | None:
    """Why a Postgres server cannot be started here, or None."""
    if find_bindir() is None:
        return "PostgreSQL binaries not found (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the server as"
    return None


class PostgresServer:
    def __init__(self, fsync: bool = False) -> None:
        bindir = find_bindir()
        assert bindir is not None, missing_reason()
        self.bindir = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="agw-pg-"))
        self.data = self.dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        self.fsync = fsync
        self.start()
        self.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        self.psql(f"CREATE DATABASE {DB} OWNER {USER}")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self._as, str(self.bindir / tool), *args], capture_output=True, text=True,
                              timeout=120, check=check, cwd=self.dir)

    def url(self, db: str = DB) -> str:
        return f"postgres://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200 "
                f"-c fsync={'on' if self.fsync else 'off'}")
        out = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", opts, "-w", "-t", "60",
                        "start", check=False)
        if out.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {out.stderr}{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def psql(self, sql: str, db: str = "postgres") -> str:
        out = self._run("psql", "-h", str(self.dir), "-p", str(self.port), "-U", "postgres", "-d", db, "-v",
                        "ON_ERROR_STOP=1", "-At", "-c", sql, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr}")
        return out.stdout.strip()

    def log_tail(self) -> str:
        try:
            return (self.dir / "log").read_text()[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
