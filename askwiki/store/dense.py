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
# list (FAISS's own lower bound is 39). The lists hold 8-bit scalar-quantised codes (a
# quarter of the bytes a scan reads); the scan shortlists ``REFINE_FACTOR``·k candidates
# and their exact cosines are computed again on the float vectors, which the index keeps
# (retrieval reads them back by row id). On vectors drawn like real e5 passages
# (bench/scale.py --vectors e5fit) recall@10 against exact search rises with size at a
# fixed share of the lists probed, so the share falls with the number of lists:
# probes = IVF_PROBES_SCALE·lists^IVF_PROBES_POWER (see ``ivf_probes``).
IVF_LISTS_PER_ROOT = 4
IVF_TRAINING_PER_LIST = 40
IVF_PROBES_SCALE = 3.5
IVF_PROBES_POWER = 2 / 3
REFINE_FACTOR = 4
# Versions written before IVF used HNSW; they still open and search with this effort.
HNSW_EF_SEARCH = 96

# Builds use every thread the process may (OMP_NUM_THREADS or one per core): the calling
# thread may have searched before, and ``search_dense`` leaves it at one.
BUILD_THREADS = faiss.omp_get_max_threads()

Ids = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]


def ivf_lists(count: int) -> int:
    """How many inverted lists an index of ``count`` vectors gets (never more than vectors)."""
    return max(1, min(count, round(IVF_LISTS_PER_ROOT * math.sqrt(count))))


def ivf_probes(lists: int) -> int:
    """How many of ``lists`` inverted lists a query scans (all of them for a small index)."""
    return max(1, min(lists, math.ceil(IVF_PROBES_SCALE * math.pow(lists, IVF_PROBES_POWER))))


def build_dense(vectors: Matrix, ids: Ids, dimension: int, approximate_from: int) -> faiss.Index:
    """Exact (flat) search below ``approximate_from`` vectors, inverted lists (IVF) above it."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    faiss.omp_set_num_threads(BUILD_THREADS)
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
    ivf = faiss.IndexIVFScalarQuantizer(
        quantizer, dimension, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    ivf.cp.min_points_per_centroid = 1  # a small index trains on all it has, silently
    logger.info("training %d inverted lists on %d of %d vectors", lists, sample_size, len(vectors))
    ivf.train(vectors[np.sort(sample)])
    ivf.nprobe = ivf_probes(lists)
    refined = faiss.IndexRefineFlat(ivf)  # keeps the float vectors: exact scores, reconstruct
    refined.k_factor = REFINE_FACTOR
    return refined


def index_kind(index: faiss.Index) -> str:
    """``flat``, ``ivf-sq8`` (current approximate kind), ``ivf`` or ``hnsw`` (older versions)."""
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    if isinstance(inner, faiss.IndexRefineFlat):
        return "ivf-sq8"
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
    """Read a version's dense index and set today's search effort on whichever kind it is."""
    index = faiss.read_index(str(folder / DENSE_FILE))
    inner = faiss.downcast_index(index.index)  # type: ignore[attr-defined]
    if isinstance(inner, faiss.IndexRefineFlat):
        inner.k_factor = REFINE_FACTOR
    ivf = inverted_lists(index)
    if ivf is not None:  # IVF-SQ8 now, IVF-Flat from the first IVF versions
        ivf.nprobe = ivf_probes(ivf.nlist)
    elif isinstance(inner, faiss.IndexHNSWFlat):
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def inverted_lists(index: faiss.Index) -> faiss.IndexIVF | None:
    """The IVF part of a dense index (its ``nprobe`` is the search effort), if it has one.

    Only valid while ``index`` is alive: the returned object does not own its memory.
    """
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    if isinstance(inner, faiss.IndexRefineFlat):
        inner = faiss.downcast_index(inner.base_index)
    return inner if isinstance(inner, faiss.IndexIVF) else None


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
