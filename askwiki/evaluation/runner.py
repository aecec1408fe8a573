"""Run evaluation questions against an index (and optionally the answer service).

Retrieval is scored on the top ``depth`` (10) passages of the query the answer would
use: the question itself, or for a follow-up the standalone question the service
rewrote (retrieval-only runs join the last user turn and the question, the service's own
fallback, so that no LLM is needed). With an ``AnswerService`` each question is also
answered and the answer scored.

The "no relevant page" outcome is what a user sees as a refusal: the service answered
``no_answer`` (or, without answers, retrieval found no passage above the relevance floor,
which is exactly when the service refuses).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from askwiki.answering.service import AnswerService, to_sources
from askwiki.answering.types import Answer, Source
from askwiki.embedding.embedder import Embedder, Vectors
from askwiki.errors import AskwikiError
from askwiki.evaluation.dataset import BadLine, EvalQuestion
from askwiki.evaluation.metrics import (
    best_f1,
    contains_answer,
    first_hit_rank,
    hit_at,
    mean,
    normalized_golds,
    reciprocal_rank,
)
from askwiki.live_index import LiveIndex
from askwiki.llm.base import ChatMessage
from askwiki.retrieval import Retriever

logger = logging.getLogger(__name__)

DEPTH = 10
# (done, total) after each question: the CLI draws a progress bar with it.
EvalProgress = Callable[[int, int], None]
Mode = Literal["retrieval", "answers"]


@dataclass
class RetrievedPassage:
    """One passage of the top ``DEPTH`` and whether it is gold."""

    rank: int
    doc_id: str
    chunk_id: str
    gold: bool


@dataclass
class CitedSource:
    """A source the verified answer cites, and whether it is gold."""

    n: int
    doc_id: str
    gold: bool


@dataclass
class EvalRow:
    """Everything measured for one question; one line of the ``--out`` JSONL file."""

    line: int
    question: str
    answerable: bool
    query: str
    retrieved: list[RetrievedPassage] = field(default_factory=list)
    hit_rank: int | None = None
    refused: bool = False
    status: str | None = None
    answer: str | None = None
    correct: bool | None = None
    f1: float | None = None
    cited: list[CitedSource] = field(default_factory=list)
    closest: list[CitedSource] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvalSummary:
    """The aggregate metrics; ``None`` where a metric does not apply to this run."""

    mode: Mode
    questions: int
    answerable: int
    unanswerable: int
    bad_lines: int
    errors: int
    hit_at_1: float | None
    hit_at_5: float | None
    mrr_at_10: float | None
    no_answer_rate: float | None
    correct_refusals: int
    refusal_rate: float | None
    # Of the answerable questions refused, the share whose "closest pages" hold a gold one.
    closest_hit_rate: float | None = None
    answered: int | None = None
    answer_accuracy: float | None = None
    answer_f1: float | None = None
    citation_precision: float | None = None
    cited_sources: int | None = None
    answers_with_citation: float | None = None
    seconds: float = 0.0


@dataclass
class EvalReport:
    """Rows, lines that could not be read, and the summary."""

    rows: list[EvalRow]
    bad_lines: list[BadLine]
    summary: EvalSummary

    @property
    def failed(self) -> bool:
        """True when a line was unreadable or a question failed: the CLI exits non-zero."""
        return bool(self.bad_lines) or any(row.error for row in self.rows)


def fallback_query(question: str, history: Sequence[ChatMessage]) -> str:
    """The last user turn joined with the question (the service's fallback rewrite)."""
    last_user = next((m.content for m in reversed(history) if m.role == "user"), "")
    return f"{last_user} {question}".strip()


class EvalRunner:
    """Scores questions against ``live_index``; with ``service``, answers them too."""

    def __init__(
        self,
        live_index: LiveIndex,
        service: AnswerService | None = None,
        depth: int = DEPTH,
    ) -> None:
        self.live_index = live_index
        self.service = service
        self.depth = depth
        self._doc_paths: dict[str, str] = {}
        self._paths_version: str | None = None

    def _paths(self, retriever: Retriever) -> dict[str, str]:
        """Source file of each document of the searched version (read once per version)."""
        version = retriever.index.version
        if self._paths_version != version:
            documents = retriever.index.docstore.documents()
            self._doc_paths = {doc_id: doc.source for doc_id, doc in documents.items()}
            self._paths_version = version
        return self._doc_paths

    @property
    def mode(self) -> Mode:
        return "answers" if self.service is not None else "retrieval"

    def run(
        self,
        questions: Sequence[EvalQuestion],
        bad_lines: Sequence[BadLine] = (),
        progress: EvalProgress | None = None,
    ) -> EvalReport:
        """Evaluate every question in order; a failing question is recorded, not raised."""
        started = time.perf_counter()
        rows: list[EvalRow] = []
        for done, question in enumerate(questions, start=1):
            rows.append(self.evaluate(question))
            if progress is not None:
                progress(done, len(questions))
        summary = summarise(rows, self.mode, len(bad_lines))
        summary.seconds = round(time.perf_counter() - started, 3)
        return EvalReport(rows, list(bad_lines), summary)

    def evaluate(self, question: EvalQuestion) -> EvalRow:
        """One question's row; an ``AskwikiError`` (LLM down, index gone) becomes ``error``."""
        started = time.perf_counter()
        row = EvalRow(
            line=question.line,
            question=question.question,
            answerable=question.gold.answerable,
            query=question.question,
            extra=dict(question.extra),
        )
        try:
            if self.service is not None:
                answer = self.service.ask(question.question, question.history)
                row.query = answer.standalone_question or question.question
                retriever = self.live_index.retriever()
                self._score_retrieval(row, question, retriever)
                self._score_answer(row, question, answer, retriever)
            else:
                if question.history:
                    row.query = fallback_query(question.question, question.history)
                retriever = _embedding_once(self.live_index.retriever())
                self._score_retrieval(row, question, retriever)
                # The service answers from its own top_k search, which sees fewer candidates.
                served = retriever.search(row.query)
                row.refused = not served.relevant
                closest = to_sources(served.closest)
                row.closest = self._judge_sources(question, closest, retriever)
        except AskwikiError as exc:
            logger.warning("Question on line %d failed: %s", question.line, exc)
            row.error = str(exc)
        row.seconds = round(time.perf_counter() - started, 3)
        return row

    def _score_retrieval(self, row: EvalRow, question: EvalQuestion, retriever: Retriever) -> None:
        # Searched as the service searched it: with the (cached) translation when it made one.
        translation = self.service.translation(row.query, retriever) if self.service else None
        result = retriever.search(
            row.query, self.depth, translation=translation.text if translation else None
        )
        gold = question.gold
        paths = self._paths(retriever) if gold.sources else {}
        row.retrieved = [
            RetrievedPassage(
                rank=rank,
                doc_id=p.chunk.doc_id,
                chunk_id=p.id,
                gold=gold.answerable
                and gold.matches(p.chunk.doc_id, p.chunk.search_text, paths.get(p.chunk.doc_id)),
            )
            for rank, p in enumerate(result.passages, start=1)
        ]
        row.hit_rank = first_hit_rank([p.gold for p in row.retrieved])

    def _score_answer(
        self, row: EvalRow, question: EvalQuestion, answer: Answer, retriever: Retriever
    ) -> None:
        row.status = answer.status
        row.answer = answer.answer
        row.refused = answer.status == "no_answer"
        if answer.unsupported_removed:
            row.extra["unsupported_removed"] = answer.unsupported_removed
        if normalized_golds(question.answers):
            answered = answer.status != "no_answer"
            row.correct = answered and contains_answer(answer.answer, question.answers)
            row.f1 = round(best_f1(answer.answer, question.answers), 4) if answered else 0.0
        row.cited = self._judge_sources(
            question, [source for source in answer.sources if source.cited], retriever
        )
        row.closest = self._judge_sources(question, answer.closest, retriever)

    def _judge_sources(
        self, question: EvalQuestion, sources: Sequence[Source], retriever: Retriever
    ) -> list[CitedSource]:
        gold = question.gold
        paths = self._paths(retriever) if gold.sources else {}
        return [
            CitedSource(
                n=source.n,
                doc_id=source.doc_id,
                gold=gold.answerable
                and gold.matches(
                    source.doc_id, _source_text(source, retriever), paths.get(source.doc_id)
                ),
            )
            for source in sources
        ]


class _QueryMemo:
    """Embeds the last query once: a retrieval-only row searches it twice."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._last: tuple[tuple[str, ...], Vectors] | None = None

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        key = tuple(texts)
        if self._last is None or self._last[0] != key:
            self._last = (key, self._embedder.embed_queries(texts))
        return self._last[1]


def _embedding_once(retriever: Retriever) -> Retriever:
    memo = cast(Embedder, _QueryMemo(retriever.embedder))
    return Retriever(retriever.index, memo, retriever.options, retriever.reranker)


def _source_text(source: Source, retriever: Retriever) -> str:
    """The full text of a cited source (its excerpt is cut short), from the docstore."""
    texts: list[str] = []
    for chunk_id in source.chunk_ids or [source.id]:
        stored = retriever.index.docstore.chunk_by_id(chunk_id)
        if stored is not None:
            texts.append(stored.chunk.search_text)
    return "\n".join(texts) or source.excerpt


def summarise(rows: Sequence[EvalRow], mode: Mode, bad_lines: int = 0) -> EvalSummary:
    """Aggregate rows; rows with an error count only toward ``errors``."""
    valid = [row for row in rows if row.error is None]
    answerable = [row for row in valid if row.answerable]
    unanswerable = [row for row in valid if not row.answerable]
    ranks = [row.hit_rank for row in answerable]
    summary = EvalSummary(
        mode=mode,
        questions=len(rows),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        bad_lines=bad_lines,
        errors=len(rows) - len(valid),
        hit_at_1=mean([hit_at(rank, 1) for rank in ranks]),
        hit_at_5=mean([hit_at(rank, 5) for rank in ranks]),
        mrr_at_10=mean([reciprocal_rank(rank, 10) for rank in ranks]),
        no_answer_rate=mean([float(row.refused) for row in valid]),
        correct_refusals=sum(row.refused for row in unanswerable),
        refusal_rate=mean([float(row.refused) for row in unanswerable]),
        closest_hit_rate=mean(
            [float(any(c.gold for c in row.closest)) for row in answerable if row.refused]
        ),
    )
    if mode == "answers":
        judged = [row for row in answerable if row.correct is not None]
        cited = [source for row in answerable for source in row.cited]
        answered = [row for row in valid if row.status == "answered"]
        summary.answered = len(answered)
        summary.answer_accuracy = mean([float(bool(row.correct)) for row in judged])
        summary.answer_f1 = mean([row.f1 or 0.0 for row in judged])
        summary.cited_sources = len(cited)
        summary.citation_precision = mean([float(source.gold) for source in cited])
        summary.answers_with_citation = mean([float(bool(row.cited)) for row in answered])
    return summary
