"""An opt-in LLM relevance judge: do the passages the floor let through answer the question?

The relevance floor judges cosines and keyword coverage. On a wiki of long pages that
restate each other (the GitLab Handbook), a question whose page is missing still meets
passages as close as the answer's would be, and no rule on those features reaches 0.9
refused while keeping 0.9 (``bench/floor.py``). The embedded LLM reads the passages
instead: after the floor passes a question, it is asked which of the first
``JUDGED_PASSAGES`` passages answer it, each cut to its title, heading and the sentences
that share the most words with the question (every ~50 prompt tokens cost ~1 s on 2 CPU
cores). A reply naming none turns the question into a refusal; a reply naming some keeps
those (a cheap rerank); a reply that names nothing readable, or a failed call, leaves the
floor's decision as it was. ``ASKWIKI_RELEVANCE_JUDGE=llm`` turns it on.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from askwiki.documents import SECTION_SEPARATOR, Chunk
from askwiki.errors import LLMError
from askwiki.llm.base import ChatMessage, LLMBackend
from askwiki.passages import page_key
from askwiki.retrieval import RetrievalResult
from askwiki.standout import page_standout
from askwiki.text import Language, detect_language, keyword_tokens, split_sentences

logger = logging.getLogger(__name__)

# The answer's passage is among the floor's first three far more often than further down,
# and each passage shown costs ~2 s of prompt on 2 cores.
JUDGED_PASSAGES = 3
# Per passage, after its heading: ~60-90 tokens of the model's in either language.
EXCERPT_CHARS: dict[Language, int] = {"zh": 120, "en": 320}
HEADING_CHARS = 80
# "1,2,3" and a stray word fit; the reply is cut there whatever the model meant to add.
MAX_VERDICT_TOKENS = 8

SYSTEM_PROMPTS: dict[Language, str] = {
    "zh": (
        "你检查检索结果。只回复能回答问题的段落编号，用逗号分隔，例如：2 或 1,3。"
        "如果没有段落能回答问题，回复 0。不要写其他内容。"
    ),
    "en": (
        "You check search results. Reply only with the numbers of the passages that answer "
        "the question, separated by commas, for example: 2 or 1,3. If no passage answers "
        "the question, reply 0. Write nothing else."
    ),
}
QUESTION_LABELS: dict[Language, str] = {"zh": "问题", "en": "Question"}

_NUMBER = re.compile(r"\d+")
_NONE = re.compile(r"\b(?:none|no|neither)\b|没有|无|都不", re.IGNORECASE)


def judge_excerpt(chunk: Chunk, question_keywords: set[str], language: Language) -> str:
    """The chunk's heading path and, within ``EXCERPT_CHARS``, its sentences sharing the most
    words with the question, in the chunk's order."""
    heading = chunk.section or chunk.title
    if len(heading) > HEADING_CHARS:
        heading = "…" + heading[-(HEADING_CHARS - 1) :].split(SECTION_SEPARATOR, 1)[-1]
    budget = EXCERPT_CHARS[language]
    sentences = split_sentences(" ".join(chunk.text.split()))
    overlap = [len(question_keywords & set(keyword_tokens(s))) for s in sentences]
    # The most overlapping first, earlier ones breaking ties.
    order = sorted(range(len(sentences)), key=lambda i: (-overlap[i], i))
    chosen: set[int] = set()
    used = 0
    for i in order:
        if used and used + len(sentences[i]) > budget:
            continue
        chosen.add(i)
        used += len(sentences[i])
        if used >= budget:
            break
    body = " ".join(sentences[i] for i in sorted(chosen))
    if len(body) > budget:
        body = body[: budget - 1].rstrip() + "…"
    return f"{heading}: {body}" if heading else body


def judge_messages(question: str, chunks: Sequence[Chunk]) -> list[ChatMessage]:
    """The judge's prompt, in the question's language: numbered excerpts, then the question."""
    language = detect_language(question)
    keywords = set(keyword_tokens(question))
    lines = [
        f"[{n}] {judge_excerpt(chunk, keywords, language)}" for n, chunk in enumerate(chunks, 1)
    ]
    body = "\n".join(lines) + f"\n\n{QUESTION_LABELS[language]}: {question}"
    return [ChatMessage("system", SYSTEM_PROMPTS[language]), ChatMessage("user", body)]


def parse_verdict(reply: str, count: int) -> tuple[int, ...] | None:
    """The passage numbers (1-based, in the reply's order) a reply names; ``()`` when it says
    none answers (0, "none", "没有"); None when it is unreadable (empty, or only numbers
    that name no passage shown), so that the floor's decision stands."""
    numbers = [int(n) for n in _NUMBER.findall(reply)]
    named = tuple(dict.fromkeys(n for n in numbers if 1 <= n <= count))
    if named:
        return named
    if 0 in numbers or (not numbers and _NONE.search(reply)):
        return ()
    return None


@dataclass(frozen=True)
class Verdict:
    """``answering``: 1-based numbers of the passages that answer, ``()`` for none, None when
    the judge could not tell (unreadable reply or failed call)."""

    answering: tuple[int, ...] | None
    reply: str
    seconds: float


class RelevanceJudge:
    """Asks the LLM which passages answer a question (one short call at temperature 0)."""

    def __init__(self, llm: Callable[[], LLMBackend]) -> None:
        """``llm`` gives the backend when first needed (the service creates it lazily)."""
        self._llm = llm

    def judge(self, question: str, chunks: Sequence[Chunk]) -> Verdict:
        shown = list(chunks[:JUDGED_PASSAGES])
        started = time.perf_counter()
        try:
            reply = self._llm().chat(
                judge_messages(question, shown), max_tokens=MAX_VERDICT_TOKENS, temperature=0.0
            )
        except LLMError as exc:
            logger.warning("The relevance judge failed (%s); keeping the floor's decision", exc)
            return Verdict(None, "", time.perf_counter() - started)
        seconds = time.perf_counter() - started
        answering = parse_verdict(reply, len(shown))
        if answering is None:
            logger.info("Unreadable relevance verdict %r; keeping the floor's decision", reply)
        return Verdict(answering, reply, seconds)


def kept_by_verdict(verdict: Verdict, count: int) -> list[int] | None:
    """0-based indexes of the passages to keep among ``count``, or None to refuse.

    Passages the judge named come first, in its order; when it could not tell, all stay.
    The judge only saw the first ``JUDGED_PASSAGES``: once it names some, the rest go too.
    """
    if verdict.answering is None:
        return list(range(count))
    if not verdict.answering:
        return None
    return [n - 1 for n in verdict.answering if n <= count]


def best_page_lead(result: RetrievalResult) -> float:
    """How far the first passing passage's page leads the best other candidate pages in
    cosine (``standout.page_standout``; ``inf`` when the candidates are all one page)."""
    if not result.passages:
        return 0.0
    cosines = {p.row_id: p.dense_score for p in result.candidates}
    pages = {p.row_id: page_key(p.chunk) for p in result.candidates}
    first = result.passages[0]
    cosines.setdefault(first.row_id, first.dense_score)
    pages.setdefault(first.row_id, page_key(first.chunk))
    return page_standout(cosines, pages)[first.row_id]
