"""The dense leg: FAISS inner product over normalised vectors, keyed by chunk row id."""

from __future__ import annotations

import logging
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

DENSE_FILE = "dense.faiss"
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96

Ids = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]


def build_dense(vectors: Matrix, ids: Ids, dimension: int, hnsw_threshold: int) -> faiss.Index:
    """Exact (flat) search below ``hnsw_threshold`` vectors, HNSW graph search above it."""
    inner: faiss.Index
    if len(vectors) >= hnsw_threshold:
        hnsw = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        inner = hnsw
    else:
        inner = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIDMap2(inner)
    if len(vectors):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


def index_kind(index: faiss.Index) -> str:
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    return "hnsw" if isinstance(inner, faiss.IndexHNSWFlat) else "flat"


def all_vectors(index: faiss.Index) -> tuple[Ids, Matrix]:
    """Every (row id, vector) of an index, so a new version can reuse them unembedded."""
    count = index.ntotal
    if count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, index.d), dtype=np.float32)
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)  # type: ignore[attr-defined]
    vectors = index.index.reconstruct_n(0, count)  # type: ignore[attr-defined]
    return ids, np.asarray(vectors, dtype=np.float32)


def save_dense(index: faiss.Index, folder: Path) -> None:
    try:
        faiss.write_index(index, str(folder / DENSE_FILE))
    except RuntimeError as exc:  # faiss reports a full disk as RuntimeError
        raise OSError(f"cannot write {folder / DENSE_FILE}: {exc}") from exc


def load_dense(folder: Path) -> faiss.Index:
    index = faiss.read_index(str(folder / DENSE_FILE))
    inner = faiss.downcast_index(index.index)  # type: ignore[attr-defined]
    if isinstance(inner, faiss.IndexHNSWFlat):
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def search_dense(index: faiss.Index, query: Matrix, k: int) -> list[tuple[int, float]]:
    """Top ``k`` (row id, cosine) for one normalised query vector.

    One query runs on one OpenMP thread: FAISS's default team (one per core) spends more
    on waking and joining threads than it saves, and concurrent requests already fill the
    cores (10k vectors on 2 cores: 1.7 ms instead of 100 ms, ``bench/scale.py``). libgomp
    keeps the setting per calling thread, so index builds elsewhere keep every core.
    """
    if index.ntotal == 0:
        return []
    faiss.omp_set_num_threads(1)
    scores, ids = index.search(query.reshape(1, -1), min(k, index.ntotal))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
