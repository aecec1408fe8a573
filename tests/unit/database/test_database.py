"""The shared database on SQLite and PostgreSQL: migrations, their lock, ``askwiki db``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from askwiki.cli.main import app
from askwiki.database import current_revision, head_revision, open_engine, upgrade
from askwiki.database.tables import metadata
from askwiki.errors import ConfigError, QuestionLogError
from askwiki.questions import SQLQuestionStore
from tests.support.threads import run_at_once
from tests.unit.questions.conftest import make_answer, unit


def test_tables_module_matches_what_the_migrations_build(database_url: str) -> None:
    engine = open_engine(database_url)
    upgrade(engine)
    inspector = inspect(engine)

    for table in metadata.sorted_tables:
        built = {c["name"] for c in inspector.get_columns(table.name)}
        assert built == {c.name for c in table.columns}, table.name
    engine.dispose()


def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    engines = [open_engine(database_url) for _ in range(4)]

    reached = run_at_once(lambda n: upgrade(engines[n]), 4)

    assert reached == [head_revision()] * 4
    with engines[0].connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1
    for engine in engines:
        engine.dispose()


def _journal_modes_of_replicas_opening(url: str, replicas: int) -> list[str]:
    engines = [open_engine(url) for _ in range(replicas)]

    def journal_mode(n: int) -> str:
        with engines[n].connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar())

    modes = run_at_once(journal_mode, replicas)
    for engine in engines:
        engine.dispose()
    return modes


def test_replicas_opening_a_new_sqlite_file_together_all_get_wal(tmp_path: Path) -> None:
    # SQLite refuses a second journal-mode switch at once, busy timeout or not: one round
    # in five failed before the switch waited, so twenty rounds catch a regression.
    for round_ in range(20):
        url = f"sqlite:///{tmp_path / str(round_) / 'questions.sqlite'}"

        assert _journal_modes_of_replicas_opening(url, 4) == ["wal"] * 4


@pytest.mark.parametrize("url", ["mysql://root@127.0.0.1/test", "not a url", "redis://x"])
def test_unsupported_database_urls_are_refused_with_the_setting_named(url: str) -> None:
    with pytest.raises(ConfigError, match="ASKWIKI_DATABASE_URL"):
        open_engine(url)


def test_db_upgrade_command_reports_the_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.sqlite'}"

    result = CliRunner().invoke(app, ["db", "upgrade", "--url", url])

    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output
    assert current_revision(open_engine(url)) == head_revision()


def test_db_copy_moves_a_sqlite_log_into_postgresql_whole(
    tmp_path: Path, postgres_url: str
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'data' / 'questions.sqlite'}"
    source = SQLQuestionStore.open(sqlite_url)
    original = make_answer("What is LoRA?", id="a", closest=make_answer().sources)
    answers = [
        original,
        make_answer("what is lora", id="b", cached=True, cached_from="a"),
        make_answer("What is BM25?", id="c", status="no_answer", sources=[]),
    ]
    for n, answer in enumerate(answers):
        source.save(
            answer,
            asked_at=f"2025-06-0{n + 1}T00:00:00+00:00",
            embedding=unit(1, n),
            embedding_model="fake",
        )
    source.add_feedback("b", "down", "stale")
    source.close()

    result = CliRunner().invoke(app, ["db", "copy", "--url", sqlite_url, "--to", postgres_url])
    again = CliRunner().invoke(app, ["db", "copy", "--url", sqlite_url, "--to", postgres_url])

    assert result.exit_code == 0, result.output
    assert "3 questions" in result.output and "1 feedback" in result.output
    assert isinstance(again.exception, QuestionLogError)
    assert "already holds questions" in str(again.exception)
    copied = SQLQuestionStore.open(postgres_url)
    for answer in answers:
        assert asdict(copied.get(answer.id).answer) == asdict(answer)
    assert copied.get("a").down == 1
    assert [s.id for s in copied.search("", 10, 0)[0]] == ["c", "a"]  # newest first
    assert copied.get("c").embedding is not None
    copied.close()
