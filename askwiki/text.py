"""Language-aware text helpers: sentence boundaries, keyword tokens, anchors, language."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

import opencc
import rjieba

Language = Literal["zh", "en"]

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# A sentence ends after Chinese terminators (with any closing quotes/brackets), after an
# ellipsis, or after . ! ? followed by whitespace; newlines also end a unit (lists, tables).
_SENTENCE_END = re.compile(r"[。！？；!?;…]+[\"'”’」』）)]*|(?<=[.?!])[\"'”’)]*(?=\s)|\n+")
_TOKEN_OK = re.compile(rf"^[0-9a-z{_CJK}][0-9a-z{_CJK}._+#-]*$")

_STOPWORDS = frozenset(
    """a an the and or but if then of to in on at by for with from as is are was were be been
    being it its this that these those what which who whom whose how why when where do does did
    can could should would will shall may might must i you he she we they me my your our their
    his her them us not no yes there here than so such into about over under also just only
    during while after before between each other some any all most more many much very
    usually typically often using use used
    的 了 是 在 和 与 及 或 而 也 就 都 又 被 把 让 给 对 从 向 以 之 其
    这 那 这个 那个 一个 什么 怎么 如何 为什么 哪些 哪个 吗 呢 吧 啊 么
    中 上 下 有 没有 我 你 他 她 它 我们 你们 他们 请 可以 能 会""".split()
)


def split_sentences(text: str) -> list[str]:
    """Split into sentences on Chinese and English terminators and line breaks.

    Each returned piece keeps its terminator; whitespace-only pieces are dropped.
    """
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end <= start:
            continue
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        start = end
    tail = text[start:].strip()
    if tail:
        pieces.append(tail)
    return pieces


# Stored in every index manifest. Change it whenever keyword_tokens changes its output:
# the writer then re-tokenizes every stored chunk, so queries and index agree again.
KEYWORD_TOKENIZER = "rjieba-stopwords-stem-t2s-2"

_TO_SIMPLIFIED: opencc.OpenCC | None = None


def to_simplified(text: str) -> str:
    """Traditional Chinese characters to simplified (OpenCC t2s); the rest unchanged.

    Keyword matching treats 知識蒸餾 and 知识蒸馏 as the same words: Taiwan and Hong Kong
    readers ask in traditional characters about pages written in simplified, and back.
    """
    global _TO_SIMPLIFIED
    if not _CJK_CHAR.search(text):
        return text
    if _TO_SIMPLIFIED is None:  # built on first use: importing this module stays cheap
        _TO_SIMPLIFIED = opencc.OpenCC("t2s")
    return str(_TO_SIMPLIFIED.convert(text))


def keyword_tokens(text: str) -> list[str]:
    """Tokens for the BM25 leg: jieba words for Chinese, lowercased words for the rest.

    Stopwords and punctuation are dropped so that "什么是知识蒸馏" and "知识蒸馏" score alike;
    traditional characters become simplified first, so "什麼是知識蒸餾" scores alike too.
    """
    normalized = to_simplified(unicodedata.normalize("NFKC", text)).lower()
    tokens: list[str] = []
    for raw in rjieba.cut(normalized):
        token = raw.strip()
        if not token or token in _STOPWORDS or not _TOKEN_OK.match(token):
            continue
        tokens.append(_stem(token))
    return tokens


def _stem(word: str) -> str:
    """A light English stemmer: "freezes"/"freeze" and "models"/"model" meet.

    Deliberately conservative (no Porter rules): BM25 needs the common inflections to
    match, not linguistic roots, and a wrong cut costs more than a missed one.
    """
    if len(word) <= 3 or not word.isascii() or not word.isalpha():
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def slugify(heading: str) -> str:
    """GitHub-style anchor for a heading: lowercase, punctuation dropped, spaces to '-'.

    CJK characters are kept, as GitHub, GitLab and most wiki engines do.
    """
    text = unicodedata.normalize("NFKC", heading).strip().lower()
    kept = [ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in ("L", "N")]
    return re.sub(r"\s", "-", "".join(kept))


def detect_language(text: str) -> Language:
    """'zh' when Chinese dominates the text, else 'en'.

    Two CJK characters count as one word, so "What is 知识蒸馏?" is English and
    "什么是LoRA?" is Chinese.
    """
    cjk = len(_CJK_CHAR.findall(text))
    latin_words = len(_LATIN_WORD.findall(text))
    return "zh" if cjk / 2 > latin_words else "en"


def cjk_ratio(text: str) -> float:
    """Share of non-space characters that are CJK ideographs."""
    chars = [ch for ch in text if not ch.isspace()]
    if not chars:
        return 0.0
    return len(_CJK_CHAR.findall(text)) / len(chars)
