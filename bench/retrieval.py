"""Retrieval quality and latency: askwiki hybrid vs the LangChain tutorial pipeline.

    python bench/retrieval.py [--limit 300] [--passages N] [--k 10]
    python bench/retrieval.py --dtypes float32,bfloat16 [--limit 100] [--passages 200]

CMRC 2018 dev, XQuAD zh and XQuAD en passages are pooled into one index built by the real
pipeline (``run_ingest`` on JSONL copies whose ids carry a ``set/`` prefix), so every set
is a distractor for the others. A fixed seeded sample of ``--limit`` questions per set is
asked of: askwiki hybrid (relevance floor on, as configured, and off), its dense leg
alone, its BM25 leg alone, and the LangChain tutorial pipeline (RecursiveCharacterTextSplitter
with default settings + langchain_community FAISS.from_documents + similarity_search), all
with the same embedding model and the same k. A hit is a retrieved text that contains a
gold answer string (NFKC, whitespace collapsed). Methods are timed per question in
rotating order, so background load hits them alike.

With ``--dtypes`` the same pooled corpus is indexed once per embedding dtype and askwiki's
methods are asked with every pairing of index dtype and query dtype
(``bench/retrieval_dtypes.py``): whether vectors of the two dtypes are interchangeable.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document as LCDocument
from langchain_text_splitters import RecursiveCharacterTextSplitter

from askwiki.bilingual_dictionary import bilingual_dictionary
from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.ingest.pipeline import run_ingest
from askwiki.langchain import AskwikiEmbeddings
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from askwiki.store.dense import search_dense
from askwiki.store.index import WikiIndex, open_index
from bench.common import (
    QA_SETS,
    QASet,
    load_qa_set,
    machine_line,
    normalize_text,
    percentile,
    print_table,
    quiet_logs,
    say,
    seeded_sample,
    temp_dir,
    timed,
    write_jsonl,
)
from bench.cross_language import run_cross_language

BASELINE = "LangChain tutorial"
Search = Callable[[str], list[str]]
Question = dict[str, Any]


@dataclass
class Scores:
    """Per-question first-hit ranks (0 = no hit in the top k) and latencies of one method."""

    ranks: dict[str, list[int]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    empty: int = 0

    def all_ranks(self) -> list[int]:
        return [r for ranks in self.ranks.values() for r in ranks]


def first_hit(texts: list[str], answers: list[str]) -> int:
    golds = [normalize_text(a) for a in answers if a.strip()]
    for rank, text in enumerate(texts, start=1):
        flat = normalize_text(text)
        if any(g in flat for g in golds):
            return rank
    return 0


def hit_at(ranks: list[int], k: int) -> float:
    return sum(1 for r in ranks if 0 < r <= k) / len(ranks) if ranks else 0.0


def mrr(ranks: list[int]) -> float:
    return sum(1 / r for r in ranks if r > 0) / len(ranks) if ranks else 0.0


def build_askwiki(
    sets: list[QASet], settings: Settings, embedder: Embedder, work: Path
) -> tuple[int, float]:
    files = [write_jsonl(work / f"{s.name}.jsonl", s.passages) for s in sets]
    report, seconds = timed(lambda: run_ingest(files, settings, embedder))
    return report.chunks, seconds


def build_langchain(sets: list[QASet], embedder: Embedder) -> tuple[FAISS, int, float]:
    embeddings = AskwikiEmbeddings(embedder)

    def build() -> tuple[FAISS, int]:
        pages = [
            LCDocument(page_content=p["text"], metadata={"id": p["id"], "title": p["title"]})
            for s in sets
            for p in s.passages
        ]
        docs = RecursiveCharacterTextSplitter().split_documents(pages)
        return FAISS.from_documents(docs, embeddings), len(docs)

    (store, count), seconds = timed(build)
    return store, count, seconds


def askwiki_methods(
    index: WikiIndex, settings: Settings, embedder: Embedder, k: int
) -> dict[str, Search]:
    options = retrieval_options(settings)
    floor = Retriever(index, embedder, options)
    no_floor = Retriever(index, embedder, replace(options, min_dense_score=-1.0))
    crossing = Retriever(index, embedder, replace(options, cross_language=True))
    dictionary = Retriever(index, embedder, replace(crossing.options, bilingual_dictionary=True))

    def texts(rows: list[tuple[int, float]]) -> list[str]:
        found = index.docstore.chunks_by_rows([r for r, _ in rows])
        return [found[r].chunk.text for r, _ in rows if r in found]

    floor_name = (
        f"askwiki hybrid (floor: cos>={options.min_dense_score:.2f}, or "
        f"cos+{options.keyword_weight:.2f}*coverage>={options.min_hybrid_score:.2f})"
    )
    return {
        floor_name: lambda q: [p.chunk.text for p in floor.search(q, k).passages],
        "askwiki hybrid (no floor)": lambda q: [
            p.chunk.text for p in no_floor.search(q, k).passages
        ],
        "askwiki hybrid, cross-language on": lambda q: [
            p.chunk.text for p in crossing.search(q, k).passages
        ],
        "askwiki hybrid, cross-language on + CC-CEDICT": lambda q: [
            p.chunk.text for p in dictionary.search(q, k).passages
        ],
        "dense leg alone": lambda q: texts(
            search_dense(index.dense, embedder.embed_queries([q])[0], k)
        ),
        "BM25 leg alone": lambda q: texts(index.keyword.search(q, k)),
    }


class SharedQueryVectors(Embedder):
    """The shared model, but each question's vector is computed once and reused by every method.

    Query embedding is the same work for hybrid, dense and LangChain; timing it once keeps
    the per-method latencies about what differs (search, fusion, docstore) and the run short.
    """

    def __init__(self, inner: Embedder) -> None:
        self.__dict__.update(inner.__dict__)
        self.inner = inner
        self.vectors: dict[str, np.ndarray] = {}

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """The prepared question's vector; other texts (translations) are embedded here."""
        return np.stack([
            self.vectors[t] if t in self.vectors else self.inner.embed_queries([t])[0]
            for t in texts
        ])  # fmt: skip

    def prepare(self, query: str) -> float:
        vectors, seconds = timed(lambda: self.inner.embed_queries([query]))
        self.vectors = {query: vectors[0]}
        return seconds


def evaluate(
    methods: dict[str, Search],
    prepare: Callable[[str], float],
    questions: dict[str, list[Question]],
) -> tuple[dict[str, Scores], list[float]]:
    """Ask every question of every method; ``prepare`` embeds the question once for all."""
    scores = {name: Scores() for name in methods}
    names = list(methods)
    embed_seconds: list[float] = []
    asked = 0
    total = sum(len(qs) for qs in questions.values())
    for set_name, items in questions.items():
        for name in names:
            scores[name].ranks[set_name] = []
        for item in items:
            question, answers = str(item["question"]), [str(a) for a in item["answers"]]
            embed_seconds.append(prepare(question))
            shift = asked % len(names)
            asked += 1
            for name in names[shift:] + names[:shift]:
                texts, seconds = timed(partial(methods[name], question))
                scores[name].ranks[set_name].append(first_hit(texts, answers))
                scores[name].seconds.append(seconds)
                scores[name].empty += 0 if texts else 1
            if asked % 100 == 0:
                say(f"asked {asked}/{total} questions")
    return scores, embed_seconds


def report(scores: dict[str, Scores], machine: str, k: int, embed_seconds: list[float]) -> None:
    base = scores[BASELINE]
    base_mrr, base_p50 = mrr(base.all_ranks()), percentile(base.seconds, 50)
    rows: list[list[object]] = []
    for name, s in scores.items():
        ranks = s.all_ranks()
        p50 = percentile(s.seconds, 50)
        rows.append([
            name, f"{hit_at(ranks, 1):.3f}", f"{hit_at(ranks, 5):.3f}", f"{mrr(ranks):.3f}",
            *(f"{mrr(s.ranks[n]):.3f}" for n in QA_SETS),
            f"{mrr(ranks) / base_mrr:.2f}" if base_mrr else "-",
            f"{p50 * 1000:.1f}", f"{percentile(s.seconds, 95) * 1000:.1f}",
            f"{p50 / base_p50:.2f}" if base_p50 else "-", s.empty,
        ])  # fmt: skip
    count = len(base.all_ranks())
    print_table(
        f"Retrieval on pooled CMRC 2018 dev + XQuAD zh + XQuAD en, {count} questions, "
        f"k={k} ({machine})",
        [
            "method", "hit@1", "hit@5", f"MRR@{k}", *(f"MRR {n}" for n in QA_SETS),
            "MRR vs LC", "search p50 ms", "search p95 ms", "p50 vs LC", "no results",
        ],
        rows,
    )  # fmt: skip
    print(
        "Search latency excludes the query embedding, which every method but the BM25 leg "
        "adds once and identically (computed once per question and shared): p50 "
        f"{percentile(embed_seconds, 50) * 1000:.1f} ms, p95 "
        f"{percentile(embed_seconds, 95) * 1000:.1f} ms."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=300, help="questions per set (seeded)")
    parser.add_argument("--passages", type=int, default=None, help="first N passages per set")
    parser.add_argument("--k", type=int, default=10, help="results per query")
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument(
        "--cross-language",
        action="store_true",
        help="bilingual corpus, each question asked in both languages (bench/cross_language.py)",
    )
    parser.add_argument(
        "--translate",
        action="store_true",
        help="with --cross-language: also search with the LLM's translation of each question",
    )
    parser.add_argument(
        "--human-translations",
        action="store_true",
        help="with --translate: XQuAD's parallel questions instead of the LLM's translations "
        "(a perfect translator's upper bound; no LLM is loaded)",
    )
    parser.add_argument("--work", type=Path, default=None, help="keep the built index here")
    parser.add_argument(
        "--dtypes",
        default=None,
        help="compare embedding dtypes instead (e.g. float32,bfloat16; the first is the baseline)",
    )
    args = parser.parse_args()
    if args.human_translations and not args.translate:
        parser.error("--human-translations replaces the LLM's translations: it needs --translate")
    quiet_logs()
    machine = machine_line()
    if args.dtypes:
        # Imported here: the comparison reuses this module's methods and scoring.
        from bench.retrieval_dtypes import run_dtypes

        run_dtypes(args, machine)
        return
    if args.cross_language:
        cross_language_main(args, machine)
        return
    sets = [load_qa_set(name, args.passages) for name in QA_SETS]
    questions = {s.name: seeded_sample(s.questions, args.limit, args.seed) for s in sets}
    work = temp_dir("retrieval")
    try:
        settings = Settings(index_dir=work / "indexes", index="pooled", data_dir=work / "data")
        passages = sum(len(s.passages) for s in sets)
        say(f"{machine}; askwiki ingest of {passages} pooled passages")
        embedder = load_embedder(settings)
        chunks, ingest_s = build_askwiki(sets, settings, embedder, work)
        say(f"askwiki: {chunks} chunks in {ingest_s:.0f} s; building the LangChain baseline")
        store, lc_chunks, lc_s = build_langchain(sets, embedder)
        say(f"LangChain: {lc_chunks} chunks in {lc_s:.0f} s; asking questions")
        index = open_index(settings.index_path)
        shared = SharedQueryVectors(embedder)
        store.embedding_function = AskwikiEmbeddings(shared)
        # Read before the timed questions: its one-off load is not a search's latency.
        _, dictionary_s = timed(bilingual_dictionary)
        say(f"CC-CEDICT read in {dictionary_s:.1f} s")
        methods = askwiki_methods(index, settings, shared, args.k)
        methods[BASELINE] = lambda q: [d.page_content for d in store.similarity_search(q, k=args.k)]
        scores, embed_seconds = evaluate(methods, shared.prepare, questions)
        index.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report(scores, machine, args.k, embed_seconds)
    print_table(
        "Index build (same embedding model)",
        ["pipeline", "passages", "chunks", "build s", "chunks/s"],
        [
            ["askwiki run_ingest", passages, chunks, f"{ingest_s:.1f}", f"{chunks / ingest_s:.2f}"],
            [BASELINE, passages, lc_chunks, f"{lc_s:.1f}", f"{lc_chunks / lc_s:.2f}"],
        ],
    )
    print("Questions per set: " + ", ".join(f"{n} {len(q)}" for n, q in questions.items()) + ".")


def cross_language_main(args: argparse.Namespace, machine: str) -> None:
    work = args.work or temp_dir("cross-language")
    work.mkdir(parents=True, exist_ok=True)
    try:
        settings = Settings(index_dir=work / "indexes", index="bilingual", data_dir=work / "data")
        embedder = load_embedder(settings)
        shared = SharedQueryVectors(embedder)
        args.machine = machine
        run_cross_language(settings, embedder, shared, shared.prepare, work, args)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
