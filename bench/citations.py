"""The citation check on real answers: stored chunk vectors against re-embedding the sources.

    python bench/citations.py [--rows bench/results/answers-2026-11-29] [--rounds 3]

After generation, ``check_citations`` scores every answer sentence against every numbered
source. It takes the sources' similarity from the chunk vectors already in the FAISS
index (``Retriever.stored_vectors``) and embeds only the sentences; the baseline, measured
in the same run, is what askwiki did before: embedding the sentences and every source
passage's text together (a merged passage as one text, cut at the model's 512 tokens).

The answers are the real LLM answers of an earlier ``bench/answers.py`` run (askwiki's
rows in ``--rows``); each is checked against the passages its question retrieves now,
on the same indexes (built, or reused from the cache, like ``bench/answers.py``). Both
methods run on every answer in each round, in rotating order. Reported: milliseconds per
answer (p50 and mean), the ratio, and how often the two methods give the same checked
answer (markers and cited sources).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askwiki.answering.citations import CheckedAnswer, SourceVectors, check_citations
from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.passages import Passage
from askwiki.retrieval import Retriever
from askwiki.settings import Settings
from bench.answer_sets import (
    AnswerSet,
    cmrc_questions,
    cmrc_set,
    handbook_questions,
    handbook_set,
    open_set_index,
)
from bench.common import machine_line, print_table, quiet_logs, read_jsonl, say

ROOT = Path(__file__).resolve().parents[1]
STORED = "stored chunk vectors"
BASELINE = "re-embed sources (baseline)"


@dataclass
class Case:
    """One real answer and the passages its question retrieves."""

    answer: str
    texts: list[str]
    passages: list[Passage]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=Path, default=ROOT / "bench" / "results" / "answers-2026-11-29"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "askwiki" / "bench"
    )
    return parser.parse_args()


def answer_sets(work: Path) -> list[AnswerSet]:
    return [
        handbook_set(handbook_questions(), work, subset=False),
        cmrc_set(cmrc_questions(), work, subset=False),
    ]


def load_cases(
    answer_set: AnswerSet, rows_dir: Path, settings: Settings, embedder: Embedder
) -> list[tuple[Case, Retriever]]:
    rows_file = rows_dir / f"{answer_set.name}-askwiki.jsonl"
    rows = [r for r in read_jsonl(rows_file) if r.get("status") == "answered" and r["answer"]]
    say(f"{answer_set.name}: {len(rows)} answers; indexing (cached when unchanged)")
    # The service's own search: these answers passed its floor.
    retriever = open_set_index(answer_set, settings, embedder).live.retriever()
    found: list[tuple[Case, Retriever]] = []
    for row in rows:
        passages = retriever.search(row["query"]).passages
        if not passages:
            continue
        case = Case(row["answer"], [p.chunk.search_text for p in passages], passages)
        found.append((case, retriever))
    return found


def main() -> None:
    args = parse_args()
    quiet_logs()
    machine = machine_line()
    settings = Settings(index_dir=args.cache_dir, _env_file=None)  # type: ignore[call-arg]
    embedder = load_embedder(settings)
    all_cases = [
        found
        for answer_set in answer_sets(args.cache_dir / "citations-work")
        for found in load_cases(answer_set, args.rows, settings, embedder)
    ]
    merged = sum(1 for case, _ in all_cases for p in case.passages if len(p.row_ids) > 1)
    sources = sum(len(case.passages) for case, _ in all_cases)

    def stored(case: Case, retriever: Retriever) -> CheckedAnswer:
        vectors = retriever.stored_vectors(case.passages)
        return check_citations(case.answer, case.texts, vectors, embedder.embed_passages)

    def baseline(case: Case, retriever: Retriever) -> CheckedAnswer:
        vectors: SourceVectors = list(embedder.embed_passages(case.texts)[:, None, :])
        return check_citations(case.answer, case.texts, vectors, embedder.embed_passages)

    methods: dict[str, Callable[[Case, Retriever], CheckedAnswer]] = {
        STORED: stored,
        BASELINE: baseline,
    }
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    results: dict[str, list[CheckedAnswer]] = {name: [] for name in methods}
    say(f"checking {len(all_cases)} answers x {args.rounds} rounds, both methods")
    for r in range(args.rounds):
        names = list(methods)[r % 2 :] + list(methods)[: r % 2]
        for case, retriever in all_cases:
            for name in names:
                started = time.perf_counter()
                checked = methods[name](case, retriever)
                seconds[name].append(time.perf_counter() - started)
                if r == 0:
                    results[name].append(checked)
    same = sum(
        a.text == b.text and a.cited == b.cited
        for a, b in zip(results[STORED], results[BASELINE], strict=True)
    )
    base_p50 = statistics.median(seconds[BASELINE])
    rows = [
        [
            name,
            f"{statistics.median(values) * 1000:.1f}",
            f"{statistics.fmean(values) * 1000:.1f}",
            f"{statistics.median(values) / base_p50:.2f}",
        ]
        for name, values in seconds.items()
    ]
    print_table(
        f"Citation check per answer, {len(all_cases)} real answers x {args.rounds} rounds",
        ["method", "p50 ms", "mean ms", "p50 / baseline"],
        rows,
    )
    print(
        f"Same checked answer (markers and cited sources) from both methods: {same} of "
        f"{len(all_cases)}. Sources: {sources}, of which {merged} merge neighbouring chunks. "
        f"{machine}.",
        flush=True,
    )


if __name__ == "__main__":
    main()
