"""The front door of every ask, whatever the endpoint: the answer service with a memory.

``QuestionDesk.stream`` has the same events as ``AnswerService.stream``. It takes one
snapshot of the live index per ask and embeds the question once, and hands both to the
service, so the cache key's index version is always the answer's. Before
answering it looks for an editor's curated answer (same meaning, any index version, no
conversation history), then for a cached answer (same meaning, same index version, same
language); after answering it stores the answer and attaches "Others are asking". When
the answer cannot be completed (LLM failure, missing index, the client going away) the
ask is stored with status ``failed`` and the error, and the exception goes on to the caller.
What it shows of other readers' asks (related questions, cached answers) is masked
(``askwiki.questions.public``).

An ask may carry a request id (nginx's ``$request_id``, the same on every retry of one
request). A retry whose earlier attempt stored its answer gets that answer back, and of
two attempts answering at once only one is stored: each request is logged exactly once.
Failed attempts are logged without the id, so the retry that succeeds is the one it names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from askwiki.answering.service import AnswerService
from askwiki.answering.types import (
    Answer,
    AnswerEvent,
    DoneEvent,
    RelatedQuestion,
    Source,
    SourcesEvent,
    TokenEvent,
    final_answer,
    new_answer_id,
)
from askwiki.embedding.embedder import Embedder
from askwiki.errors import AskwikiError
from askwiki.live_index import LiveIndex
from askwiki.llm.base import ChatMessage
from askwiki.privacy import mask_personal
from askwiki.questions.editors import (
    CURATED_MODEL,
    checked_sources,
    served_docstore,
    shown_answer,
)
from askwiki.questions.public import public_summary
from askwiki.questions.store import (
    CuratedAnswer,
    QuestionRecord,
    QuestionStore,
    QuestionSummary,
    Vector,
)
from askwiki.questions.text import normalize_question, question_path
from askwiki.store.docstore import Docstore
from askwiki.text import detect_language

logger = logging.getLogger(__name__)

RELATED_SIMILAR = 4
RELATED_RECENT = 2
CLOSED_EARLY = "The stream was closed before the answer was complete"


class AskObserver(Protocol):
    """Told how each ask went (the server's metrics)."""

    def answered(self, answer: Answer, first_token_s: float | None) -> None: ...

    def failed(self, error: Exception) -> None: ...


@dataclass
class _Ask:
    """What is known about one ask so far, enough to store it if it fails."""

    question: str
    asked_at: str
    started: float
    day: date
    vector: Vector | None = None
    index_version: str | None = None
    sources: list[Source] = field(default_factory=list)
    done: bool = False
    request_id: str | None = None


class QuestionDesk:
    """Wraps an ``AnswerService`` with the answer cache and the question log.

    ``today`` is read once per ask: the prompt states that date and the cache reuses only
    answers given on it.
    """

    def __init__(
        self,
        service: AnswerService,
        store: QuestionStore,
        embedder: Embedder,
        live_index: LiveIndex,
        *,
        today: Callable[[], date] = date.today,
        cache_similarity: float,
        base_url: str = "",
        related_similar: int = RELATED_SIMILAR,
        related_recent: int = RELATED_RECENT,
        observer: AskObserver | None = None,
        log_questions: bool = False,
    ) -> None:
        self.service = service
        self.store = store
        self.embedder = embedder
        self.live_index = live_index
        self.today = today
        self.cache_similarity = cache_similarity
        self.base_url = base_url.rstrip("/")
        self.related_similar = related_similar
        self.related_recent = related_recent
        self.observer = observer
        self.log_questions = log_questions

    @property
    def embedding_model(self) -> str:
        return self.embedder.name

    def url(self, question_id: str, question: str) -> str:
        """Link to a question's page; absolute when a public URL is configured."""
        return self.base_url + question_path(question_id, question)

    def ask(
        self,
        question: str,
        history: Sequence[ChatMessage] = (),
        top_k: int | None = None,
        *,
        fresh: bool = False,
        request_id: str | None = None,
    ) -> Answer:
        return final_answer(
            self.stream(question, history, top_k, fresh=fresh, request_id=request_id)
        )

    def stream(
        self,
        question: str,
        history: Sequence[ChatMessage] = (),
        top_k: int | None = None,
        *,
        fresh: bool = False,
        request_id: str | None = None,
    ) -> Generator[AnswerEvent, None, None]:
        """Events of one answer, cached or new; raises what the service raises, after logging.

        ``request_id`` names the request across retries (see the module's docstring).
        """
        ask = _Ask(
            question,
            datetime.now(UTC).isoformat(timespec="seconds"),
            time.perf_counter(),
            self.today(),
            request_id=request_id,
        )
        events: Iterator[AnswerEvent] | None = None
        try:
            earlier = self._earlier_attempt(ask)
            if earlier is not None:
                yield from self._repeat(earlier, ask)
                return
            retriever = self.live_index.retriever()
            ask.vector = self.embedder.embed_queries([question])[0]
            ask.index_version = retriever.index.version
            # An editor's answer outranks the model's, fresh or not; a follow-up depends on
            # the conversation, so it always goes through retrieval.
            curated = None if history else self._curated(ask)
            hit = None if fresh or history or curated else self._cached(ask)
            if curated is not None:
                events = self._serve_curated(curated, ask, retriever.index.docstore)
            elif hit is not None:
                events = self._replay(hit, ask)
            else:
                events = self.service.stream(
                    question,
                    history,
                    top_k,
                    question_vector=ask.vector,
                    retriever=retriever,
                    today=ask.day,
                )
            first_token: float | None = None
            for event in events:
                if isinstance(event, SourcesEvent):
                    ask.sources = list(event.sources)
                elif isinstance(event, TokenEvent) and first_token is None:
                    first_token = time.perf_counter() - ask.started
                elif isinstance(event, DoneEvent):
                    event = DoneEvent(self._complete(event.answer, ask))
                    if self.observer is not None:
                        self.observer.answered(event.answer, first_token)
                yield event
        except GeneratorExit:
            if not ask.done:
                self._store_failure(ask, CLOSED_EARLY)
            raise
        except Exception as exc:
            if not ask.done:
                self._store_failure(ask, str(exc) or type(exc).__name__)
                if self.observer is not None:
                    self.observer.failed(exc)
            raise
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def shown(self, record: QuestionRecord) -> Answer:
        """The answer readers see for a stored question: its curated answer, if any, with
        its sources checked against the served index."""
        return shown_answer(record, served_docstore(self.live_index))

    def related_to(self, record: QuestionRecord) -> list[RelatedQuestion]:
        """The "Others are asking" list of a stored question."""
        exclude = {record.id, *([record.answer.cached_from] if record.answer.cached_from else [])}
        return self._related(record.embedding, exclude, record.normalized)

    # -- internals ---------------------------------------------------------------------

    def _earlier_attempt(self, ask: _Ask) -> QuestionRecord | None:
        """The answer an earlier attempt of this request stored, if it asked the same."""
        if ask.request_id is None:
            return None
        earlier = self.store.find_request(ask.request_id)
        if earlier is not None and earlier.answer.question != ask.question:
            # A client reusing an id for another question: answer that question anew.
            logger.warning(
                "Request id %r came with another question; answering it without the id",
                ask.request_id,
            )
            ask.request_id = None
            return None
        return earlier

    def _repeat(self, earlier: QuestionRecord, ask: _Ask) -> Iterator[AnswerEvent]:
        """The stored answer of a retried request, as it was sent the first time."""
        answer = earlier.answer
        logger.info("Request %s retried: answer %s sent again", ask.request_id, answer.id)
        yield SourcesEvent(answer.sources)
        yield TokenEvent(answer.answer)
        answer.related = self.related_to(earlier)
        ask.done = True
        yield DoneEvent(answer)

    def _cached(self, ask: _Ask) -> QuestionRecord | None:
        if ask.index_version is None:
            return None
        hit = self.store.find_cached(
            normalize_question(ask.question),
            ask.vector,
            self.embedding_model,
            ask.index_version,
            self.cache_similarity,
            # The prompt states the date ("when is the next meetup?"): only today's answers.
            asked_between=_day_in_utc(ask.day),
        )
        # A near-duplicate in the other language would get an answer it cannot read.
        if hit is not None and hit.answer.language != detect_language(ask.question):
            return None
        return hit

    def _curated(self, ask: _Ask) -> CuratedAnswer | None:
        curated = self.store.find_curated(
            normalize_question(ask.question),
            ask.vector,
            self.embedding_model,
            self.cache_similarity,
        )
        if curated is not None and curated.language != detect_language(ask.question):
            return None
        return curated

    def _serve_curated(
        self, curated: CuratedAnswer, ask: _Ask, docstore: Docstore
    ) -> Iterator[AnswerEvent]:
        elapsed = round((time.perf_counter() - ask.started) * 1000, 1)
        answer = Answer(
            id=new_answer_id(),
            question=ask.question,
            answer=curated.answer,
            language=detect_language(ask.question),
            sources=checked_sources(curated, docstore),
            created_at=ask.asked_at,
            model=CURATED_MODEL,
            timings={"lookup_ms": elapsed, "total_ms": elapsed},
            generated=False,
            index_version=ask.index_version,
            cached=True,
            cached_from=curated.question_id,
            curated=True,
            reviewed_by=curated.reviewed_by,
        )
        logger.info("Answer %s is the curated answer of %s", answer.id, curated.question_id)
        yield SourcesEvent(answer.sources)
        yield TokenEvent(answer.answer)
        yield DoneEvent(answer)

    def _replay(self, hit: QuestionRecord, ask: _Ask) -> Iterator[AnswerEvent]:
        elapsed = round((time.perf_counter() - ask.started) * 1000, 1)
        original = hit.answer
        answer = replace(
            original,
            id=new_answer_id(),
            question=ask.question,
            # Written for another reader, whose details the model may have repeated.
            answer=mask_personal(original.answer),
            sources=[replace(s, chunk_ids=list(s.chunk_ids)) for s in original.sources],
            timings={"lookup_ms": elapsed, "total_ms": elapsed},
            standalone_question=None,
            cached=True,
            cached_from=original.id,
            related=[],
        )
        logger.info("Answer %s served from the cache of %s", answer.id, original.id)
        yield SourcesEvent(answer.sources)
        yield TokenEvent(answer.answer)
        yield DoneEvent(answer)

    def _complete(self, answer: Answer, ask: _Ask) -> Answer:
        vector = ask.vector
        if answer.standalone_question:
            vector = self.embedder.embed_queries([answer.standalone_question])[0]
        try:
            stored_id = self.store.save(
                answer,
                asked_at=ask.asked_at,
                embedding=vector,
                embedding_model=self.embedding_model,
                request_id=ask.request_id,
            )
            if stored_id != answer.id:
                # Another attempt of this request stored its answer first: that one is it.
                logger.info("Request %s already answered as %s", ask.request_id, stored_id)
                earlier = self.store.get(stored_id)
                answer, vector = earlier.answer, earlier.embedding
        except AskwikiError as exc:
            # Losing the log entry is better than losing the reader's answer.
            logger.error("Answer %s not logged: %s", answer.id, exc)
        if self.log_questions:
            logger.info("Answer %s (%s) to %r", answer.id, answer.status, answer.question)
        exclude = {answer.id, *([answer.cached_from] if answer.cached_from else [])}
        answer.related = self._related(vector, exclude, normalize_question(answer.question))
        ask.done = True
        return answer

    def _store_failure(self, ask: _Ask, error: str) -> None:
        elapsed = round((time.perf_counter() - ask.started) * 1000, 1)
        failed = Answer(
            id=new_answer_id(),
            question=ask.question,
            answer="",
            language=detect_language(ask.question),
            sources=ask.sources,
            created_at=ask.asked_at,
            model="",
            timings={"total_ms": elapsed},
            status="failed",
            generated=False,
            index_version=ask.index_version,
        )
        try:
            self.store.save(
                failed,
                asked_at=ask.asked_at,
                embedding=ask.vector,
                embedding_model=self.embedding_model,
                error=error,
            )
            logger.warning("Answer %s failed and was logged as failed: %s", failed.id, error)
        except AskwikiError as exc:
            logger.error("Failed answer %s not logged: %s", failed.id, exc)

    def _related(
        self, vector: Vector | None, exclude: set[str], normalized: str
    ) -> list[RelatedQuestion]:
        wanted = self.related_similar + self.related_recent
        try:
            similar = (
                self.store.similar(vector, self.embedding_model, exclude, wanted)
                if vector is not None
                else []
            )
            recent = self.store.recent(wanted, exclude)
        except AskwikiError as exc:
            logger.error("No related questions: %s", exc)
            return []
        seen = {normalized}
        chosen: list[QuestionSummary] = []
        for summary, cap in [(s, self.related_similar) for s in similar] + [
            (s, wanted) for s in recent
        ]:
            key = normalize_question(summary.question)
            if key in seen or len(chosen) >= cap:
                continue
            seen.add(key)
            chosen.append(summary)
        chosen = [public_summary(s) for s in chosen]
        return [
            RelatedQuestion(
                id=s.id,
                question=s.question,
                asked_at=s.asked_at,
                answer_snippet=s.answer_snippet,
                url=self.url(s.id, s.question),
            )
            for s in chosen
        ]


def _day_in_utc(day: date) -> tuple[str, str]:
    """Local midnight to midnight of ``day`` as ISO UTC times, the format ``asked_at`` uses."""
    start = datetime.combine(day, datetime.min.time()).astimezone()
    end = datetime.combine(day + timedelta(days=1), datetime.min.time()).astimezone()
    return (
        start.astimezone(UTC).isoformat(timespec="seconds"),
        end.astimezone(UTC).isoformat(timespec="seconds"),
    )
