"""Retrieval with vectors of two embedding dtypes: are they interchangeable?

Run through ``python bench/retrieval.py --dtypes float32,bfloat16``.

The pooled corpus of ``bench/retrieval.py`` is ingested once per dtype (``auto`` is what
the setting picks on this machine), each into its own index. Every sampled question is
embedded once per dtype, and askwiki's methods (hybrid with the configured floor, hybrid
without it, the dense leg alone) are asked with every pairing of index dtype and query
dtype: a server running in bfloat16 over an index embedded in float32 is the pairing
(float32 index, bfloat16 queries). Issue 18: the dtypes may share an index only if
askwiki's retrieval (the hybrid methods, floor on and off: what ``/api/search`` and
``/api/ask`` serve) is within 0.3 point of MRR@10 of the baseline (the first dtype with
itself) in every pairing. The dense leg alone is reported beside it as a diagnostic: it
shows what the dtype does to raw vector ranking. The cosine between the two dtypes'
vectors of the same chunk and of the same question is reported too.
"""

from __future__ import annotations

import argparse
import shutil
from itertools import product

import numpy as np

from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.settings import Settings
from askwiki.store.dense import all_vectors
from askwiki.store.index import WikiIndex, open_index
from bench.common import (
    QA_SETS,
    load_qa_set,
    percentile,
    print_table,
    say,
    seeded_sample,
    temp_dir,
)
from bench.retrieval import (
    Scores,
    SharedQueryVectors,
    askwiki_methods,
    build_askwiki,
    evaluate,
    hit_at,
    mrr,
)

# Issue 18: vectors of two dtypes may share an index within this much MRR@10 (0.3 point).
MRR_TOLERANCE = 0.003
DROPPED = "BM25 leg alone"  # the same for every dtype
SERVED = "askwiki hybrid"  # the methods the decision rests on (name prefix)


class AllDtypes:
    """Embeds each question once per dtype; the first dtype's time is the one returned."""

    def __init__(self, shared: dict[str, SharedQueryVectors]) -> None:
        self.shared = shared
        self.seconds: dict[str, list[float]] = {dtype: [] for dtype in shared}
        self.cosines: list[float] = []

    def prepare(self, question: str) -> float:
        for dtype, vectors in self.shared.items():
            self.seconds[dtype].append(vectors.prepare(question))
        first, *others = (v.vectors[question] for v in self.shared.values())
        self.cosines.extend(float(np.dot(first, other)) for other in others)
        return next(iter(self.seconds.values()))[-1]


def chunk_vectors(index: WikiIndex) -> dict[str, np.ndarray]:
    """Each chunk's stored vector, keyed by its content hash (row ids differ per index)."""
    ids, matrix = all_vectors(index.dense)
    rows = [int(i) for i in ids]
    found = index.docstore.chunks_by_rows(rows)
    return {found[r].chunk.content_hash: matrix[n] for n, r in enumerate(rows) if r in found}


def run_dtypes(args: argparse.Namespace, machine: str) -> None:
    sets = [load_qa_set(name, args.passages) for name in QA_SETS]
    questions = {s.name: seeded_sample(s.questions, args.limit, args.seed) for s in sets}
    passages = sum(len(s.passages) for s in sets)
    work = temp_dir("retrieval-dtypes")
    indexes: dict[str, WikiIndex] = {}
    try:
        base = Settings(index_dir=work / "indexes", data_dir=work / "data")
        embedders: dict[str, Embedder] = {}
        builds: dict[str, tuple[int, float]] = {}
        for name in args.dtypes.split(","):
            settings = base.model_copy(update={"embedding_dtype": name})
            embedder = load_embedder(settings)
            if embedder.dtype in embedders:
                continue
            settings = settings.model_copy(update={"index": embedder.dtype})
            say(f"{machine}; ingest of {passages} pooled passages in {embedder.dtype}")
            builds[embedder.dtype] = build_askwiki(sets, settings, embedder, work)
            indexes[embedder.dtype] = open_index(settings.index_path)
            embedders[embedder.dtype] = embedder
        all_dtypes = AllDtypes({d: SharedQueryVectors(e) for d, e in embedders.items()})
        methods = {}
        for index_dtype, query_dtype in product(embedders, repeat=2):
            pairing = askwiki_methods(
                indexes[index_dtype], base, all_dtypes.shared[query_dtype], args.k
            )
            pairing.pop(DROPPED)
            for name, search in pairing.items():
                methods[f"{name} | {index_dtype} | {query_dtype}"] = search
        say(f"asking {sum(len(q) for q in questions.values())} questions of {len(methods)} methods")
        scores, _ = evaluate(methods, all_dtypes.prepare, questions)
        agreement = chunk_agreement(indexes)
    finally:
        for index in indexes.values():
            index.close()
        shutil.rmtree(work, ignore_errors=True)

    report(scores, builds, all_dtypes, agreement, machine, args.k)


def chunk_agreement(indexes: dict[str, WikiIndex]) -> list[float]:
    """Cosines between the first dtype's chunk vectors and each other dtype's, same chunks."""
    first, *others = (chunk_vectors(index) for index in indexes.values())
    return [
        float(np.dot(vector, other[key]))
        for other in others
        for key, vector in first.items()
        if key in other
    ]


def report(
    scores: dict[str, Scores],
    builds: dict[str, tuple[int, float]],
    all_dtypes: AllDtypes,
    agreement: list[float],
    machine: str,
    k: int,
) -> None:
    first = next(iter(builds))
    rows: list[list[object]] = []
    worst = {"served": 0.0, "dense": 0.0}
    for key, s in scores.items():
        method, index_dtype, query_dtype = key.split(" | ")
        ranks = s.all_ranks()
        baseline = scores[f"{method} | {first} | {first}"].all_ranks()
        delta = mrr(ranks) - mrr(baseline)
        kind = "served" if method.startswith(SERVED) else "dense"
        worst[kind] = max(worst[kind], abs(delta))
        rows.append([
            method, index_dtype, query_dtype,
            f"{hit_at(ranks, 1):.3f}", f"{hit_at(ranks, 5):.3f}", f"{mrr(ranks):.4f}",
            *(f"{mrr(s.ranks[n]):.4f}" for n in QA_SETS),
            f"{delta * 100:+.2f}", f"{percentile(s.seconds, 50) * 1000:.1f}",
        ])  # fmt: skip
    count = len(next(iter(scores.values())).all_ranks())
    print_table(
        f"Retrieval by embedding dtype, pooled CMRC 2018 dev + XQuAD zh + XQuAD en, {count} "
        f"questions, k={k} ({machine})",
        [
            "method", "index dtype", "query dtype", "hit@1", "hit@5", f"MRR@{k}",
            *(f"MRR {n}" for n in QA_SETS), f"ΔMRR@{k} vs {first} (points)", "search p50 ms",
        ],
        rows,
    )  # fmt: skip
    print_table(
        "Vectors and timings by dtype",
        ["dtype", "chunks", "ingest s", "chunks/s", "query embedding p50 ms"],
        [
            [
                dtype, chunks, f"{seconds:.1f}", f"{chunks / seconds:.2f}",
                f"{percentile(all_dtypes.seconds[dtype], 50) * 1000:.1f}",
            ]
            for dtype, (chunks, seconds) in builds.items()
        ],
    )  # fmt: skip
    for label, cosines in (("chunk", agreement), ("question", all_dtypes.cosines)):
        if cosines:
            print(
                f"Cosine between {first} and other-dtype {label} vectors: mean "
                f"{np.mean(cosines):.5f}, 1st percentile {percentile(cosines, 1):.5f}, "
                f"min {min(cosines):.5f} ({len(cosines)} {label}s)"
            )
    served, dense = worst["served"], worst["dense"]
    verdict = "within" if served <= MRR_TOLERANCE else "NOT within"
    print(
        f"askwiki retrieval (hybrid, floor on and off): largest |ΔMRR@{k}| over all pairings "
        f"{served * 100:.2f} point(s), {verdict} the {MRR_TOLERANCE * 100:.1f} point "
        f"tolerance (issue 18). Dense leg alone (diagnostic): {dense * 100:.2f} point(s)."
    )
    print("Questions per set: " + ", ".join(f"{n} {len(r)}" for n, r in _ranks(scores).items()))


def _ranks(scores: dict[str, Scores]) -> dict[str, list[int]]:
    return next(iter(scores.values())).ranks
