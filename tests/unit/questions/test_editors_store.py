"""Editors' controls in the question log (SQLite and PostgreSQL): hide, delete, curate, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from askwiki.errors import QuestionNotFoundError
from askwiki.questions import SQLQuestionStore
from askwiki.questions.store import QuestionFilter
from tests.unit.questions.conftest import make_answer, unit
from tests.unit.questions.test_store import MODEL, save

EDITOR = "admin token"


def _ids(summaries: object) -> list[str]:
    return [s.id for s in summaries]  # type: ignore[attr-defined]


def _log(store: SQLQuestionStore) -> None:
    """Two questions, the first asked twice (an original, a repeat of its text, a
    paraphrase served its cached answer) and voted on."""
    save(store, make_answer("What is LoRA?", id="lora"), unit(1, 0), "2025-06-01T10:00:00+00:00")
    save(store, make_answer("What is BM25?", id="bm25"), unit(0, 1), "2025-06-01T11:00:00+00:00")
    repeat = make_answer("what is LoRA", id="again", cached=True, cached_from="lora")
    save(store, repeat, unit(1, 0), "2025-06-01T12:00:00+00:00")
    paraphrase = make_answer("LoRA, what is it?", id="para", cached=True, cached_from="lora")
    save(store, paraphrase, unit(1, 0.05), "2025-06-01T13:00:00+00:00")
    store.add_feedback("para", "down", "wrong")


def test_a_hidden_question_leaves_every_public_read(store: SQLQuestionStore) -> None:
    _log(store)

    store.set_hidden("lora", True, EDITOR)

    assert _ids(store.recent(10)) == ["bm25"]
    assert _ids(store.popular(10)) == ["bm25"]
    assert store.search("", 10, 0)[1] == 1 and _ids(store.search("lora", 10, 0)[0]) == []
    assert _ids(store.similar(unit(1, 0), MODEL, set(), 10)) == ["bm25"]
    assert store.find_cached("whatislora", unit(1, 0), MODEL, "v1", 0.9) is None
    assert all(g.summary.id != "para" for g in store.gap_candidates(10))
    # Every ask of it is hidden, repeats included; editors still read them.
    assert all(store.get(i).hidden for i in ("lora", "again", "para"))
    assert not store.get("bm25").hidden


def test_showing_a_question_again_restores_it(store: SQLQuestionStore) -> None:
    _log(store)
    store.set_hidden("again", True, EDITOR)  # any ask of the text hides the question

    store.set_hidden("lora", False, EDITOR)

    assert sorted(_ids(store.recent(10))) == ["bm25", "lora"]
    assert not any(store.get(i).hidden for i in ("lora", "again", "para"))


def test_the_same_text_asked_after_hiding_is_stored_hidden(store: SQLQuestionStore) -> None:
    _log(store)
    store.set_hidden("lora", True, EDITOR)

    save(store, make_answer("WHAT is LoRA?!", id="later"), unit(1, 0))

    assert store.get("later").hidden and _ids(store.recent(10)) == ["bm25"]


def test_editors_list_shows_hidden_questions_marked_and_filters_them(
    store: SQLQuestionStore,
) -> None:
    _log(store)
    store.set_hidden("lora", True, EDITOR)

    everything, total = store.browse(QuestionFilter(), 10, 0)
    hidden, _ = store.browse(QuestionFilter(hidden=True), 10, 0)
    shown, _ = store.browse(QuestionFilter(hidden=False), 10, 0)

    assert total == 2 and {s.id: s.hidden for s in everything} == {"lora": True, "bm25": False}
    assert _ids(hidden) == ["lora"] and _ids(shown) == ["bm25"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (QuestionFilter(query="bm25"), ["bm25"]),
        (QuestionFilter(status="no_answer"), ["soup"]),
        (QuestionFilter(status="failed"), ["broken"]),
        (QuestionFilter(votes="down"), ["bm25"]),
        (QuestionFilter(votes="up"), ["lora"]),
        (QuestionFilter(votes="any"), ["bm25", "lora"]),
        (QuestionFilter(curated=True), ["lora"]),
        (QuestionFilter(curated=False, status="answered"), ["bm25"]),
    ],
)
def test_editors_list_filters(
    store: SQLQuestionStore, filters: QuestionFilter, expected: list[str]
) -> None:
    save(store, make_answer("What is LoRA?", id="lora"), unit(1, 0))
    save(store, make_answer("What is BM25?", id="bm25"), unit(0, 1))
    save(store, make_answer("Soup?", id="soup", status="no_answer", sources=[]))
    save(store, make_answer("Crash?", id="broken", status="failed", answer=""), error="down")
    store.add_feedback("lora", "up", None)
    store.add_feedback("bm25", "down", None)
    store.put_curated("lora", "LoRA adds low-rank matrices [1].", [], EDITOR)

    found, total = store.browse(filters, 10, 0)

    assert sorted(_ids(found)) == expected and total == len(expected)


def test_editors_list_carries_votes_and_the_curated_mark(store: SQLQuestionStore) -> None:
    _log(store)
    store.put_curated("lora", "Curated.", [], EDITOR)

    by_id = {s.id: s for s in store.browse(QuestionFilter(), 10, 0)[0]}

    # The paraphrase's thumbs-down counts for the answer it repeated.
    assert (by_id["lora"].down, by_id["lora"].curated, by_id["lora"].asks) == (1, True, 3)
    assert (by_id["bm25"].up, by_id["bm25"].down, by_id["bm25"].curated) == (0, 0, False)


def test_deleting_a_question_removes_every_trace_of_it(store: SQLQuestionStore) -> None:
    _log(store)
    store.put_curated("lora", "Curated.", make_answer().sources, EDITOR)

    deleted = store.delete_question("lora", EDITOR)

    assert deleted == 3
    for gone in ("lora", "again", "para"):
        with pytest.raises(QuestionNotFoundError):
            store.get(gone)
    with store.engine.connect() as conn:
        for table in ("sources", "feedback", "curated_answers", "curated_sources"):
            rows = conn.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE question_id != 'bm25'")
            ).scalar()
            assert rows == 0, table
    assert _ids(store.recent(10)) == ["bm25"] and store.get("bm25").answer.sources


@pytest.mark.parametrize("action", ["hide", "delete", "curate", "uncurate"])
def test_actions_on_an_unknown_question_raise_not_found_and_audit_nothing(
    store: SQLQuestionStore, action: str
) -> None:
    save(store, make_answer(id="known"))
    calls = {
        "hide": lambda: store.set_hidden("nope", True, EDITOR),
        "delete": lambda: store.delete_question("nope", EDITOR),
        "curate": lambda: store.put_curated("nope", "x", [], EDITOR),
        "uncurate": lambda: store.remove_curated("known", EDITOR),  # has none
    }

    with pytest.raises(QuestionNotFoundError):
        calls[action]()

    assert store.audit_log(10, 0) == []


def test_a_curated_answer_round_trips_and_replacing_it_keeps_its_creation_time(
    store: SQLQuestionStore,
) -> None:
    save(store, make_answer(id="lora"), unit(1, 0))
    sources = make_answer().sources

    first = store.put_curated("lora", "LoRA adds low-rank matrices [1].", sources, "alice")
    second = store.put_curated("lora", "Better [2].", sources[1:], "bob")

    assert first.sources == sources and first.reviewed_by == "alice"
    assert first.question == "What is LoRA?" and first.language == "en"
    assert store.get_curated("lora") == second
    assert (second.answer, second.reviewed_by, second.sources) == (
        "Better [2].",
        "bob",
        sources[1:],
    )
    assert second.created_at == first.created_at
    record = store.get("lora")
    assert record.curated == second and record.answer.answer != second.answer  # AI text kept


def test_a_repeat_carries_the_curated_answer_of_its_original(store: SQLQuestionStore) -> None:
    _log(store)
    store.put_curated("lora", "Curated.", [], EDITOR)

    assert store.get("para").curated is not None
    assert store.get("para").curated.question_id == "lora"  # type: ignore[union-attr]
    assert store.get("bm25").curated is None


def test_lists_show_the_curated_answer_as_the_snippet(store: SQLQuestionStore) -> None:
    _log(store)
    before = {s.id: s.answer_snippet for s in store.recent(10)}

    store.put_curated("lora", "An editor's answer about LoRA [1].", [], EDITOR)

    after = {s.id: s.answer_snippet for s in store.recent(10)}
    similar = {s.id: s.answer_snippet for s in store.similar(unit(1, 0), MODEL, set(), 10)}
    assert after["lora"] == similar["lora"] == "An editor's answer about LoRA."  # no markers
    assert before["lora"] != after["lora"]
    assert after["bm25"] == before["bm25"]  # other questions keep the AI's text


def test_removing_a_curated_answer(store: SQLQuestionStore) -> None:
    save(store, make_answer(id="lora"), unit(1, 0))
    store.put_curated("lora", "Curated.", make_answer().sources, EDITOR)

    store.remove_curated("lora", EDITOR)

    assert store.get_curated("lora") is None and store.get("lora").curated is None


@pytest.mark.parametrize(
    ("asked", "vector", "expected"),
    [
        ("whatislora", (0.0, 1.0), "lora"),  # the same text, whatever the embedding
        ("whatisloraexactly", (1.0, 0.05), "lora"),  # near-same: similar and shared wording
        ("whatisloraexactly", (1.0, 1.0), None),  # shared wording, another meaning
        ("whoinventedbm25", (1.0, 0.05), None),  # similar vector, other words
    ],
)
def test_a_curated_answer_is_found_by_the_cache_meaning_test_on_any_version(
    store: SQLQuestionStore, asked: str, vector: tuple[float, float], expected: str | None
) -> None:
    save(store, make_answer("What is LoRA?", id="lora", index_version="old"), unit(1, 0))
    save(store, make_answer("What is BM25?", id="bm25"), unit(1, 0.02))
    store.put_curated("lora", "Curated.", [], EDITOR)

    found = store.find_curated(asked, unit(*vector), MODEL, 0.95)

    assert (found.question_id if found else None) == expected


def test_a_hidden_question_serves_no_curated_answer(store: SQLQuestionStore) -> None:
    save(store, make_answer(id="lora"), unit(1, 0))
    store.put_curated("lora", "Curated.", [], EDITOR)
    store.set_hidden("lora", True, EDITOR)

    assert store.find_curated("whatislora", unit(1, 0), MODEL, 0.9) is None


def test_a_curated_question_is_no_longer_a_gap(store: SQLQuestionStore) -> None:
    save(store, make_answer("Soup?", id="soup", status="no_answer", sources=[]), unit(1, 0))
    assert _ids(c.summary for c in store.gap_candidates(10)) == ["soup"]

    store.put_curated("soup", "Soup is in the canteen wiki page.", [], EDITOR)

    assert store.gap_candidates(10) == []


def test_every_editor_action_is_audited_newest_first(store: SQLQuestionStore) -> None:
    _log(store)

    store.set_hidden("bm25", True, "alice")
    store.set_hidden("bm25", False, "alice")
    store.put_curated("lora", "Curated.", [], "bob")
    store.remove_curated("lora", "bob")
    store.delete_question("lora", "admin token")

    entries = store.audit_log(10, 0)

    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("admin token", "delete", "lora"),
        ("bob", "uncurate", "lora"),
        ("bob", "curate", "lora"),
        ("alice", "unhide", "bm25"),
        ("alice", "hide", "bm25"),
    ]
    assert entries[0].at >= entries[-1].at and entries[0].detail == "3 asks"
    assert [e.action for e in store.audit_log(2, 1)] == ["uncurate", "curate"]
    # A deleted question's text is not kept in the audit log.
    assert all("LoRA" not in e.detail for e in entries)
