"""Search latency, load time and memory at 10k / 100k / 1M chunks, next to LangChain.

    python bench/scale.py [--sizes 10000,100000,1000000] [--queries 200] [--rebuilds 3]
                          [--vectors random|lowrank|e5fit] [--fit-index PATH]
                          [--probe-shares 0.2,0.3,0.4]

Synthetic indexes written with askwiki's own store (``build_dense``, ``KeywordIndex``,
``Docstore``, published as a real version): 384-d unit vectors (``random``: uniform, the
hardest case for an approximate index; ``lowrank``: a narrow cone with 64-d structure, closer
to text embeddings; ``e5fit``: drawn from a Gaussian with the mean and full covariance of the
real e5 passage vectors of an index another bench built, normalised: nothing is embedded
here) and chunk texts cut from the CMRC/XQuAD passages, repeated to size, for
BM25 and the docstore. Queries are real questions from the same sets, each paired with a
vector drawn the same way. Recall@10 of the approximate index (IVF) against exact search is
measured at every size from ``--recall-from`` (on an extra IVF build where the threshold keeps
the size flat), also at each share of the lists probed (``--probe-shares``). Per size, per query, in rotating order:
askwiki's dense leg (the index kind ``settings.faiss_hnsw_threshold`` picks; ``search_dense``
runs one OpenMP thread per query), the same index searched with FAISS's default thread team,
the BM25 leg, the fused ``Retriever.search`` (floor off:
random vectors would fail it), LangChain FAISS ``similarity_search`` over the same vectors
(its default IndexFlatL2, at FAISS's default thread team) and, for a few queries, a BM25 rebuilt from every chunk per query
(LangChain ``BM25Retriever.from_texts`` + rank_bm25, as Langchain-Chatchat's ensemble does).
Query embedding is excluded everywhere. Load time and resident memory are measured in a
fresh process that opens the published version the way the server does.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faiss
import numpy as np
from langchain_community.docstore.in_memory import InMemoryDocstore
from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document as LCDocument

from askwiki.documents import Chunk, Document, DocumentPart
from askwiki.embedding.embedder import Embedder
from askwiki.langchain import AskwikiEmbeddings
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import RetrievalOptions
from askwiki.settings import Settings
from askwiki.store.dense import (
    all_vectors,
    build_dense,
    index_kind,
    inverted_lists,
    save_dense,
    search_dense,
)
from askwiki.store.docstore import DOCSTORE_FILE, Docstore
from askwiki.store.index import open_index
from askwiki.store.keyword import KeywordIndex
from askwiki.store.layout import now_iso, publish
from askwiki.store.manifest import ChunkingInfo, EmbeddingInfo, Manifest
from askwiki.text import KEYWORD_TOKENIZER, keyword_tokens, split_sentences
from bench.common import (
    QA_SETS,
    load_qa_set,
    machine_line,
    percentile,
    print_table,
    quiet_logs,
    rss_mb,
    say,
    seeded_sample,
    temp_dir,
    timed,
)

DIMENSION = 384
CHUNK_CHARS = 300
K = 10
LOW_RANK = 64
DOCS_PER_PAGE = 100
EMBEDDING = EmbeddingInfo("synthetic-random-384", DIMENSION)
# The full CMRC 2018 dev corpus (2,232 e5-small chunks) as bench/answers.py and bench/floor.py
# index it; the newest such index is the default source for ``--vectors e5fit``.
E5_INDEXES = Path.home() / ".cache" / "askwiki" / "bench"
E5_INDEX_GLOB = "bench-cmrc2018-*"
BASELINE = "LangChain FAISS similarity_search"
REBUILD = "BM25 rebuilt per query (LangChain BM25Retriever)"


class FixedQueryVectors(Embedder):
    """Stands in for the model: each query text maps to a preset vector."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.name, self.dimension, self.max_tokens = EMBEDDING.model, DIMENSION, 512
        self.query_prompt = self.passage_prompt = ""
        self.vectors = vectors

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


def base_chunks() -> list[str]:
    """Real chunk-sized texts: CMRC and XQuAD passages packed into ~300-character pieces."""
    pieces: list[str] = []
    for name in QA_SETS:
        for passage in load_qa_set(name).passages:
            current = ""
            for sentence in split_sentences(passage["text"]):
                if current and len(current) + len(sentence) > CHUNK_CHARS:
                    pieces.append(current)
                    current = ""
                current = f"{current} {sentence}".strip()
            if current:
                pieces.append(current)
    return pieces


class GaussianFit:
    """Mean and covariance (as its Cholesky factor) of real passage vectors."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.count = len(vectors)
        self.mean = vectors.mean(axis=0, dtype=np.float64)
        covariance = np.cov(vectors, rowvar=False, dtype=np.float64)
        covariance += 1e-9 * np.eye(len(self.mean))
        self.factor = np.linalg.cholesky(covariance)

    @classmethod
    def from_index(cls, index_path: Path | None) -> GaussianFit:
        if index_path is None:
            found = sorted(
                (p for p in E5_INDEXES.glob(E5_INDEX_GLOB) if (p / "CURRENT").is_file()),
                key=lambda p: (p / "CURRENT").stat().st_mtime,
            )
            if not found:
                raise SystemExit(
                    f"--vectors e5fit needs a CMRC index in {E5_INDEXES}: run "
                    "'python bench/answers.py --limit 1' once, or pass --fit-index PATH"
                )
            index_path = found[-1]
        index = open_index(index_path)
        vectors = all_vectors(index.dense)[1]
        index.close()
        say(f"e5fit: Gaussian fitted to {len(vectors)} vectors of {index_path}")
        return cls(vectors)

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        vectors = np.empty((count, len(self.mean)), dtype=np.float32)
        for start in range(0, count, 100_000):
            rows = min(100_000, count - start)
            noise = rng.standard_normal((rows, len(self.mean)))
            vectors[start : start + rows] = self.mean + noise @ self.factor.T
        return vectors


def unit_vectors(count: int, seed: int, kind: str, fit: GaussianFit | None = None) -> np.ndarray:
    """``random``: uniform on the sphere, the worst case for HNSW (every point about as far
    as every other). ``lowrank``: closer to text embeddings, which sit in a narrow cone
    (unrelated e5 passages score ~0.7): a shared direction, a 64-d random subspace, noise.
    ``e5fit``: the Gaussian ``fit`` of real e5 passage vectors.
    """
    rng = np.random.default_rng(seed)
    if kind == "e5fit":
        assert fit is not None
        vectors = fit.sample(count, rng)
    elif kind == "random":
        vectors = rng.standard_normal((count, DIMENSION), dtype=np.float32)
    else:
        basis = np.random.default_rng(0).standard_normal((LOW_RANK + 1, DIMENSION))
        basis = np.linalg.qr(basis.T)[0].T.astype(np.float32)  # orthonormal rows
        spread = rng.standard_normal((count, LOW_RANK), dtype=np.float32)
        spread /= np.linalg.norm(spread, axis=1, keepdims=True)
        vectors = 0.8 * basis[0] + 0.6 * (spread @ basis[1:])
        noise = rng.standard_normal((count, DIMENSION), dtype=np.float32)
        vectors += noise * (0.1 / np.sqrt(DIMENSION))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def write_docstore(path: Path, size: int, texts: list[str], tokens: list[str]) -> None:
    """``size`` chunks (row ids 1..size) in pages of 100, with their BM25 keywords."""
    store = Docstore(path, read_only=False)
    stamp = now_iso()
    for first in range(0, size, DOCS_PER_PAGE):
        doc_id = f"page-{first // DOCS_PER_PAGE}"
        rows = range(first, min(first + DOCS_PER_PAGE, size))
        document = Document(doc_id, doc_id, (DocumentPart(""),), "synthetic", "jsonl")
        chunks = [
            (
                row + 1,
                Chunk(
                    f"{doc_id}#{row - first}", doc_id, row - first, doc_id, doc_id, "", None,
                    None, texts[row % len(texts)], f"{row:016x}", 0,
                ),
                [tokens[row % len(tokens)]],
            )
            for row in rows
        ]  # fmt: skip
        store.insert_document(document, chunks, stamp)
    store.commit()
    store.close()


def build_version(
    index_path: Path, size: int, vectors: np.ndarray, texts: list[str], threshold: int
) -> tuple[faiss.Index, dict[str, float]]:
    """Publish a version with askwiki's store classes; returns the dense index and build times."""
    folder = index_path / "versions" / "v1.tmp"
    folder.mkdir(parents=True)
    tokens = [" ".join(keyword_tokens(t)) for t in texts]
    times: dict[str, float] = {}
    _, times["docstore"] = timed(
        partial(write_docstore, folder / DOCSTORE_FILE, size, texts, tokens)
    )
    ids = np.arange(1, size + 1, dtype=np.int64)
    dense, times["dense"] = timed(lambda: build_dense(vectors, ids, DIMENSION, threshold))
    save_dense(dense, folder)
    split = [t.split(" ") for t in tokens]
    keyword, times["bm25"] = timed(
        lambda: KeywordIndex.build((i + 1, split[i % len(split)]) for i in range(size))
    )
    keyword.save(folder)
    manifest = Manifest(
        "scale", "v1", EMBEDDING, ChunkingInfo(200, 32), size // DOCS_PER_PAGE, size,
        index_kind(dense), now_iso(), now_iso(), keyword_tokenizer=KEYWORD_TOKENIZER,
    )  # fmt: skip
    (folder / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    publish(index_path, folder, "v1")
    return dense, times


def probe(index_path: Path) -> None:
    """Child process: open the live version as the server does; report time and RSS."""
    before = rss_mb()
    index, seconds = timed(lambda: open_index(index_path))
    print(
        json.dumps({"seconds": seconds, "rss_mb": rss_mb() - before, "chunks": len(index.keyword)})
    )


def measure_load(index_path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--probe", str(index_path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def langchain_store(vectors: np.ndarray, texts: list[str], size: int, embedder: Embedder) -> FAISS:
    """What ``FAISS.from_documents`` builds (IndexFlatL2 + InMemoryDocstore), from our vectors."""
    index = faiss.IndexFlatL2(DIMENSION)
    index.add(vectors)
    ids = [str(i) for i in range(size)]
    docs = {ids[i]: LCDocument(page_content=texts[i % len(texts)]) for i in range(size)}
    return FAISS(AskwikiEmbeddings(embedder), index, InMemoryDocstore(docs), dict(enumerate(ids)))


# search_dense leaves the calling thread at one OpenMP thread; what FAISS users get is this.
DEFAULT_THREADS = faiss.omp_get_max_threads()


def default_threads(fn: Callable[[], object]) -> object:
    faiss.omp_set_num_threads(DEFAULT_THREADS)
    return fn()


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    hits = [len(set(a) & set(e)) for a, e in zip(approx.tolist(), exact.tolist(), strict=True)]
    return sum(hits) / (len(hits) * int(exact.shape[1]))


def build_all(
    size: int, folder: Path, texts: list[str], embedder: FixedQueryVectors, args: Any
) -> tuple[FAISS, dict[str, Any]]:
    """The askwiki version on disk, the LangChain store in memory, IVF recall vs exact."""
    say(f"{size}: generating {size} x {DIMENSION} unit vectors")
    vectors = unit_vectors(size, size, args.vectors, args.fit)
    queries = np.stack(list(embedder.vectors.values()))
    threshold = args.hnsw_threshold
    say(f"{size}: docstore, dense ({'IVF' if size >= threshold else 'flat'}) and BM25")
    dense, times = build_version(folder, size, vectors, texts, threshold)
    kind = index_kind(dense)
    approximate = None
    if kind == "flat" and size >= args.recall_from:
        say(f"{size}: IVF build for recall (the threshold keeps this size flat)")
        ids = np.arange(1, size + 1, dtype=np.int64)
        approximate, times["ivf"] = timed(partial(build_dense, vectors, ids, DIMENSION, 1))
    elif kind != "flat":
        times["ivf"] = times["dense"]
        approximate = dense  # what load_dense reads back, without a second copy in memory
    del dense
    say(f"{size}: LangChain store (IndexFlatL2 + InMemoryDocstore)")
    store = langchain_store(vectors, texts, size, embedder)
    del vectors  # the LangChain index holds its own copy; at 1M each copy is 1.5 GB
    exact = store.index.search(queries, K)[1] + 1  # LangChain positions -> row ids
    result: dict[str, Any] = {"size": size, "kind": kind, "build": times}
    if approximate is not None:
        result["recall"] = recall_at_k(approximate.search(queries, K)[1], exact)
        result["probes"] = probe_sweep(approximate, queries, exact, args.probe_shares)
    return store, result


def probe_sweep(
    index: faiss.Index, queries: np.ndarray, exact: np.ndarray, shares: list[float]
) -> dict[str, tuple[float, float, float]]:
    """Recall@10, p50 and p95 seconds of the IVF dense leg at the default number of lists
    probed and at each share of them."""
    ivf = inverted_lists(index)
    assert ivf is not None
    default = ivf.nprobe
    counts = {f"default ({default} of {ivf.nlist})": default}
    for share in shares:
        counts[f"{share:.2f} ({math.ceil(share * ivf.nlist)} of {ivf.nlist})"] = max(
            1, math.ceil(share * ivf.nlist)
        )
    sweep = {}
    for label, count in counts.items():
        ivf.nprobe = count
        seconds = [timed(partial(search_dense, index, q, K))[1] for q in queries]
        recall = recall_at_k(index.search(queries, K)[1], exact)
        sweep[label] = (recall, percentile(seconds, 50), percentile(seconds, 95))
    ivf.nprobe = default
    return sweep


def cpu_timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and calling-thread CPU seconds of ``fn()``: on a shared machine the wall time
    includes waiting for a core, the CPU time is the work a free core would do (FAISS's
    other OpenMP threads are not counted)."""
    wall, cpu = time.perf_counter(), time.thread_time()
    fn()
    return time.perf_counter() - wall, time.thread_time() - cpu


def time_queries(
    folder: Path, store: FAISS, embedder: FixedQueryVectors, questions: list[str]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-query wall and CPU seconds of each method, in rotating order."""
    index = open_index(folder)
    retriever = Retriever(index, embedder, RetrievalOptions(min_dense_score=-1.0))
    vec = embedder.vectors
    methods: dict[str, Callable[[str], object]] = {
        "dense leg": lambda q: search_dense(index.dense, vec[q], K),
        "dense leg, FAISS default threads": lambda q: default_threads(
            partial(index.dense.search, vec[q].reshape(1, -1), K)
        ),
        "BM25 leg": lambda q: index.keyword.search(q, K),
        "fused Retriever.search": lambda q: retriever.search(q, 5),
        BASELINE: lambda q: default_threads(partial(store.similarity_search, q, k=K)),
    }
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    cpu: dict[str, list[float]] = {name: [] for name in methods}
    names = list(methods)
    for n, question in enumerate(questions):
        for name in names[n % len(names) :] + names[: n % len(names)]:
            wall, used = cpu_timed(partial(methods[name], question))
            seconds[name].append(wall)
            cpu[name].append(used)
    index.close()
    return seconds, cpu


def time_rebuilds(texts: list[str], size: int, questions: list[str]) -> list[float]:
    """A BM25 built from every chunk for each query, as Langchain-Chatchat's ensemble does."""
    from langchain_community.retrievers import BM25Retriever

    corpus = [texts[i % len(texts)] for i in range(size)]

    def ask(question: str) -> object:
        retriever = BM25Retriever.from_texts(corpus, preprocess_func=keyword_tokens, k=K)
        return retriever.invoke(question)

    return [timed(partial(ask, q))[1] for q in questions]


def rank_bm25_installed() -> bool:
    if importlib.util.find_spec("rank_bm25") is None:
        say("rank_bm25 is not installed (pip install rank-bm25): no BM25-rebuilt-per-query row")
        return False
    return True


def run_size(size: int, texts: list[str], questions: list[str], args: Any) -> dict[str, Any]:
    work = temp_dir(f"scale-{size}")
    folder = work / "scale"
    try:
        vectors = unit_vectors(len(questions), 7, args.vectors, args.fit)
        embedder = FixedQueryVectors(dict(zip(questions, vectors, strict=True)))
        store, result = build_all(size, folder, texts, embedder, args)
        gc.collect()
        say(f"{size}: {len(questions)} queries, RSS {rss_mb():.0f} MiB")
        result["seconds"], result["cpu"] = time_queries(folder, store, embedder, questions)
        del store
        gc.collect()
        if size <= args.rebuild_max and args.rebuilds and rank_bm25_installed():
            say(f"{size}: BM25 rebuilt per query, {args.rebuilds} queries")
            result["seconds"][REBUILD] = time_rebuilds(texts, size, questions[: args.rebuilds])
        say(f"{size}: load time and memory in a fresh process")
        result["load"] = measure_load(folder)
        result["disk_mb"] = sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 2**20
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def report(results: list[dict[str, Any]], machine: str, args: argparse.Namespace) -> None:
    rows: list[list[object]] = []
    for r in results:
        base = percentile(r["seconds"][BASELINE], 50)
        for name, values in r["seconds"].items():
            p50 = percentile(values, 50)
            label = f"{name} ({r['kind']})" if name.startswith("dense") else name
            cpu = r["cpu"].get(name)
            rows.append([
                f"{r['size']:,}", label, len(values), f"{p50 * 1000:.2f}",
                f"{percentile(values, 95) * 1000:.2f}", f"{p50 / base:.2f}",
                f"{percentile(cpu, 50) * 1000:.2f}" if cpu else "-",
                f"{percentile(cpu, 95) * 1000:.2f}" if cpu else "-",
            ])  # fmt: skip
    print_table(
        f"Search latency per query, k={K}, query embedding excluded ({machine})",
        [
            "chunks", "method", "queries", "p50 ms", "p95 ms", "p50 vs LangChain FAISS",
            "CPU p50 ms", "CPU p95 ms",
        ],
        rows,
    )  # fmt: skip
    print(f"BM25 rebuilt per query: run only up to {args.rebuild_max:,} chunks (too slow above).")
    rows = []
    for r in results:
        build, load = r["build"], r["load"]
        rows.append([
            f"{r['size']:,}", r["kind"], f"{build['dense']:.1f}",
            f"{build['ivf']:.1f}" if "ivf" in build else "-",
            f"{r['recall']:.3f}" if "recall" in r else "-",
            f"{build['bm25']:.1f}", f"{build['docstore']:.1f}", f"{load['seconds']:.2f}",
            f"{load['rss_mb']:.0f}", f"{load['rss_mb'] * 100_000 / r['size']:.0f}",
            f"{r['disk_mb'] * 100_000 / r['size']:.0f}",
        ])  # fmt: skip
    print_table(
        f"Index build, IVF recall@10 vs exact ({args.vectors} vectors), load time and memory",
        [
            "chunks", "dense kind", "dense build s", "IVF build s", "IVF recall@10",
            "BM25 build s", "docstore write s", "load s", "RSS MiB", "RSS MiB per 100k",
            "disk MiB per 100k",
        ],
        rows,
    )  # fmt: skip
    rows = [
        [f"{r['size']:,}", share, f"{recall:.3f}", f"{p50 * 1000:.2f}", f"{p95 * 1000:.2f}"]
        for r in results
        for share, (recall, p50, p95) in r.get("probes", {}).items()
    ]
    if rows:
        print_table(
            f"IVF dense leg by lists probed ({args.vectors} vectors, dense leg alone)",
            ["chunks", "lists probed", "recall@10", "p50 ms", "p95 ms"],
            rows,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rebuilds", type=int, default=3, help="queries for BM25-per-query")
    parser.add_argument("--rebuild-max", type=int, default=100_000, help="largest size for it")
    parser.add_argument("--recall-from", type=int, default=100_000, help="IVF recall from")
    parser.add_argument("--vectors", choices=("random", "lowrank", "e5fit"), default="random")
    parser.add_argument("--fit-index", type=Path, help="index whose vectors e5fit fits")
    parser.add_argument("--probe-shares", default="0.2,0.3,0.4", help="IVF shares to sweep")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    quiet_logs()
    if args.probe:
        probe(args.probe)
        return
    machine = machine_line()
    args.hnsw_threshold = Settings().faiss_hnsw_threshold
    args.probe_shares = [float(p) for p in args.probe_shares.split(",") if p]
    args.fit = GaussianFit.from_index(args.fit_index) if args.vectors == "e5fit" else None
    texts = base_chunks()
    questions = [
        str(q["question"])
        for name in QA_SETS
        for q in seeded_sample(load_qa_set(name).questions, args.queries // len(QA_SETS) + 1)
    ][: args.queries]
    say(f"{machine}; {len(texts)} base chunk texts, {len(questions)} queries")
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        started = time.perf_counter()
        results.append(run_size(size, texts, questions, args))
        say(f"{size}: done in {time.perf_counter() - started:.0f} s, RSS now {rss_mb():.0f} MiB")
    report(results, machine, args)


if __name__ == "__main__":
    main()
