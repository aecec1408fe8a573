"""The question in the wiki's other language, asked of the LLM, for cross-language retrieval.

multilingual-e5 scores a question ~0.05 higher against a page in its own language, BM25
cannot match across languages, and the relevance floor's keyword coverage is near zero
across them. Translated, the question meets the other language's pages as same-language
evidence on all three. It costs one short LLM call before retrieval (time to first token),
so it is opt-in (``ASKWIKI_TRANSLATE_QUESTIONS``) and only made when the index holds both
languages; translations are cached per question text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from askwiki.errors import LLMError
from askwiki.llm.base import ChatMessage, LLMBackend
from askwiki.text import Language, detect_language

logger = logging.getLogger(__name__)

# A question is a sentence: 96 tokens hold the longest XQuAD question in either language.
MAX_TRANSLATION_TOKENS = 96
CACHE_SIZE = 1024
# A reply much longer than the question is the model answering it, not translating it.
MAX_LENGTH_RATIO = 4
MAX_EXTRA_CHARS = 80

OTHER: dict[Language, Language] = {"zh": "en", "en": "zh"}
_TARGET_NAME: dict[Language, str] = {"zh": "Simplified Chinese", "en": "English"}


def translate_messages(question: str, target: Language) -> list[ChatMessage]:
    """A short prompt: the translation only, names and terms kept, no answer."""
    name = _TARGET_NAME[target]
    return [
        ChatMessage(
            "system",
            f"Translate the user's question into {name}. Keep names, numbers and technical "
            "terms. Reply with the translated question only; do not answer it.",
        ),
        ChatMessage("user", question),
    ]


@dataclass(frozen=True)
class Translation:
    """``text`` is None when the LLM failed or replied with something unusable."""

    text: str | None
    language: Language
    seconds: float
    cached: bool


class QuestionTranslator:
    """Translates questions into the other language; thread-safe, bounded LRU cache."""

    def __init__(self, llm: Callable[[], LLMBackend], cache_size: int = CACHE_SIZE) -> None:
        """``llm`` gives the backend when first needed (the service creates it lazily)."""
        self._llm = llm
        self._cache: OrderedDict[str, str | None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def translate(self, question: str) -> Translation:
        target = OTHER[detect_language(question)]
        key = question.strip()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return Translation(self._cache[key], target, 0.0, cached=True)
        started = time.perf_counter()
        try:
            text = self._ask(key, target)
        except LLMError as exc:
            # Not cached: the next asking of the question may find the LLM back.
            logger.warning("Could not translate the question (%s); searching without", exc)
            return Translation(None, target, time.perf_counter() - started, cached=False)
        seconds = time.perf_counter() - started
        with self._lock:
            self._cache[key] = text
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return Translation(text, target, seconds, cached=False)

    def _ask(self, question: str, target: Language) -> str | None:
        reply = self._llm().chat(
            translate_messages(question, target),
            max_tokens=MAX_TRANSLATION_TOKENS,
            temperature=0.0,
        )
        return usable_translation(question, reply, target)


def usable_translation(question: str, reply: str, target: Language) -> str | None:
    """The reply's first line, if it is in ``target`` and not an answer in disguise."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    text = lines[0].strip("\"'“”「」") if lines else ""
    if not text or text == question:
        return None
    if len(text) > MAX_LENGTH_RATIO * len(question) + MAX_EXTRA_CHARS:
        return None
    if detect_language(text) != target:
        return None
    return text
