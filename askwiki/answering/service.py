"""The answer service: question -> retrieval -> LLM -> verified, cited answer.

``stream`` yields events (``sources`` first, ``token`` deltas, ``done`` with the final
answer); ``ask`` is the same run without the events. JSON, SSE, the OpenAI-compatible API
and the question log all receive the one ``Answer`` built here, so the numbering of
sources and citations is identical everywhere.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import numpy as np

from askwiki.answering.citations import check_citations, marker_numbers, strip_markers
from askwiki.answering.grounding import ground_answer
from askwiki.answering.judge import RelevanceJudge, best_page_lead, kept_by_verdict
from askwiki.answering.prompt import pack_prompt, rewrite_messages
from askwiki.answering.translation import QuestionTranslator, Translation
from askwiki.answering.types import (
    Answer,
    AnswerEvent,
    DoneEvent,
    Source,
    SourcesEvent,
    TokenEvent,
    final_answer,
    new_answer_id,
)
from askwiki.embedding.embedder import Embedder
from askwiki.errors import LLMError
from askwiki.evidence import term_weights
from askwiki.live_index import LiveIndex
from askwiki.llm.base import ChatMessage, LLMBackend
from askwiki.passages import Passage, first_per_page
from askwiki.retrieval import CLOSEST_PAGES, RetrievalResult, Retriever
from askwiki.settings import Settings
from askwiki.text import Language, detect_language

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 280
HEALTH_CACHE_S = 5.0
NO_ANSWER: dict[Language, str] = {
    "zh": "知识库中没有关于这个问题的页面，无法根据资料回答。",
    "en": "The wiki has no page about this, so it cannot be answered from the wiki.",
}
NO_SUPPORTED_ANSWER: dict[Language, str] = {
    "zh": "知识库的页面没有回答这个问题。下面是最接近的页面。",
    "en": "The wiki's pages do not answer this. These are the closest pages.",
}
EXTRACTIVE_NOTICE: dict[Language, str] = {
    "zh": "语言模型暂时不可用，以下是最相关的原文段落：",
    "en": "The language model is unavailable; here are the most relevant passages:",
}


def to_sources(passages: Sequence[Passage]) -> list[Source]:
    return [
        Source(
            n=n,
            id=p.id,
            doc_id=p.chunk.doc_id,
            title=p.chunk.title,
            section=p.chunk.section,
            url=p.chunk.url,
            excerpt=_excerpt(p.chunk.text),
            score=round(p.score, 6),
            page=p.chunk.page,
            chunk_ids=list(p.chunk_ids),
        )
        for n, p in enumerate(passages, start=1)
    ]


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1].rstrip() + "…"


class AnswerService:
    """Answers questions from the live index with an LLM backend (created lazily)."""

    def __init__(
        self,
        settings: Settings,
        live_index: LiveIndex,
        embedder: Embedder,
        llm_factory: Callable[[], LLMBackend],
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        """``today`` gives the date the prompt states (a fixed one for evaluation sets)."""
        self.settings = settings
        self.today = today
        self.live_index = live_index
        self.embedder = embedder
        self._llm_factory = llm_factory
        self._llm: LLMBackend | None = None
        self.translator = QuestionTranslator(lambda: self.llm)
        self.judge = RelevanceJudge(lambda: self.llm)
        self._reachable_at = -HEALTH_CACHE_S

    @property
    def llm(self) -> LLMBackend:
        if self._llm is None:
            self._llm = self._llm_factory()
        return self._llm

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def ask(
        self, question: str, history: Sequence[ChatMessage] = (), top_k: int | None = None
    ) -> Answer:
        return final_answer(self.stream(question, history, top_k))

    def stream(
        self,
        question: str,
        history: Sequence[ChatMessage] = (),
        top_k: int | None = None,
        question_vector: np.ndarray | None = None,
        retriever: Retriever | None = None,
        today: dt.date | None = None,
    ) -> Iterator[AnswerEvent]:
        """Events of one answer; raises ``LLMError`` when the LLM fails and no fallback is set.

        ``question_vector``, when the caller already embedded the question, is reused for
        retrieval unless a follow-up was rewritten into another question. ``retriever`` is
        the caller's snapshot of the live index (default: the one served now), ``today``
        the date the prompt states (default: the service's clock).
        """
        started = time.perf_counter()
        language = detect_language(question)
        standalone = self._standalone(question, history) if history else question
        retriever = retriever or self.live_index.retriever()
        vector = question_vector if standalone == question else None
        translation = self.translation(standalone, retriever)
        result = retriever.search(
            standalone,
            top_k,
            query_vector=vector,
            translation=translation.text if translation else None,
        )
        retrieved = time.perf_counter()
        answer = Answer(
            id=new_answer_id(),
            question=question,
            answer="",
            language=language,
            sources=[],
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            model="",
            timings={"retrieve_ms": round((retrieved - started) * 1000, 1)},
            standalone_question=standalone if standalone != question else None,
            index_version=retriever.index.version,
        )
        if translation is not None:
            # Part of retrieve_ms, and of the time to first token.
            answer.timings["translate_ms"] = round(translation.seconds * 1000, 1)
        if result.relevant and self._judging(result):
            result = self._judged(result, standalone, answer)
            retrieved = time.perf_counter()
        if not result.relevant and not self.settings.allow_unsupported_answers:
            answer.status = "no_answer"
            answer.generated = False
            answer.answer = NO_ANSWER[language]
            answer.closest = to_sources(result.closest)
            yield SourcesEvent([])
            yield DoneEvent(self._finish(answer, started, retrieved))
            return
        day = today or self.today()
        yield from self._generate(answer, standalone, retriever, result, day, started, retrieved)

    def _judging(self, result: RetrievalResult) -> bool:
        """Whether the LLM judges this search: ``ASKWIKI_RELEVANCE_JUDGE=llm``, and its best
        page leads the others by less than ``ASKWIKI_RELEVANCE_JUDGE_MAX_LEAD`` (0: always)."""
        settings = self.settings
        if settings.relevance_judge != "llm":
            return False
        limit = settings.relevance_judge_max_lead
        return limit <= 0 or best_page_lead(result) < limit

    def _judged(self, result: RetrievalResult, question: str, answer: Answer) -> RetrievalResult:
        """The search as the relevance judge leaves it: refused (its closest pages kept, as
        the floor's refusals), or only the passages the judge named."""
        verdict = self.judge.judge(question, [p.chunk for p in result.passages])
        answer.timings["judge_ms"] = round(verdict.seconds * 1000, 1)
        kept = kept_by_verdict(verdict, len(result.passages))
        if kept is None:
            logger.info("Answer %s: the relevance judge found no passage answering", answer.id)
            return result.refused()
        return replace(result, passages=[result.passages[i] for i in kept])

    def _generate(
        self,
        answer: Answer,
        question: str,
        retriever: Retriever,
        result: RetrievalResult,
        today: dt.date,
        started: float,
        retrieved: float,
    ) -> Iterator[AnswerEvent]:
        settings = self.settings
        try:
            llm = self.llm
            budget = min(
                settings.max_prompt_tokens,
                llm.context_tokens - settings.llm_max_answer_tokens,
            )
            packed = pack_prompt(
                question, answer.language, result.passages, llm.count_tokens, budget, today
            )
        except LLMError as exc:
            yield from self._fallback_or_raise(answer, result.passages, exc, started, retrieved)
            return
        try:
            self._check_reachable(llm)
        except LLMError as exc:
            yield from self._fallback_or_raise(answer, result.passages, exc, started, retrieved)
            return
        answer.sources = to_sources(packed.passages)
        answer.model = f"{llm.name}:{llm.model}"
        yield SourcesEvent(answer.sources)
        pieces: list[str] = []
        try:
            for delta in llm.stream_chat(
                packed.messages,
                max_tokens=settings.llm_max_answer_tokens,
                temperature=settings.llm_temperature,
            ):
                pieces.append(delta)
                yield TokenEvent(delta)
        except LLMError as exc:
            if pieces or settings.fallback != "extractive":
                raise
            yield from self._fallback_or_raise(answer, packed.passages, exc, started, retrieved)
            return
        checked = check_citations(
            "".join(pieces).strip(),
            [p.chunk.search_text for p in packed.passages],
            retriever.stored_vectors(packed.passages),
            self.embedder.embed_passages,
        )
        answer.corrections = checked.corrections
        if checked.corrections:
            logger.info("Answer %s: %d citation correction(s)", answer.id, checked.corrections)
        grounded = ground_answer(
            checked.text,
            [p.chunk.search_text for p in packed.passages],
            retriever.stored_vectors(packed.passages),
            self.embedder.embed_passages,
            lambda words: term_weights(
                words, retriever.index.keyword.document_frequency, len(retriever.index.keyword)
            ),
            question,
        )
        answer.unsupported_removed = grounded.unsupported_removed
        if grounded.unsupported_removed:
            logger.info(
                "Answer %s: %d sentence(s) not supported by their sources removed",
                answer.id,
                grounded.unsupported_removed,
            )
        if not grounded.answers and not settings.allow_unsupported_answers:
            # Nothing the sources support is left, or the model said they do not answer:
            # a refusal with the pages it saw, not an answer to show and to cache.
            answer.status = "no_answer"
            answer.answer = NO_SUPPORTED_ANSWER[answer.language]
            nearest = first_per_page(answer.sources, lambda s: s.doc_id)[:CLOSEST_PAGES]
            answer.closest = [replace(s, cited=False) for s in nearest]
            answer.sources = []
            yield DoneEvent(self._finish(answer, started, retrieved))
            return
        # With unsupported answers allowed, an answer grounding would empty is shown whole.
        answer.answer = grounded.text if grounded.answers else checked.text
        cited = set(marker_numbers(answer.answer))
        for source in answer.sources:
            source.cited = source.n in cited
        yield DoneEvent(self._finish(answer, started, retrieved))

    def _fallback_or_raise(
        self,
        answer: Answer,
        passages: Sequence[Passage],
        error: LLMError,
        started: float,
        retrieved: float,
    ) -> Iterator[AnswerEvent]:
        if self.settings.fallback != "extractive":
            raise error
        logger.warning("LLM failed (%s); answering with extracted passages", error)
        kept = list(passages[:3])
        answer.sources = to_sources(kept)
        for source in answer.sources:
            source.cited = True
        answer.status = "extractive"
        answer.generated = False
        answer.model = "extractive"
        lines = [EXTRACTIVE_NOTICE[answer.language]]
        lines += [f"\n> {strip_markers(p.chunk.text)} [{n}]" for n, p in enumerate(kept, 1)]
        answer.answer = "\n".join(lines)
        yield SourcesEvent(answer.sources)
        yield DoneEvent(self._finish(answer, started, retrieved))

    def _check_reachable(self, llm: LLMBackend) -> None:
        """Fail before the first event when the backend is down, so callers can answer 503.

        A success is remembered for a few seconds to keep the probe off the hot path.
        """
        now = time.monotonic()
        if now - self._reachable_at < HEALTH_CACHE_S:
            return
        report = llm.health()
        if not report["ok"]:
            raise LLMError(
                f"The {llm.name} LLM backend is unavailable: {report['detail']}", llm.name
            )
        self._reachable_at = now

    def translation(self, query: str, retriever: Retriever) -> Translation | None:
        """The query in the wiki's other language, when ``ASKWIKI_TRANSLATE_QUESTIONS`` is
        on and the index holds pages in a language other than the query's (cached per text)."""
        # A wiki in the other language only needs it most: its pages are all across.
        if not self.settings.translate_questions:
            return None
        if not retriever.index.languages.holds_other_than(detect_language(query)):
            return None
        return self.translator.translate(query)

    def _standalone(self, question: str, history: Sequence[ChatMessage]) -> str:
        """The follow-up rewritten with its conversation; on LLM failure, joined with it."""
        try:
            rewritten = self.llm.chat(
                rewrite_messages(question, history), max_tokens=64, temperature=0.0
            ).strip()
        except LLMError as exc:
            logger.warning("Could not rewrite follow-up question (%s); joining turns", exc)
            rewritten = ""
        rewritten = rewritten.splitlines()[0].strip() if rewritten else ""
        if not rewritten or len(rewritten) > 4 * len(question) + 200:
            last_user = next((m.content for m in reversed(history) if m.role == "user"), "")
            return f"{last_user} {question}".strip()
        return rewritten

    @staticmethod
    def _finish(answer: Answer, started: float, retrieved: float) -> Answer:
        finished = time.perf_counter()
        answer.timings["generate_ms"] = round((finished - retrieved) * 1000, 1)
        answer.timings["total_ms"] = round((finished - started) * 1000, 1)
        return answer
