"""A real PostgreSQL server for the central store's tests, started here from Debian's binaries.

``postgres_server`` (session): ``initdb`` + ``pg_ctl`` in a temporary directory, listening
only on a Unix socket there (no TCP port, nothing shared with the host's own cluster);
run as the ``postgres`` user when the tests run as root (``initdb`` refuses root). Its
settings favour test speed (``fsync=off``): durability is PostgreSQL's, tested by it.
``postgres_url`` (function): a fresh, empty database on it, dropped afterwards.
``central_db`` (function, parametrised): a SQLite file path, then a PostgreSQL URL, so
every central test runs on both backends; the PostgreSQL runs carry the ``postgres`` marker.

Without Debian's ``postgresql`` package the ``postgres`` tests are skipped with the reason
(``make deps`` installs it).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

_dbs = itertools.count(1)


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    def __init__(self, root: Path, bindir: Path):
        self.root = root
        self.bindir = bindir
        self.data = root / "data"
        self.sock = root / "sock"
        self.port = 5432
        self.user = "uchastok"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("tests run as root and there is no 'postgres' user to run PostgreSQL as")
            self.as_user = ["runuser", "-u", "postgres", "--"]
            os.chown(root, pw.pw_uid, pw.pw_gid)
        self.sock.mkdir()
        if self.as_user:
            shutil.chown(self.sock, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=120)

    def start(self, durable: bool = False) -> None:
        """initdb + pg_ctl start; ``durable`` keeps PostgreSQL's fsync (the benchmark's setting)."""
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user,
                  "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
        opts = (f"-c listen_addresses='' -c unix_socket_directories={self.sock} -p {self.port}"
                " -c max_connections=300 -c shared_buffers=128MB")
        if not durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts,
                  "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                        "fast", "-w", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60, check=False)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{dbname}?host={self.sock}&port={self.port}"

    def create_database(self) -> str:
        name = f"t{os.getpid()}_{next(_dbs)}"
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_postgres(prefix: str, *, durable: bool = False) -> Iterator[PostgresServer | None]:
    """A PostgreSQL server in a new temporary directory for the block (None when PostgreSQL is not
    installed), stopped and removed after it; ``durable`` keeps fsync (the benchmarks' setting)."""
    bindir = _bindir()
    if bindir is None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(root, 0o755)
    server = PostgresServer(root, bindir)
    try:
        server.start(durable=durable)
    except subprocess.CalledProcessError as e:
        shutil.rmtree(root, ignore_errors=True)
        log = (root / "server.log")
        raise RuntimeError(f"PostgreSQL did not start: {e.stderr.decode(errors='replace')}"
                           f"{log.read_text() if log.exists() else ''}") from e
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    with running_postgres("uchastok-pg-") as server:
        if server is None:
            pytest.skip("PostgreSQL is not installed (Debian package postgresql; make deps)")
        yield server


@pytest.fixture
def postgres_url(postgres_server):
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def central_db(request, tmp_path):
    """Where a central store lives: a SQLite file, then (second run) a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "central.db")
    return request.getfixturevalue("postgres_url")
