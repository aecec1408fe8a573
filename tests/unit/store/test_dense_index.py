"""Which dense index a version gets, what it finds, and that older kinds still open."""

from pathlib import Path

import faiss
import numpy as np
import pytest

from askwiki.store.dense import (
    BUILD_THREADS,
    HNSW_EF_SEARCH,
    REFINE_FACTOR,
    all_vectors,
    build_dense,
    index_kind,
    inverted_lists,
    ivf_lists,
    ivf_probes,
    load_dense,
    save_dense,
    search_dense,
)

DIMENSION = 48


def clustered(count: int, seed: int) -> np.ndarray:
    """Unit vectors around 100 topics, the way passages bunch up by subject."""
    rng = np.random.default_rng(seed)
    topics = np.random.default_rng(0).standard_normal((100, DIMENSION)).astype(np.float32)
    vectors = topics[rng.integers(0, 100, count)]
    vectors += 0.6 * rng.standard_normal((count, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


@pytest.mark.parametrize(
    ("count", "approximate_from", "kind"),
    [(999, 1000, "flat"), (1000, 1000, "ivf-sq8"), (3, 1, "ivf-sq8"), (0, 1, "flat")],
)
def test_the_threshold_picks_flat_below_and_ivf_from_it(
    count: int, approximate_from: int, kind: str
) -> None:
    vectors = clustered(count, 1)
    index = build_dense(vectors, np.arange(count), DIMENSION, approximate_from)
    assert index_kind(index) == kind
    assert index.ntotal == count


def test_inverted_lists_grow_with_the_root_of_the_size_and_never_outnumber_vectors() -> None:
    assert [ivf_lists(n) for n in (1, 3, 10_000, 1_000_000)] == [1, 3, 400, 4000]


@pytest.mark.parametrize("lists", [1, 2, 10, 30])
def test_a_small_index_probes_every_list(lists: int) -> None:
    assert ivf_probes(lists) == lists


@pytest.mark.parametrize(("smaller", "larger"), [(400, 1265), (1265, 1789), (1789, 4000)])
def test_larger_indexes_probe_more_lists_but_a_smaller_share(smaller: int, larger: int) -> None:
    assert ivf_probes(smaller) < ivf_probes(larger)
    assert ivf_probes(smaller) / smaller > ivf_probes(larger) / larger


def test_ivf_finds_what_exact_search_finds_on_clustered_vectors(tmp_path: Path) -> None:
    vectors, queries = clustered(20_000, 1), clustered(50, 2)
    ids = np.arange(100, 20_100, dtype=np.int64)
    save_dense(build_dense(vectors, ids, DIMENSION, 10_000), tmp_path)
    index = load_dense(tmp_path)
    assert index_kind(index) == "ivf-sq8"
    exact = faiss.IndexFlatIP(DIMENSION)
    exact.add(vectors)
    expected = ids[exact.search(queries, 10)[1]]
    found = [[row for row, _ in search_dense(index, q, 10)] for q in queries]
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, expected, strict=True)])
    assert recall >= 0.98


def test_an_ivf_version_gives_back_every_vector_for_the_next_one() -> None:
    vectors = clustered(2000, 3)
    ids = np.arange(5, 2005, dtype=np.int64)
    got_ids, got_vectors = all_vectors(build_dense(vectors, ids, DIMENSION, 1000))
    order = np.argsort(got_ids)
    assert np.array_equal(got_ids[order], ids)
    np.testing.assert_array_equal(got_vectors[order], vectors)


def test_a_saved_ivf_version_reads_a_vector_back_by_row_id(tmp_path: Path) -> None:
    vectors = clustered(2000, 6)
    save_dense(build_dense(vectors, np.arange(7, 2007, dtype=np.int64), DIMENSION, 1), tmp_path)
    np.testing.assert_array_equal(load_dense(tmp_path).reconstruct(7 + 1234), vectors[1234])


def test_an_hnsw_version_written_before_ivf_still_opens_and_searches(tmp_path: Path) -> None:
    vectors = clustered(500, 4)
    hnsw = faiss.IndexHNSWFlat(DIMENSION, 32, faiss.METRIC_INNER_PRODUCT)
    old = faiss.IndexIDMap2(hnsw)
    old.add_with_ids(vectors, np.arange(1, 501, dtype=np.int64))
    save_dense(old, tmp_path)
    index = load_dense(tmp_path)
    assert index_kind(index) == "hnsw"
    assert faiss.downcast_index(index.index).hnsw.efSearch == HNSW_EF_SEARCH
    assert search_dense(index, vectors[41], 1)[0][0] == 42
    assert len(all_vectors(index)[0]) == 500


def test_a_loaded_ivf_index_probes_the_current_default(tmp_path: Path) -> None:
    index = build_dense(clustered(20_000, 5), np.arange(20_000), DIMENSION, 1)
    built = inverted_lists(index)
    assert built is not None
    built.nprobe = 1
    save_dense(index, tmp_path)
    loaded = load_dense(tmp_path)  # kept: it owns the inner index
    ivf = inverted_lists(loaded)
    assert ivf is not None
    assert ivf.nprobe == ivf_probes(ivf.nlist) > 1
    assert faiss.downcast_index(loaded.index).k_factor == REFINE_FACTOR


def test_an_ivf_flat_version_written_before_sq8_still_opens_and_searches(tmp_path: Path) -> None:
    vectors = clustered(5000, 8)
    ivf = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(DIMENSION), DIMENSION, 283, faiss.METRIC_INNER_PRODUCT
    )
    ivf.train(vectors)
    ivf.nprobe = 85
    ivf.make_direct_map()
    old = faiss.IndexIDMap2(ivf)
    old.add_with_ids(vectors, np.arange(1, 5001, dtype=np.int64))
    save_dense(old, tmp_path)
    index = load_dense(tmp_path)
    assert index_kind(index) == "ivf"
    probed = inverted_lists(index)
    assert probed is not None and probed.nprobe == ivf_probes(283)
    assert search_dense(index, vectors[41], 1)[0][0] == 42
    np.testing.assert_array_equal(index.reconstruct(42), vectors[41])
    assert len(all_vectors(index)[0]) == 5000


def test_ivf_scores_are_exact_cosines_not_quantised_ones() -> None:
    vectors, query = clustered(3000, 9), clustered(1, 10)[0]
    index = build_dense(vectors, np.arange(3000, dtype=np.int64), DIMENSION, 1)
    hits = search_dense(index, query, 10)
    assert len(hits) == 10
    for row, score in hits:
        assert score == pytest.approx(float(vectors[row] @ query), abs=1e-6)


def test_a_build_uses_every_thread_even_after_a_search_on_the_same_thread() -> None:
    vectors = clustered(200, 11)
    search_dense(build_dense(vectors, np.arange(200), DIMENSION, 1000), vectors[0], 1)
    assert faiss.omp_get_max_threads() == 1
    build_dense(vectors, np.arange(200), DIMENSION, 1)
    assert faiss.omp_get_max_threads() == BUILD_THREADS
