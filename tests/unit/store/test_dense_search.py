import threading

import faiss
import numpy as np

from askwiki.store.dense import search_dense


def _index() -> tuple[faiss.Index, np.ndarray]:
    vectors = np.random.default_rng(7).normal(size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(16))
    index.add_with_ids(vectors, np.arange(200, dtype=np.int64))
    return index, vectors


def test_a_query_runs_single_threaded_without_touching_other_threads() -> None:
    index, vectors = _index()
    before = faiss.omp_get_max_threads()
    seen: dict[str, object] = {}

    def worker() -> None:
        faiss.omp_set_num_threads(2)
        seen["hits"] = search_dense(index, vectors[42], 3)
        seen["threads"] = faiss.omp_get_max_threads()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["threads"] == 1
    assert faiss.omp_get_max_threads() == before
    hits = seen["hits"]
    assert isinstance(hits, list) and hits[0][0] == 42 and abs(hits[0][1] - 1.0) < 1e-5


def test_an_empty_index_returns_nothing() -> None:
    assert search_dense(faiss.IndexIDMap2(faiss.IndexFlatIP(16)), np.ones(16, np.float32), 5) == []
