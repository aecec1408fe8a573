"""The dense leg: FAISS inner product over normalised vectors, keyed by chunk row id."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

DENSE_FILE = "dense.faiss"
# Inverted lists above the threshold: ~4·√N lists trained on a sample of ~40 vectors per
# list (FAISS's own lower bound is 39). A query probes a fixed share of the lists: on
# vectors drawn like real e5 passages (bench/scale.py --vectors e5fit) recall@10 against
# exact search depends on the share scanned, not on the size (0.30: 0.985 at 100k).
IVF_LISTS_PER_ROOT = 4
IVF_TRAINING_PER_LIST = 40
IVF_PROBED_SHARE = 0.3
# Versions written before IVF used HNSW; they still open and search with this effort.
HNSW_EF_SEARCH = 96

Ids = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]


def ivf_lists(count: int) -> int:
    """How many inverted lists an index of ``count`` vectors gets (never more than vectors)."""
    return max(1, min(count, round(IVF_LISTS_PER_ROOT * math.sqrt(count))))


def ivf_probes(lists: int) -> int:
    """How many of ``lists`` inverted lists a query scans."""
    return max(1, math.ceil(IVF_PROBED_SHARE * lists))


def build_dense(vectors: Matrix, ids: Ids, dimension: int, approximate_from: int) -> faiss.Index:
    """Exact (flat) search below ``approximate_from`` vectors, inverted lists (IVF) above it."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    inner: faiss.Index
    if len(vectors) >= approximate_from:
        inner = _trained_ivf(vectors, dimension)
    else:
        inner = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIDMap2(inner)
    if len(vectors):
        index.add_with_ids(vectors, ids.astype(np.int64))
    return index


def _trained_ivf(vectors: Matrix, dimension: int) -> faiss.Index:
    lists = ivf_lists(len(vectors))
    sample_size = min(len(vectors), lists * IVF_TRAINING_PER_LIST)
    sample = np.random.default_rng(0).choice(len(vectors), sample_size, replace=False)
    quantizer = faiss.IndexFlatIP(dimension)
    ivf = faiss.IndexIVFFlat(quantizer, dimension, lists, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.min_points_per_centroid = 1  # a small index trains on all it has, silently
    logger.info("training %d inverted lists on %d of %d vectors", lists, sample_size, len(vectors))
    ivf.train(vectors[np.sort(sample)])
    ivf.nprobe = ivf_probes(lists)
    ivf.make_direct_map()  # retrieval reads stored vectors back by row id (reconstruct)
    return ivf


def index_kind(index: faiss.Index) -> str:
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    if isinstance(inner, faiss.IndexIVFFlat):
        return "ivf"
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
    if isinstance(inner, faiss.IndexIVFFlat):
        inner.nprobe = ivf_probes(inner.nlist)
    elif isinstance(inner, faiss.IndexHNSWFlat):
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
