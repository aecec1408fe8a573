from __future__ import annotations

import sqlite3
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from askwiki.answering.types import Source
from askwiki.database import current_revision, head_revision
from askwiki.errors import QuestionLogError, QuestionNotFoundError
from askwiki.questions import SQLQuestionStore
from tests.support.threads import run_at_once
from tests.unit.questions.conftest import make_answer, unit

MODEL = "fake-embedding"


def save(store: SQLQuestionStore, answer, vector=None, asked_at=None, error=None) -> None:  # type: ignore[no-untyped-def]
    store.save(
        answer,
        asked_at=asked_at or answer.created_at,
        embedding=vector,
        embedding_model=MODEL,
        error=error,
    )


def test_answer_round_trips_with_sources_and_embedding(store: SQLQuestionStore) -> None:
    answer = make_answer(
        "What rank does it use?", id="a1", standalone_question="What rank does LoRA use?"
    )
    vector = unit(1, 2, 3)
    save(store, answer, vector, asked_at="2025-06-02T08:00:00+00:00")

    record = store.get("a1")

    assert asdict(record.answer) == asdict(answer)
    assert record.asked_at == "2025-06-02T08:00:00+00:00"
    assert record.normalized == "whatrankdoesituse"
    assert record.embedding is not None and np.allclose(record.embedding, vector)
    assert record.embedding.dtype == np.float32
    assert record.error is None and (record.up, record.down) == (0, 0)


def test_a_no_page_answer_round_trips_with_its_closest_pages(
    store: SQLQuestionStore,
) -> None:
    near = make_answer().sources
    answer = make_answer("Bread?", id="b1", status="no_answer", sources=[], closest=near)
    save(store, answer)

    assert asdict(store.get("b1").answer) == asdict(answer)


# The question log as askwiki wrote it before Alembic (schema versions 1 and 2).
_SOURCE_COLUMNS = """(question_id TEXT NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    n INTEGER NOT NULL, source_id TEXT NOT NULL, doc_id TEXT NOT NULL, title TEXT NOT NULL,
    section TEXT NOT NULL, url TEXT, excerpt TEXT NOT NULL, score REAL NOT NULL,
    cited INTEGER NOT NULL, page INTEGER, chunk_ids TEXT NOT NULL, PRIMARY KEY (question_id, n))"""
_LEGACY_SCHEMA = [
    """CREATE TABLE questions (id TEXT PRIMARY KEY, question TEXT NOT NULL,
    normalized TEXT NOT NULL, standalone_question TEXT, language TEXT NOT NULL,
    status TEXT NOT NULL, answer TEXT NOT NULL, error TEXT, generated INTEGER NOT NULL,
    model TEXT NOT NULL, index_version TEXT, corrections INTEGER NOT NULL DEFAULT 0,
    timings TEXT NOT NULL, created_at TEXT NOT NULL, asked_at TEXT NOT NULL,
    cached_from TEXT REFERENCES questions(id), embedding BLOB, embedding_model TEXT)""",
    "CREATE INDEX questions_cache ON questions (normalized, index_version, status)",
    "CREATE INDEX questions_asked ON questions (asked_at)",
    "CREATE INDEX questions_cached_from ON questions (cached_from)",
    f"CREATE TABLE sources {_SOURCE_COLUMNS}",
    """CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id TEXT NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')), comment TEXT, created_at TEXT NOT NULL)""",
    "CREATE INDEX feedback_question ON feedback (question_id)",
    """CREATE VIEW root_votes AS SELECT COALESCE(q.cached_from, q.id) AS root,
    SUM(f.vote = 'up') AS up, SUM(f.vote = 'down') AS down
    FROM feedback f JOIN questions q ON q.id = f.question_id GROUP BY COALESCE(q.cached_from, q.id)""",
]


def _legacy_log(path: Path, version: int) -> None:
    """A log written by askwiki before Alembic: two answers (the newer a repeat) and a vote."""
    with sqlite3.connect(path) as conn:
        for statement in _LEGACY_SCHEMA:
            conn.execute(statement)
        if version >= 2:
            conn.execute(f"CREATE TABLE closest_pages {_SOURCE_COLUMNS}")
        conn.execute(f"PRAGMA user_version = {version}")
        for qid, question, cached_from in (
            ("old", "What is LoRA?", None),
            ("rep", "what is lora", "old"),
        ):
            conn.execute(
                "INSERT INTO questions (id, question, normalized, language, status, answer,"
                " generated, model, index_version, timings, created_at, asked_at, cached_from)"
                " VALUES (?, ?, 'whatislora', 'en', 'answered', 'LoRA trains [1].', 1, 'm', 'v1',"
                " '{}', '2025-06-01T10:00:00+00:00', '2025-06-01T10:00:00+00:00', ?)",
                (qid, question, cached_from),
            )
        conn.execute(
            "INSERT INTO sources VALUES ('old', 1, 'lora#0', 'lora.md', 'LoRA', 'LoRA', NULL,"
            " 'LoRA was...', 0.9, 1, NULL, '[]')"
        )
        conn.execute(
            "INSERT INTO feedback (question_id, vote, comment, created_at)"
            " VALUES ('rep', 'up', 'good', '2025-06-01T11:00:00+00:00')"
        )


@pytest.mark.parametrize("version", [1, 2])
def test_a_log_from_before_alembic_keeps_its_data_and_takes_new_rows(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "questions.sqlite"
    _legacy_log(path, version)

    store = SQLQuestionStore.open(f"sqlite:///{path}")
    near = make_answer().sources
    save(store, make_answer("Soup?", id="new", status="no_answer", sources=[], closest=near))

    old = store.get("old")
    assert old.answer.sources[0].excerpt == "LoRA was..." and old.answer.closest == []
    assert (old.up, old.down) == (1, 0)  # the vote on its repeat counts for it
    assert store.get("rep").answer.cached_from == "old"
    assert store.get("new").answer.closest == near
    assert [s.id for s in store.popular(5)] == ["old"] and store.popular(5)[0].asks == 2
    assert [s.id for s in store.search("", 10, 0)[0]] == ["new", "old"]  # newest first
    assert old.answer.unsupported_removed == 0  # a column the legacy log did not have
    assert current_revision(store.engine) == head_revision()
    store.close()


def test_the_count_of_sentences_grounding_removed_round_trips(store: SQLQuestionStore) -> None:
    save(store, make_answer(id="grounded", unsupported_removed=2))
    assert store.get("grounded").answer.unsupported_removed == 2


def test_schema_is_created_on_open_and_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "questions.sqlite"
    first = SQLQuestionStore.open(f"sqlite:///{path}")
    save(first, make_answer(id="kept"))
    first.close()

    second = SQLQuestionStore.open(f"sqlite:///{path}")
    assert second.get("kept").answer.question == "What is LoRA?"
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    second.close()
    assert mode == "wal"


def test_failed_answer_is_stored_as_failed_with_its_error(store: SQLQuestionStore) -> None:
    failed = make_answer(id="f1", answer="", status="failed", generated=False, model="")
    save(store, failed, error="connection refused at 127.0.0.1:9")

    record = store.get("f1")

    assert record.status == "failed" and record.error == "connection refused at 127.0.0.1:9"
    assert store.search("", 10, 0) == ([], 0)
    assert store.recent(10) == []


def test_answer_is_written_whole_or_not_at_all(store: SQLQuestionStore) -> None:
    source = make_answer().sources[0]
    broken = make_answer(id="half", sources=[source, replace(source)])  # duplicate n = 1

    with pytest.raises(QuestionLogError):
        save(store, broken)

    with pytest.raises(QuestionNotFoundError):
        store.get("half")
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM sources")).scalar() == 0


def test_unknown_id_raises_not_found(store: SQLQuestionStore) -> None:
    with pytest.raises(QuestionNotFoundError, match="nope"):
        store.get("nope")
    with pytest.raises(QuestionNotFoundError):
        store.add_feedback("nope", "up", None)


def test_many_threads_can_write_and_read_at_once(store: SQLQuestionStore) -> None:
    def work(worker: int) -> None:
        for n in range(10):
            answer = make_answer(f"Question {worker}-{n}?", id=f"t{worker}-{n}")
            save(store, answer, unit(worker + 1, n + 1))
            store.get(answer.id)
            store.recent(5)

    run_at_once(work, 8)

    assert store.search("", 100, 0)[1] == 80


def test_a_repeated_request_id_keeps_the_first_answer_and_writes_nothing(
    store: SQLQuestionStore,
) -> None:
    first = store.save(
        make_answer(id="first"), asked_at="t", embedding=None, embedding_model=None, request_id="r1"
    )
    again = store.save(
        make_answer(id="retry", sources=[]),
        asked_at="t",
        embedding=None,
        embedding_model=None,
        request_id="r1",
    )

    assert (first, again) == ("first", "first")
    with pytest.raises(QuestionNotFoundError):
        store.get("retry")
    found = store.find_request("r1")
    assert found is not None and found.id == "first" and len(found.answer.sources) == 2
    assert store.find_request("r2") is None


def test_asks_without_a_request_id_never_collide(store: SQLQuestionStore) -> None:
    ids = [
        store.save(make_answer(id=f"a{n}"), asked_at="t", embedding=None, embedding_model=None)
        for n in range(3)
    ]

    assert ids == ["a0", "a1", "a2"]
    assert store.search("", 10, 0)[1] == 1 and store.popular(1)[0].asks == 3


def test_concurrent_attempts_of_one_request_store_one_answer(store: SQLQuestionStore) -> None:
    def attempt(n: int) -> str:
        return store.save(
            make_answer(id=f"attempt{n}"),
            asked_at="t",
            embedding=None,
            embedding_model=None,
            request_id="same-request",
        )

    returned = run_at_once(attempt, 8)

    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT id FROM questions")).scalars().all()
        sources_rows = conn.execute(text("SELECT COUNT(*) FROM sources")).scalar()
    assert len(stored) == 1 and returned == stored * 8 and sources_rows == 2


def test_exact_normalised_match_is_found_for_same_index_version(
    store: SQLQuestionStore,
) -> None:
    save(store, make_answer("What is LoRA?", id="orig"), unit(1, 0))

    hit = store.find_cached("whatislora", unit(0, 1), MODEL, "v1", 0.95)
    other_version = store.find_cached("whatislora", unit(0, 1), MODEL, "v2", 0.95)

    assert hit is not None and hit.id == "orig"
    assert other_version is None


@pytest.mark.parametrize(
    ("vector", "expected"),
    [((1.0, 0.1), "orig"), ((1.0, 0.2), "orig"), ((1.0, 1.0), None), ((0.0, 1.0), None)],
)
def test_cosine_match_needs_the_threshold(
    store: SQLQuestionStore, vector: tuple[float, float], expected: str | None
) -> None:
    save(store, make_answer("How does LoRA work?", id="orig"), unit(1, 0))

    hit = store.find_cached("howdoesloraworkinpractice", unit(*vector), MODEL, "v1", 0.95)

    assert (hit.id if hit else None) == expected


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("whoinventedlora", "orig"),  # shares enough wording
        ("whatislora", None),  # e5-small rates it 0.97 alike, yet it is another question
        ("whichresearchersproposedlora", None),  # a paraphrase, but answered afresh
    ],
)
def test_cosine_match_also_needs_shared_wording(
    store: SQLQuestionStore, asked: str, expected: str | None
) -> None:
    save(store, make_answer("Who introduced LoRA?", id="orig"), unit(1, 0))

    hit = store.find_cached(asked, unit(1, 0.05), MODEL, "v1", 0.95)

    assert (hit.id if hit else None) == expected


@pytest.mark.parametrize(
    "fields",
    [{"status": "no_answer"}, {"status": "extractive"}, {"status": "failed"}],
)
def test_only_answered_originals_are_served_from_cache(
    store: SQLQuestionStore, fields: dict[str, str]
) -> None:
    save(store, make_answer(id="orig", **fields), unit(1, 0))
    assert store.find_cached("whatislora", unit(1, 0), MODEL, "v1", 0.5) is None


def test_answer_voted_down_is_no_longer_served_from_cache(store: SQLQuestionStore) -> None:
    save(store, make_answer(id="orig"), unit(1, 0))
    save(store, make_answer("what is lora", id="repeat", cached=True, cached_from="orig"))
    store.add_feedback("repeat", "down", "wrong")

    assert store.find_cached("whatislora", unit(1, 0), MODEL, "v1", 0.95) is None
    assert store.get("orig").down == 1  # votes on a repeat count for the original


def test_feedback_totals_and_comment_are_stored(store: SQLQuestionStore) -> None:
    save(store, make_answer(id="a"))
    store.add_feedback("a", "up", None)
    votes = store.add_feedback("a", "down", "missing the rank")

    assert (votes.up, votes.down) == (1, 1)
    with store.engine.connect() as conn:
        comments = conn.execute(text("SELECT comment FROM feedback")).scalars().all()
    assert "missing the rank" in comments


def test_similar_ranks_by_cosine_and_skips_excluded(store: SQLQuestionStore) -> None:
    save(store, make_answer("Near?", id="near"), unit(1, 0.1))
    save(store, make_answer("Far?", id="far"), unit(0, 1))
    save(store, make_answer("Self?", id="self"), unit(1, 0))

    similar = store.similar(unit(1, 0), MODEL, {"self"}, 5)

    assert [s.id for s in similar] == ["near", "far"]


def test_lists_show_one_entry_per_question_with_its_asks(store: SQLQuestionStore) -> None:
    save(store, make_answer("What is LoRA?", id="a", created_at="2025-06-01T00:00:00+00:00"))
    save(
        store,
        make_answer("what is lora", id="b", cached=True, cached_from="a"),
        asked_at="2025-06-03T00:00:00+00:00",
    )
    save(store, make_answer("What is BM25?", id="c", created_at="2025-06-02T00:00:00+00:00"))
    save(
        store,
        make_answer("Bread?", id="d", status="no_answer"),
        asked_at="2025-06-04T00:00:00+00:00",
    )

    assert [s.id for s in store.recent(10)] == ["c", "a"]
    popular = store.popular(10)
    assert [(s.id, s.asks) for s in popular] == [("a", 2), ("c", 1)]
    items, total = store.search("", 10, 0)
    assert [s.id for s in items] == ["d", "c", "a"] and total == 3
    assert items[2].answer_snippet == "LoRA trains low-rank matrices."


@pytest.mark.parametrize(
    ("query", "ids"),
    [("lora", ["a"]), ("LORA?", ["a"]), ("bm", ["c"]), ("100%", []), ("知识", ["z"])],
)
def test_search_matches_question_text(store: SQLQuestionStore, query: str, ids: list[str]) -> None:
    save(store, make_answer("What is LoRA?", id="a"))
    save(store, make_answer("What is BM25?", id="c"))
    save(store, make_answer("什么是知识蒸馏？", id="z", language="zh"))

    items, total = store.search(query, 10, 0)

    assert [s.id for s in items] == ids and total == len(ids)


def test_gap_candidates_are_no_answer_or_mostly_down(store: SQLQuestionStore) -> None:
    save(store, make_answer("Bread?", id="bread", status="no_answer"), unit(1, 0))
    save(store, make_answer("Liked?", id="liked"))
    save(store, make_answer("Disliked?", id="disliked"))
    save(store, make_answer("Mixed?", id="mixed"))
    store.add_feedback("liked", "up", None)
    store.add_feedback("disliked", "down", None)
    store.add_feedback("mixed", "down", None)
    store.add_feedback("mixed", "up", None)

    candidates = {c.summary.id: c for c in store.gap_candidates(50)}

    assert set(candidates) == {"bread", "disliked"}
    assert candidates["bread"].no_answer and candidates["bread"].embedding is not None
    assert candidates["disliked"].down == 1


def test_sources_keep_numbers_cited_flags_and_optional_fields(
    store: SQLQuestionStore,
) -> None:
    sources = [
        Source(3, "x#2", "x.md", "X", "X › A", None, "excerpt", 0.3),
        Source(1, "y#0", "y.pdf", "Y", "Y", "https://w/y.pdf#page=4", "e", 0.9, True, 4, ["a"]),
    ]
    save(store, make_answer(id="s", sources=sources))

    stored = store.get("s").answer.sources

    assert [(s.n, s.cited, s.page, s.url) for s in stored] == [
        (1, True, 4, "https://w/y.pdf#page=4"),
        (3, False, None, None),
    ]


def test_cache_lookup_can_be_limited_to_answers_asked_in_a_time_window(
    store: SQLQuestionStore,
) -> None:
    save(store, make_answer("What is LoRA?", id="old"), unit(1, 0), "2026-01-01T23:00:00+00:00")
    save(store, make_answer("What is LoRA?", id="new"), unit(1, 0.1), "2026-01-02T10:00:00+00:00")
    jan_2 = ("2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00")
    jan_1 = ("2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00")
    jan_3 = ("2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00")

    exact = store.find_cached("whatislora", None, None, "v1", 0.95, asked_between=jan_1)
    assert exact is not None and exact.id == "old"
    # By embedding, the closer but older answer is outside the window; the other one is in.
    near = store.find_cached(
        "whatisloraexactly", unit(1, 0), MODEL, "v1", 0.95, asked_between=jan_2
    )
    assert near is not None and near.id == "new"
    assert (
        store.find_cached("whatislora", unit(1, 0), MODEL, "v1", 0.95, asked_between=jan_3) is None
    )


def test_a_revoked_session_is_refused_until_it_expires_then_forgotten(
    store: SQLQuestionStore,
) -> None:
    store.revoke_session("old", expires=100, now=50)
    store.revoke_session("current", expires=10_000, now=50)
    store.revoke_session("current", expires=10_000, now=60)  # signed out twice: no error

    assert store.session_revoked("current") and store.session_revoked("old")
    assert not store.session_revoked("never-signed-out")

    store.revoke_session("later", expires=20_000, now=200)  # "old" has expired by now
    assert not store.session_revoked("old")
    assert store.session_revoked("current") and store.session_revoked("later")
