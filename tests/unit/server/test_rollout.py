"""Index rollout over PostgreSQL LISTEN/NOTIFY: replicas switch at once, not at their poll."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from askwiki.database.rollout import recorded_version
from askwiki.ingest.pipeline import run_ingest
from askwiki.settings import Settings
from askwiki.testing.fake_embedder import fake_embedder
from tests.unit.server.conftest import ClientFactory

pytestmark = pytest.mark.integration


def _served(client) -> str:  # type: ignore[no-untyped-def]
    return str(client.get("/api/ready").json()["index"].get("version"))


def test_an_ingest_is_served_by_every_replica_within_a_second(
    make_client: ClientFactory, postgres_url: str, tmp_path: Path
) -> None:
    # A poll of 10 minutes: only the announcement can make them switch in time.
    replicas = [make_client(database_url=postgres_url, index_poll_s=600.0) for _ in range(2)]
    before = {_served(r) for r in replicas}
    page = tmp_path / "wiki" / "rollout.md"
    page.parent.mkdir()
    page.write_text("# Rollout\n\nReplicas switch versions together.\n", encoding="utf-8")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, index_dir=tmp_path / "indexes", database_url=postgres_url
    )

    report = run_ingest([page.parent], settings, fake_embedder(), prune=False)
    published = time.monotonic()
    while time.monotonic() - published < 5 and any(_served(r) != report.version for r in replicas):
        time.sleep(0.05)
    switched_after = time.monotonic() - published

    assert len(before) == 1 and report.version not in before
    assert [_served(r) for r in replicas] == [report.version] * 2
    assert switched_after < 1.0
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    assert recorded_version(engine, "default") == report.version
    engine.dispose()


def test_ready_names_the_replica_and_its_version(make_client: ClientFactory) -> None:
    body = make_client().get("/api/ready").json()

    assert body["replica"] and body["index"]["version"]
