"""The keyword leg: BM25 (bm25s) over jieba-segmented tokens, built at ingest time."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt

from askwiki.text import keyword_tokens

logger = logging.getLogger(__name__)

KEYWORD_DIR = "bm25"
ROW_IDS_FILE = "row_ids.npy"


class KeywordIndex:
    """BM25 scores over chunk tokens, with positions mapped back to chunk row ids."""

    def __init__(self, bm25: bm25s.BM25 | None, row_ids: npt.NDArray[np.int64]) -> None:
        self._bm25 = bm25
        self.row_ids = row_ids

    @classmethod
    def build(cls, rows: Iterable[tuple[int, list[str]]]) -> KeywordIndex:
        row_ids: list[int] = []
        corpus: list[list[str]] = []
        for row_id, tokens in rows:
            row_ids.append(row_id)
            # bm25s needs at least one token per document to keep positions aligned.
            corpus.append(tokens or [""])
        ids = np.asarray(row_ids, dtype=np.int64)
        if not corpus:
            return cls(None, ids)
        bm25 = bm25s.BM25()
        bm25.index(corpus, show_progress=False)
        return cls(bm25, ids)

    def save(self, folder: Path) -> None:
        target = folder / KEYWORD_DIR
        target.mkdir()
        np.save(target / ROW_IDS_FILE, self.row_ids, allow_pickle=False)
        if self._bm25 is not None:
            self._bm25.save(str(target), show_progress=False, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        source = folder / KEYWORD_DIR
        row_ids = np.load(source / ROW_IDS_FILE, allow_pickle=False)
        if len(row_ids) == 0:
            return cls(None, row_ids)
        return cls(bm25s.BM25.load(str(source), mmap=False, load_corpus=False), row_ids)

    def __len__(self) -> int:
        return len(self.row_ids)

    def document_frequency(self, tokens: list[str]) -> dict[str, int]:
        """How many chunks contain each token (0 for a token the index never saw)."""
        if self._bm25 is None:
            return dict.fromkeys(tokens, 0)
        vocab = self._bm25.vocab_dict
        indptr = self._bm25.scores["indptr"]
        counts: dict[str, int] = {}
        for token in tokens:
            column = vocab.get(token)
            # bm25s keeps one column per token: its entries are the chunks holding it.
            counts[token] = 0 if column is None else int(indptr[column + 1] - indptr[column])
        return counts

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Top ``k`` (row id, BM25 score) with a positive score."""
        return self.search_tokens(keyword_tokens(query), k)

    def search_tokens(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        """``search`` for tokens already made by ``keyword_tokens`` (or expanded from them)."""
        if self._bm25 is None or not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(self.row_ids[i]), float(scores[i])) for i in top if scores[i] > 0]
