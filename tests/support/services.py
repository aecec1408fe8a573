"""Real PostgreSQL and Redis for the tests: the machine's own, or throwaway ones.

On this project's machines PostgreSQL (127.0.0.1:5432, trust auth, database ``test``)
is running and is used; elsewhere (or with ``TEST_POSTGRES_URL`` pointing at a port
nothing listens on) the tests start a throwaway cluster from the installed Debian
binaries (``make test`` installs them) in a temporary folder, as the ``postgres`` user
when run as root, since initdb refuses root. Redis is always a ``redis-server`` of the
test's own on a free port, which tests may stop and start. Each test gets a schema
(PostgreSQL) of its own and drops it afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1):
            return True
    except OSError:
        return False


def _pg_bin(tool: str) -> str:
    found = shutil.which(tool) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)), None
    )
    if found is None:
        pytest.skip(f"no PostgreSQL server and no {tool}; apt-get install postgresql (make test)")
    return found


def _as_cluster_owner() -> list[str]:
    """The command prefix that runs PostgreSQL's tools as a user they accept (not root)."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser: cannot start a throwaway PostgreSQL")
    return [runuser, "-u", "postgres", "--"]


@contextmanager
def throwaway_postgres(port: int) -> Iterator[str]:
    """A fresh PostgreSQL cluster on 127.0.0.1:``port`` with a database ``test``; its URL."""
    owner = _as_cluster_owner()
    # Not under pytest's tmp_path: as root that folder is closed to the postgres user.
    workdir = Path(tempfile.mkdtemp(prefix="askwiki-pg-"))
    if owner:
        shutil.chown(workdir, "postgres", "postgres")
    data = workdir / "data"
    pg_ctl = [*owner, _pg_bin("pg_ctl")]
    subprocess.run(
        [
            *owner,
            _pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*pg_ctl, "start", "-w", "-D", str(data), "-l", str(workdir / "log"), "-o", options],
        check=True,
        capture_output=True,
    )
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CREATE DATABASE test"))
        engine.dispose()
        yield f"postgresql://postgres@127.0.0.1:{port}/test"
    finally:
        subprocess.run([*pg_ctl, "stop", "-D", str(data), "-m", "immediate"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server: the machine's, or a throwaway cluster."""
    if reachable(POSTGRES_URL):
        yield POSTGRES_URL
        return
    # The port the URL named (so TEST_POSTGRES_URL can pick it), else a free one.
    port = make_url(POSTGRES_URL).port or free_port()
    with throwaway_postgres(port) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL URL whose tables land in a fresh schema, dropped after the test."""
    schema = f"wt_14_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite (a file in tmp_path) and on PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'questions.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


@dataclass
class RedisServer:
    """A ``redis-server`` of the test's own, which the test may stop and start again."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("no redis-server; apt-get install redis-server (make test)")
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A throwaway redis-server on a free loopback port (for tests that stop it)."""
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()
