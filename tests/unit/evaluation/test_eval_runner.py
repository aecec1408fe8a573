"""The eval runner with a fake embedder and a scripted LLM: rows, refusals, errors, summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from askwiki.answering.service import AnswerService
from askwiki.documents import Document, DocumentPart
from askwiki.embedding.embedder import Embedder
from askwiki.evaluation import EvalQuestion, EvalRow, EvalRunner, summarise
from askwiki.evaluation.runner import CitedSource, RetrievedPassage, fallback_query
from askwiki.live_index import LiveIndex
from askwiki.llm.base import ChatMessage
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"index_dir": tmp_path / "indexes", "min_dense_score": -1.0}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def live(tmp_path: Path, embedder: Embedder) -> LiveIndex:
    settings = _settings(tmp_path)
    build_index(settings.index_path, WIKI_PAGES, embedder)
    index = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    index.load()
    return index


LORA = EvalQuestion("When was LoRA introduced?", ("2021",), ("models/lora.md",), line=1)


def test_retrieval_row_ranks_the_first_gold_passage(live: LiveIndex) -> None:
    report = EvalRunner(live).run([LORA])
    row = report.rows[0]
    assert row.retrieved, row
    gold_ranks = [p.rank for p in row.retrieved if p.doc_id == "models/lora.md"]
    assert row.hit_rank == gold_ranks[0]
    assert [p.rank for p in row.retrieved] == list(range(1, len(row.retrieved) + 1))
    assert row.refused is False
    assert row.status is None and row.correct is None
    assert report.summary.mode == "retrieval"
    assert report.summary.answer_accuracy is None
    assert not report.failed


def test_follow_up_without_llm_searches_the_joined_turns(live: LiveIndex) -> None:
    question = EvalQuestion(
        "And its usual rank?", history=(ChatMessage("user", "What is LoRA?"),), line=3
    )
    row = EvalRunner(live).evaluate(question)
    assert row.query == "What is LoRA? And its usual rank?"
    assert fallback_query("q", [ChatMessage("assistant", "a")]) == "q"


def test_nothing_above_the_relevance_floor_is_a_refusal(tmp_path: Path, embedder: Embedder) -> None:
    settings = _settings(tmp_path, min_dense_score=1.0, min_hybrid_score=3.0)
    build_index(settings.index_path, WIKI_PAGES, embedder)
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    unanswerable = EvalQuestion("Who won the 2022 World Cup?", line=2)
    report = EvalRunner(live).run([LORA, unanswerable])
    assert [row.refused for row in report.rows] == [True, True]
    assert [row.hit_rank for row in report.rows] == [None, None]
    assert report.summary.no_answer_rate == 1.0
    assert report.summary.correct_refusals == 1
    assert report.summary.refusal_rate == 1.0
    assert report.summary.hit_at_5 == 0.0
    lora, world_cup = report.rows
    assert lora.closest[0].doc_id == "models/lora.md"
    assert [c.gold for c in lora.closest] == [c.doc_id == "models/lora.md" for c in lora.closest]
    assert world_cup.closest and not any(c.gold for c in world_cup.closest)
    assert report.summary.closest_hit_rate == 1.0  # of the one answerable refusal


def test_answers_mode_judges_the_closest_pages_of_a_refusal(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = _settings(tmp_path, min_dense_score=1.0, min_hybrid_score=3.0)
    build_index(settings.index_path, WIKI_PAGES, embedder)
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    bm25 = EvalQuestion("What does k1 control?", ("saturation",), ("retrieval/bm25.md",), line=1)
    service = AnswerService(settings, live, embedder, lambda: FakeLLM(["unused"]))

    report = EvalRunner(live, service).run([bm25, LORA])

    assert [row.status for row in report.rows] == ["no_answer", "no_answer"]
    assert [[c.gold for c in row.closest].count(True) for row in report.rows] == [1, 1]
    assert report.rows[0].closest[0].doc_id == "retrieval/bm25.md"
    assert report.summary.closest_hit_rate == 1.0


def test_answers_mode_scores_the_answer_and_its_citations(
    tmp_path: Path, live: LiveIndex, embedder: Embedder
) -> None:
    llm = FakeLLM(["LoRA was introduced by Hu et al. in 2021 [1]."])
    service = AnswerService(_settings(tmp_path), live, embedder, lambda: llm)
    report = EvalRunner(live, service).run([LORA])
    row = report.rows[0]
    assert row.status == "answered"
    assert row.correct is True
    assert row.f1 is not None and 0 < row.f1 < 1
    assert row.cited and all(source.doc_id == "models/lora.md" for source in row.cited)
    assert all(source.gold for source in row.cited)
    assert report.summary.answer_accuracy == 1.0
    assert report.summary.citation_precision == 1.0
    assert report.summary.answers_with_citation == 1.0


def test_a_failing_llm_is_an_error_row_not_a_crash(
    tmp_path: Path, live: LiveIndex, embedder: Embedder
) -> None:
    llm = FakeLLM(fail_with="backend down")
    service = AnswerService(_settings(tmp_path), live, embedder, lambda: llm)
    progress: list[tuple[int, int]] = []
    report = EvalRunner(live, service).run(
        [LORA, LORA], progress=lambda d, t: progress.append((d, t))
    )
    assert [row.error for row in report.rows] == ["backend down", "backend down"]
    assert report.failed
    assert report.summary.errors == 2
    assert report.summary.answer_accuracy is None
    assert progress == [(1, 2), (2, 2)]


def _row(**values: Any) -> EvalRow:
    base: dict[str, Any] = {"line": 1, "question": "q", "answerable": True, "query": "q"}
    base.update(values)
    return EvalRow(**base)


def _cited(*gold: bool) -> list[CitedSource]:
    return [CitedSource(n, f"d{n}", g) for n, g in enumerate(gold, start=1)]


def test_summary_of_literal_rows() -> None:
    rows = [
        _row(hit_rank=1, status="answered", correct=True, f1=1.0, cited=_cited(True)),
        _row(hit_rank=3, status="answered", correct=False, f1=0.5, cited=_cited(True, False)),
        _row(hit_rank=None, status="answered", correct=False, f1=0.0, cited=[]),
        _row(hit_rank=None, status="no_answer", refused=True, correct=False, f1=0.0),
        _row(answerable=False, status="no_answer", refused=True),
        _row(answerable=False, status="answered", cited=_cited(False)),
        _row(error="LLM down"),
    ]
    summary = summarise(rows, "answers", bad_lines=2)
    assert summary.questions == 7
    assert (summary.answerable, summary.unanswerable) == (4, 2)
    assert (summary.errors, summary.bad_lines) == (1, 2)
    assert summary.hit_at_1 == 0.25
    assert summary.hit_at_5 == 0.5
    assert summary.mrr_at_10 == pytest.approx((1 + 1 / 3) / 4)
    assert summary.answered == 4
    assert summary.answer_accuracy == 0.25
    assert summary.answer_f1 == pytest.approx(1.5 / 4)
    # Citations are judged on answerable questions only: 2 gold of 3 cited.
    assert summary.cited_sources == 3
    assert summary.citation_precision == pytest.approx(2 / 3)
    # Answers with status "answered" (answerable or not): 3 of 4 cite something.
    assert summary.answers_with_citation == 0.75
    assert summary.no_answer_rate == pytest.approx(2 / 6)
    assert (summary.correct_refusals, summary.refusal_rate) == (1, 0.5)


def test_summary_without_answerable_questions_has_no_rank_metrics() -> None:
    summary = summarise([_row(answerable=False, refused=True)], "retrieval")
    assert (summary.hit_at_1, summary.hit_at_5, summary.mrr_at_10) == (None, None, None)
    assert summary.answer_accuracy is None
    assert summary.correct_refusals == 1


def test_rows_serialise_to_plain_dicts() -> None:
    row = _row(retrieved=[RetrievedPassage(1, "a.md", "a.md#0:x", True)], hit_rank=1)
    data = row.as_dict()
    assert data["retrieved"] == [
        {"rank": 1, "doc_id": "a.md", "chunk_id": "a.md#0:x", "gold": True}
    ]
    assert data["hit_rank"] == 1


def test_a_gold_source_path_matches_a_page_with_a_declared_id(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = _settings(tmp_path)
    declared = Document(
        "lora-notes",
        "LoRA",
        (DocumentPart("LoRA was introduced by Hu et al. in 2021."),),
        "/srv/wiki/models/lora.md",
        "markdown",
    )
    build_index(settings.index_path, [declared], embedder)
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    question = EvalQuestion("When was LoRA introduced?", sources=("wiki/models/lora.md",))
    row = EvalRunner(live).evaluate(question)
    assert [p.doc_id for p in row.retrieved] == ["lora-notes"]
    assert row.hit_rank == 1


def test_answers_mode_ranks_the_gold_page_as_the_service_searched_it_translated(
    tmp_path: Path, live: LiveIndex, embedder: Embedder
) -> None:
    question = EvalQuestion("低秩适配是哪一年提出的？", ("2021",), ("models/lora.md",), line=1)
    llm = FakeLLM(["When was LoRA introduced?", "LoRA 于 2021 年提出 [1]。"])
    settings = _settings(tmp_path, translate_questions=True)
    translated = EvalRunner(live, AnswerService(settings, live, embedder, lambda: llm))
    untranslated = EvalRunner(live)

    row = translated.evaluate(question)

    assert row.hit_rank == 1
    assert untranslated.evaluate(question).hit_rank != 1
    assert len(llm.calls) == 2  # one translation (reused when scoring) and one answer
