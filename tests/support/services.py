"""Real PostgreSQL and Redis for the tests: the machine's own, or throwaway ones.

On this project's machines PostgreSQL (127.0.0.1:5432, trust auth, database ``test``)
and Redis (127.0.0.1:6379) are running and are used; elsewhere the tests start their
own from the installed Debian binaries (``make test`` installs them): a PostgreSQL
cluster through pytest-postgresql, a ``redis-server`` on a free port. Each test gets a
schema (PostgreSQL) or a key prefix (Redis) of its own and drops it afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(url: str) -> bool:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1):
            return True
    except OSError:
        return False


def _pg_ctl() -> str:
    found = shutil.which("pg_ctl") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)), None
    )
    if found is None:
        pytest.skip("no PostgreSQL server and no pg_ctl; apt-get install postgresql (make test)")
    return found


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server: the machine's, or a throwaway cluster."""
    if reachable(POSTGRES_URL):
        yield POSTGRES_URL
        return
    from pytest_postgresql.executors import PostgreSQLExecutor

    port = free_port()
    executor = PostgreSQLExecutor(
        executable=_pg_ctl(),
        host="127.0.0.1",
        port=port,
        user="postgres",
        startparams="-w",
        logfile=str(tmp_path_factory.mktemp("pglog") / "postgresql.log"),
        dbname="test",
        datadir=str(tmp_path_factory.mktemp("pgdata")),
        unixsocketdir=str(tmp_path_factory.mktemp("pgsock")),
        postgres_options="",
    )
    with executor:
        executor.wait_for_postgres()
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CREATE DATABASE test"))
        engine.dispose()
        yield f"postgresql://postgres@127.0.0.1:{port}/test"


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
