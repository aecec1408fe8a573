"""Ingest throughput next to the raw throughput of the same model on the same chunks.

    python bench/ingest.py [--limit N] [--rounds R] [--source FILE]

Per round (order rotated between rounds): encode every chunk text the pipeline would
embed in one ``embed_passages`` call (the ceiling), then ``run_ingest`` into a fresh
temporary index, then ``run_ingest`` again with nothing changed. Ratios are taken within a
round; wall time and process CPU time are both shown, since CPU time hides most of the
noise of other work on the machine. Targets (issue 2): ingest/raw >= 0.85, re-run/full <= 0.05.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askwiki.documents import Chunk, Document
from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.ingest.loaders import LoaderOptions, discover, load
from askwiki.ingest.pipeline import chunk_texts, run_ingest
from askwiki.ingest.splitter import Splitter
from askwiki.settings import Settings
from bench.common import (
    DATASETS,
    machine_line,
    median,
    print_table,
    quiet_logs,
    read_jsonl,
    round_robin,
    say,
    temp_dir,
    write_jsonl,
)

DEFAULT_SOURCE = DATASETS / "cmrc2018-dev" / "passages.jsonl"
RAW_TARGET = 0.85
RERUN_TARGET = 0.05
WARM_UP = 16


@dataclass
class Cost:
    """Wall and CPU seconds of one step."""

    wall: float
    cpu: float


def measure(fn: Callable[[], object]) -> Cost:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return Cost(time.perf_counter() - wall, time.process_time() - cpu)


def pipeline_chunks(source: Path, settings: Settings, embedder: Embedder) -> list[Chunk]:
    """The unique chunks ``run_ingest`` embeds for ``source`` (same loader and splitter)."""
    options = LoaderOptions(int(settings.max_file_mb * 1024 * 1024), settings.pdf_timeout_s, None)
    splitter = Splitter(
        embedder.count_tokens,
        embedder.split_by_tokens,
        settings.chunk_tokens,
        settings.chunk_overlap_tokens,
    )
    documents = [
        item for found in discover([source]) for item in load(found, options)
        if isinstance(item, Document)
    ]  # fmt: skip
    chunks = [chunk for document in documents for chunk in splitter.split(document)]
    return list({c.content_hash: c for c in chunks}.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="JSONL of pages")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repetitions")
    args = parser.parse_args()
    quiet_logs()

    work = temp_dir("ingest")
    try:
        source = args.source
        if args.limit:
            source = write_jsonl(work / "pages.jsonl", read_jsonl(args.source)[: args.limit])
        settings = Settings(index_dir=work / "indexes", data_dir=work / "data")
        machine = machine_line()
        say(f"{machine}; loading the embedding model")
        embedder = load_embedder(settings)
        texts = chunk_texts(pipeline_chunks(source, settings, embedder))
        # The first calls into torch are slow; neither side should pay for them.
        embedder.embed_passages(texts[:WARM_UP])
        say(f"{len(texts)} chunks from {source}; {args.rounds} round(s)")

        runs: list[tuple[Cost, Cost, int]] = []

        def raw() -> Cost:
            say("raw: one embed_passages call over every chunk text")
            return measure(lambda: embedder.embed_passages(texts))

        def ingest() -> Cost:
            name = f"round{len(runs)}"
            run_settings = settings.model_copy(update={"index": name})
            say(f"ingest: full run into {run_settings.index_path}")
            reports = []
            full = measure(lambda: reports.append(run_ingest([source], run_settings, embedder)))
            say("ingest: unchanged re-run")
            rerun = measure(lambda: reports.append(run_ingest([source], run_settings, embedder)))
            if reports[1].chunks_embedded:
                raise RuntimeError(f"re-run embedded {reports[1].chunks_embedded} chunks")
            runs.append((full, rerun, reports[0].chunks_embedded))
            return full

        results = round_robin({"raw": raw, "ingest": ingest}, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows: list[list[object]] = []
    ratios: list[float] = []
    reruns: list[float] = []
    for n, (raw_cost, (full, rerun, embedded)) in enumerate(
        zip(results["raw"], runs, strict=True), start=1
    ):
        if embedded != len(texts):
            raise RuntimeError(f"ingest embedded {embedded} chunks, raw encoded {len(texts)}")
        ratio, ratio_cpu = raw_cost.wall / full.wall, raw_cost.cpu / full.cpu
        ratios.append(ratio)
        reruns.append(rerun.wall / full.wall)
        rows.append([
            n, len(texts),
            f"{len(texts) / raw_cost.wall:.2f}", f"{len(texts) / full.wall:.2f}",
            f"{ratio:.3f}", f"{ratio_cpu:.3f}",
            f"{full.wall:.1f}", f"{rerun.wall:.2f}", f"{rerun.wall / full.wall:.4f}",
        ])  # fmt: skip
    print_table(
        f"Ingest throughput vs raw encoding ({machine})",
        [
            "round", "chunks", "raw chunks/s", "ingest chunks/s", "ingest/raw (wall)",
            "ingest/raw (CPU)", "full run s", "unchanged re-run s", "re-run/full",
        ],
        rows,
    )  # fmt: skip
    ratio, rerun_share = median(ratios), median(reruns)
    print(
        f"median ingest/raw = {ratio:.3f} (target >= {RAW_TARGET}: "
        f"{'met' if ratio >= RAW_TARGET else 'MISSED'}); median re-run/full = "
        f"{rerun_share:.4f} (target <= {RERUN_TARGET}: "
        f"{'met' if rerun_share <= RERUN_TARGET else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
