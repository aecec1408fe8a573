"""Server-side citation checking: the model's ``[n]`` markers are verified, not trusted.

Each answer sentence is scored against every numbered source (lexical coverage of the
sentence's keywords plus embedding similarity). Markers that point to no source are
removed, markers whose source does not support the sentence are replaced by the source
that does, and supported sentences without a marker get one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from askwiki.text import detect_language, keyword_tokens

# [1], [1, 2], [1][2], 【1】, [^1], [source 1], [来源1]
MARKER = re.compile(
    r"[\[【]\s*(?:\^|source\s*|来源\s*|资料\s*)?(\d{1,2}(?:\s*[,，、]\s*\d{1,2})*)\s*[\]】]", re.I
)
# An English full stop ends a sentence only before a capital, a digit, CJK or the end,
# so "Hu et al. in 2021" stays one sentence.
_SENTENCE = re.compile(
    r".+?(?:[。！？；!?;]+|[.](?=\s+[A-Z0-9\[【\u4e00-\u9fff]|\s*$)|\n+|$)", re.S
)
_TRAILING = re.compile(r"[\s。！？；!?;.:：,，]*$")

SUPPORT_THRESHOLD = 0.35
# A marker the model chose is kept unless another source supports the sentence clearly better.
KEEP_RATIO = 0.75
COSINE_FLOOR = 0.75
COSINE_SPAN = 0.20
# multilingual-e5 puts an English sentence ~0.10 below its Chinese source compared with the
# same sentence in Chinese (0.82-0.84 vs 0.93-0.96 on real wiki sentences, while unrelated
# cross-language pairs stay under 0.80): a cross-language pair gets this much back.
CROSS_LANGUAGE_OFFSET = 0.10

EmbedFn = Callable[[Sequence[str]], npt.NDArray[np.float32]]
# Per source, the index's stored passage vectors of its chunks: shape (chunks, dim).
SourceVectors = Sequence[npt.NDArray[np.float32]]


@dataclass(frozen=True)
class CheckedAnswer:
    """The answer with verified markers and the numbers it cites, in first-use order."""

    text: str
    cited: list[int]
    corrections: int


def strip_markers(text: str) -> str:
    return MARKER.sub("", text)


def marker_numbers(text: str) -> list[int]:
    numbers: list[int] = []
    for match in MARKER.finditer(text):
        numbers.extend(int(n) for n in re.split(r"[,，、\s]+", match.group(1)) if n)
    return numbers


def split_answer(text: str) -> list[str]:
    """Sentences with their markers (a marker after the full stop stays with its sentence)."""
    pieces = [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0)]
    merged: list[str] = []
    for piece in pieces:
        if merged and MARKER.fullmatch(piece.strip() or "-"):
            merged[-1] += piece
        elif merged and re.match(r"^\s*" + MARKER.pattern, piece, re.I):
            head = MARKER.match(piece.lstrip())
            assert head is not None
            cut = len(piece) - len(piece.lstrip()) + head.end()
            merged[-1] += piece[:cut]
            merged.append(piece[cut:])
        else:
            merged.append(piece)
    return [p for p in merged if p]


def check_citations(
    answer: str, sources: Sequence[str], source_vectors: SourceVectors, embed: EmbedFn
) -> CheckedAnswer:
    """Verify, correct and attach ``[n]`` markers; ``sources[i]`` is source number i+1.

    Only the answer's sentences are embedded. A source's similarity to a sentence is that
    of its closest chunk, from the vectors already in the index: re-embedding a merged
    source would cost more and see only its first 512 tokens.
    """
    if not sources or not answer.strip():
        text = "".join(_place_markers(s, []) for s in split_answer(answer))
        return CheckedAnswer(text, [], len(marker_numbers(answer)))
    sentences = split_answer(answer)
    plain = [strip_markers(s).strip() for s in sentences]
    scored = [i for i, p in enumerate(plain) if len(keyword_tokens(p)) >= 2]
    support = _support_matrix([plain[i] for i in scored], sources, source_vectors, embed)
    rows = dict(zip(scored, support, strict=True))

    out: list[str] = []
    cited: list[int] = []
    corrections = 0
    for i, sentence in enumerate(sentences):
        claimed = [n for n in marker_numbers(sentence) if 1 <= n <= len(sources)]
        corrections += len(marker_numbers(sentence)) - len(claimed)
        chosen = _choose(claimed, rows.get(i))
        corrections += len(set(claimed) ^ set(chosen))
        out.append(_place_markers(sentence, chosen))
        cited.extend(n for n in chosen if n not in cited)
    return CheckedAnswer("".join(out), cited, corrections)


def _choose(claimed: list[int], support: npt.NDArray[np.float64] | None) -> list[int]:
    if support is None:
        # Too short to judge ("Yes.", a heading): keep whatever valid markers it had.
        return list(dict.fromkeys(claimed))
    best = int(np.argmax(support))
    best_score = float(support[best])
    if best_score < SUPPORT_THRESHOLD:
        return []
    kept = [n for n in dict.fromkeys(claimed) if support[n - 1] >= KEEP_RATIO * best_score]
    return kept or [best + 1]


def _support_matrix(
    sentences: Sequence[str], sources: Sequence[str], source_vectors: SourceVectors, embed: EmbedFn
) -> npt.NDArray[np.float64]:
    if not sentences:
        return np.zeros((0, len(sources)))
    sentence_vectors = embed(sentences)
    cosine = np.stack([(chunks @ sentence_vectors.T).max(axis=0) for chunks in source_vectors], 1)
    # An answer in one language written from a source in the other shares almost no words
    # with it, so such a pair is judged on meaning alone, with the model's language gap
    # given back; same-language pairs keep the word check.
    crossing = np.array(
        [[a != b for b in map(detect_language, sources)] for a in map(detect_language, sentences)],
        dtype=bool,
    ).reshape(len(sentences), len(sources))
    cosine = cosine + CROSS_LANGUAGE_OFFSET * crossing
    semantic = np.clip((cosine - COSINE_FLOOR) / COSINE_SPAN, 0.0, 1.0)
    source_tokens = [set(keyword_tokens(s)) for s in sources]
    lexical = np.zeros((len(sentences), len(sources)))
    for i, sentence in enumerate(sentences):
        tokens = set(keyword_tokens(sentence))
        for j, known in enumerate(source_tokens):
            lexical[i, j] = len(tokens & known) / len(tokens) if tokens else 0.0
    lexical = np.where(crossing, np.maximum(lexical, semantic), lexical)
    combined: npt.NDArray[np.float64] = 0.6 * lexical + 0.4 * semantic
    return combined


def _place_markers(sentence: str, numbers: list[int]) -> str:
    """Markers go before the sentence's closing punctuation: ``... distillation [1].``"""
    body = strip_markers(sentence)
    if not numbers:
        return re.sub(r"[ \t]+([。！？；!?;.,，])", r"\1", body)
    trailing = _TRAILING.search(body.rstrip("\n"))
    end = trailing.start() if trailing else len(body)
    newline = body[len(body.rstrip("\n")) :]
    core = body[:end].rstrip()
    tail = body.rstrip("\n")[end:].strip()
    space = "" if core and ord(core[-1]) > 0x2E80 else " "
    return core + space + "".join(f"[{n}]" for n in numbers) + tail + newline
