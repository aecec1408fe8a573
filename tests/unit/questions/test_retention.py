"""Retention: stored questions older than ASKWIKI_QUESTION_RETENTION_DAYS are deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from askwiki.cli.main import app
from askwiki.errors import QuestionNotFoundError
from askwiki.questions import SQLQuestionStore
from askwiki.questions.retention import purge_expired, retention_cutoff
from tests.unit.questions.conftest import make_answer, unit

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
OLD = "2025-05-01T09:00:00+00:00"
RECENT = "2025-06-29T09:00:00+00:00"


def _save(store: SQLQuestionStore, question_id: str, asked_at: str, **fields: object) -> None:
    store.save(
        make_answer(id=question_id, **fields),
        asked_at=asked_at,
        embedding=unit(1, 2),
        embedding_model="fake",
    )


def test_questions_older_than_the_period_go_with_their_repeats_and_votes(
    store: SQLQuestionStore,
) -> None:
    _save(store, "old", OLD)
    _save(store, "old-repeat", RECENT, cached=True, cached_from="old")
    _save(store, "new", RECENT, question="What is BM25?")
    _save(store, "new-repeat-old", OLD, question="What is BM25?", cached=True, cached_from="new")
    store.add_feedback("old", "up", "thanks")
    store.add_feedback("old-repeat", "down", None)
    store.add_feedback("new", "down", None)

    deleted = purge_expired(store, 30, NOW)

    assert deleted == 3
    for gone in ("old", "old-repeat", "new-repeat-old"):
        with pytest.raises(QuestionNotFoundError):
            store.get(gone)
    assert store.get("new").down == 1
    with store.engine.connect() as connection:
        orphans = connection.execute(
            text(
                "SELECT (SELECT COUNT(*) FROM sources WHERE question_id != 'new')"
                " + (SELECT COUNT(*) FROM feedback WHERE question_id != 'new')"
            )
        ).scalar()
    assert orphans == 0
    assert [s.id for s in store.search("", 10, 0)[0]] == ["new"]


def test_a_question_with_a_curated_answer_is_kept(store: SQLQuestionStore) -> None:
    _save(store, "curated", OLD)
    _save(store, "plain", OLD, question="What is BM25?")
    store.put_curated("curated", "LoRA is low-rank adaptation [1].", [], "admin token")

    assert purge_expired(store, 30, NOW) == 1
    assert store.get("curated").curated is not None


def test_zero_days_keeps_everything(store: SQLQuestionStore) -> None:
    _save(store, "ancient", "2001-01-01T00:00:00+00:00")
    assert purge_expired(store, 0, NOW) == 0
    assert store.get("ancient").id == "ancient"


def test_the_cutoff_is_days_before_now_in_asked_at_format() -> None:
    assert retention_cutoff(30, NOW) == "2025-05-31T12:00:00+00:00"


def test_server_purges_at_start(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from askwiki.server.app import create_app
    from askwiki.settings import Settings
    from askwiki.testing.fake_embedder import fake_embedder

    store = SQLQuestionStore.open(f"sqlite:///{tmp_path / 'data' / 'questions.sqlite'}")
    _save(store, "ancient", "2001-01-01T00:00:00+00:00")
    store.close()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        index_dir=tmp_path / "indexes",
        data_dir=tmp_path / "data",
        question_retention_days=30,
    )
    with TestClient(create_app(settings, embedder=fake_embedder())) as client:
        questions = client.app.state.questions  # type: ignore[attr-defined]
        assert questions.search("", 10, 0) == ([], 0)


def test_db_purge_command_deletes_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASKWIKI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ASKWIKI_DATABASE_URL", raising=False)
    store = SQLQuestionStore.open(f"sqlite:///{tmp_path / 'data' / 'questions.sqlite'}")
    _save(store, "ancient", "2001-01-01T00:00:00+00:00")
    _save(store, "today", datetime.now(UTC).isoformat(timespec="seconds"), question="Today?")

    unset = CliRunner().invoke(app, ["db", "purge"])
    result = CliRunner().invoke(app, ["db", "purge", "--days", "30"])

    assert unset.exit_code != 0 and "ASKWIKI_QUESTION_RETENTION_DAYS" in unset.output
    assert result.exit_code == 0, result.output
    assert "Deleted 1 stored question(s) older than 30 day(s)" in result.output
    assert store.get("today").id == "today"
    store.close()
