"""Answer quality with the default embedded LLM: askwiki next to the LangChain tutorial.

    python bench/answers.py              # 250 GitLab Handbook + 200 CMRC questions (hours)
    python bench/answers.py --smoke      # 6 + 6 questions on a subset of each corpus
    python bench/answers.py --limit 40   # the first 40 questions of each set, full corpora
    python bench/answers.py --retrieval-only   # every question, no LLM (minutes)

Both systems get the same embedding model, the same k (askwiki's top_k, 5), the same LLM
(the embedded Qwen2.5-Coder-1.5B GGUF, temperature 0, answers capped at ``--max-tokens``).
askwiki is scored by ``askwiki eval``'s own runner (``EvalRunner`` + ``AnswerService``);
the baseline (``bench/answer_baseline.py``) is scored with the same metric functions.
Questions alternate which system goes first, so background load hits both alike.

Metrics (see ``askwiki/evaluation/metrics.py``):
- retrieval hit@1/hit@5/MRR@10 over the top 10. GitLab Handbook: a hit is a passage from a
  gold evidence file (its short answers like "10" or "g_" would match any page as strings).
  CMRC: a passage containing a gold answer or from the gold passage. askwiki's passages are
  what it serves, so a question it refuses (nothing above its relevance floor) is a miss;
  the "floor off" rows rank with the floor disabled, to compare ranking alone.
- answer accuracy: the normalised answer contains a normalised gold answer (for handbook
  dates, also "November 1, 2025"-style forms); token F1 (SQuAD-style, one token per CJK
  character) and gold-token recall (share of the gold answer's tokens in the answer, which
  does not punish a full-sentence answer).
- citation precision and answers with >= 1 citation (askwiki only: the tutorial has none),
  and the "no relevant page" rate (the tutorial never refuses).

Indexes are cached under ``--cache-dir`` by corpus fingerprint. Rows are appended to
``--out`` (default: ``<cache-dir>/answers-<full|limit-N|smoke>``) as each question finishes,
and a later run with the same ``--out`` reuses each system's rows already there: the full run
takes many hours on a small CPU and may be stopped and resumed, and deleting one system's
file re-runs only that system. ``--fresh`` starts over.

``--retrieval-only`` skips generation on both sides: askwiki runs ``askwiki eval``'s
retrieval mode (a follow-up is searched as its last user turn joined to the question, as
the tutorial searches it) and the tutorial only searches. Its rows go to
``<cache-dir>/answers-retrieval-<full|limit-N|smoke>``.

The handbook's temporal questions are relative to 2025-11-11 (each row's ``think`` says
"The current date is November 11, 2025"), so askwiki's prompt states that date there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from collections import defaultdict
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askwiki.answering.grounding import is_refusal
from askwiki.answering.service import AnswerService
from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.evaluation import EvalQuestion, EvalRow, EvalRunner, EvalSummary, summarise
from askwiki.evaluation.metrics import first_hit_rank, hit_at, mean, source_matches, token_recall
from askwiki.evaluation.runner import CitedSource, Mode, RetrievedPassage
from askwiki.llm.embedded import EmbeddedBackend
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from bench.answer_baseline import CHUNK_OVERLAP, CHUNK_SIZE, TutorialRAG, build_store
from bench.answer_sets import (
    HANDBOOK_SET,
    AnswerSet,
    cmrc_questions,
    cmrc_set,
    handbook_questions,
    handbook_set,
    open_set_index,
    passage_is_gold,
)
from bench.common import (
    machine_line,
    print_table,
    quiet_logs,
    read_jsonl,
    say,
    seeded_sample,
    timed,
    write_jsonl,
)

SMOKE_QUESTIONS = 6
# bench/floor.py --per-set 80 --pages N indexes these questions' pages (see absent_page_set).
FLOOR_QUESTIONS = 80
SEED = 2018
DEPTH = 10
OURS = "askwiki"
THEIRS = "LangChain tutorial"
# --only's choices, by the system each one names.
ONLY = {"askwiki": OURS, "tutorial": THEIRS}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="6 questions per set, subsets")
    parser.add_argument("--limit", type=int, default=None, help="first N questions per set")
    parser.add_argument("--sets", default="gitlab,cmrc", help="comma list: gitlab, cmrc")
    parser.add_argument("--max-tokens", type=int, default=96, help="answer token cap")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "askwiki" / "bench"
    )
    parser.add_argument("--out", type=Path, default=None, help="folder for rows (resumed)")
    parser.add_argument("--fresh", action="store_true", help="drop rows of an earlier run")
    parser.add_argument("--retrieval-only", action="store_true", help="search only, no LLM")
    parser.add_argument(
        "--absent",
        type=int,
        default=None,
        help="negative rejection: N questions whose gold pages are taken out of the corpus, "
        "interleaved with N whose pages stay",
    )
    parser.add_argument(
        "--pages", type=int, default=None, help="CMRC with --absent: at most this many passages"
    )
    parser.add_argument(
        "--only",
        choices=sorted(ONLY),
        default=None,
        help="run one system; the other's rows are those of an earlier run in --out",
    )
    return parser.parse_args()


def runs(system: str, only: str | None) -> bool:
    """Whether this run asks ``system`` (``--only`` names one system; None: both)."""
    return only is None or ONLY[only] == system


def prepare(name: str, args: argparse.Namespace, work: Path) -> AnswerSet:
    questions = handbook_questions() if name == "gitlab" else cmrc_questions()
    if args.absent:
        return absent_page_set(name, questions, args.absent, args.pages, work)
    count = SMOKE_QUESTIONS if args.smoke else args.limit
    picked = [replace(q, line=n) for n, q in enumerate(questions[:count], start=1)]
    if name == "gitlab":
        return handbook_set(picked, work, subset=args.smoke)
    return cmrc_set(picked, work, subset=args.smoke)


def absent_page_set(
    name: str, pool: list[EvalQuestion], n: int, pages: int | None, work: Path
) -> AnswerSet:
    """Negative rejection (RGB, Chen et al. 2023) on one set: the gold pages of the first
    ``n`` questions are taken out of the corpus and those questions asked anyway (no gold:
    answering them is an error), interleaved with the next ``n`` questions whose pages stay.

    CMRC with ``pages``: the corpus is the pages of the first 80 questions (``bench/floor.py
    --per-set 80``) plus seeded others up to ``pages``, so the index is the floor's.
    """
    absent = pool[:n]
    removed = {page for q in absent for page in q.sources}
    present = [q for q in pool[n:] if not removed & set(q.sources)][:n]
    mixed: list[EvalQuestion] = []
    for gone, kept in zip(absent, present, strict=False):
        unanswerable = replace(
            gone, answers=(), sources=(), extra={**gone.extra, "absent_pages": list(gone.sources)}
        )
        mixed += [unanswerable, kept]
    picked = [replace(q, line=i) for i, q in enumerate(mixed, start=1)]
    if name == "gitlab":
        full = handbook_set(picked, work, subset=False)
        folder = work / "handbook-absent"
        shutil.rmtree(folder, ignore_errors=True)
        for doc_id, _ in full.pages:
            if doc_id not in removed:
                target = folder / doc_id
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(full.corpus / doc_id, target)
        kept_pages = [(d, t) for d, t in full.pages if d not in removed]
        return replace(full, questions=picked, corpus=folder, pages=kept_pages)
    full = cmrc_set(picked, work, subset=False)
    keep = {d for d, _ in full.pages}
    if pages:
        needed = {page for q in pool[:FLOOR_QUESTIONS] for page in q.sources}
        others = [d for d, _ in full.pages if d not in needed]
        keep = needed | set(seeded_sample(others, max(0, pages - len(needed)), SEED))
    rows = [r for r in read_jsonl(full.corpus) if r["id"] in keep and r["id"] not in removed]
    corpus = write_jsonl(work / "cmrc-absent.jsonl", rows)
    texts = [(str(r["id"]), str(r["text"])) for r in rows]
    return replace(full, questions=picked, corpus=corpus, pages=texts)


def by_evidence_file(row: EvalRow, question: EvalQuestion) -> None:
    """Re-score retrieval by evidence file only (handbook answers are too short to match)."""
    for passage in row.retrieved:
        passage.gold = source_matches(passage.doc_id, question.sources)
    for page in row.closest:
        page.gold = source_matches(page.doc_id, question.sources)
    row.hit_rank = first_hit_rank([p.gold for p in row.retrieved])


def rank_without_floor(
    row: EvalRow, question: EvalQuestion, retriever: Retriever, file_level: bool
) -> None:
    """askwiki's ranking with the relevance floor off: retrieval apart from refusals."""
    passages = retriever.search(row.query, DEPTH).passages
    flags = [
        passage_is_gold(question, p.chunk.doc_id, p.chunk.search_text, file_level) for p in passages
    ]
    row.extra["rank_floor_off"] = first_hit_rank(flags)


def rows_path(out: Path, set_name: str, system: str) -> Path:
    return out / f"{set_name}-{system.split()[0].lower()}.jsonl"


def load_rows(path: Path) -> dict[int, EvalRow]:
    """Rows of an earlier run by question line (the last one wins); none if no file."""
    if not path.is_file():
        return {}
    rows = {}
    for data in read_jsonl(path):
        data["retrieved"] = [RetrievedPassage(**p) for p in data["retrieved"]]
        data["cited"] = [CitedSource(**c) for c in data["cited"]]
        data["closest"] = [CitedSource(**c) for c in data.get("closest", [])]
        row = EvalRow(**data)
        rows[row.line] = row
    return rows


def append_row(path: Path, row: EvalRow) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row.as_dict(), ensure_ascii=False) + "\n")


def gold_recall(rows: list[EvalRow], questions: list[EvalQuestion]) -> float | None:
    by_line = {question.line: question for question in questions}
    values = [
        max(token_recall(row.answer or "", gold) for gold in by_line[row.line].answers)
        for row in rows
        if row.error is None and row.correct is not None
    ]
    return mean(values)


def run_set(
    answer_set: AnswerSet,
    settings: Settings,
    embedder: Embedder,
    llm: EmbeddedBackend | None,
    args: argparse.Namespace,
    out: Path,
) -> dict[str, object]:
    name = answer_set.name
    file_level = name == HANDBOOK_SET
    questions = answer_set.questions
    say(f"{name}: indexing {len(answer_set.pages)} pages for askwiki (cached when unchanged)")
    opened, ingest_s = timed(lambda: open_set_index(answer_set, settings, embedder))
    index_settings, live, ingest = opened.settings, opened.live, opened.ingest
    say(f"{name}: indexing for the LangChain tutorial (cached when unchanged)")
    (store, lc_chunks), store_s = timed(lambda: build_store(answer_set, embedder, args.cache_dir))
    if llm is None:
        ours = EvalRunner(live)
    else:
        service = AnswerService(index_settings, live, embedder, lambda: llm, today=answer_set.today)
        ours = EvalRunner(live, service)
    floor_off = replace(retrieval_options(index_settings), min_dense_score=-1.0)
    unfloored = Retriever(live.retriever().index, embedder, floor_off)
    theirs = TutorialRAG(
        store,
        llm,
        k=index_settings.top_k,
        max_tokens=args.max_tokens,
        temperature=0.0,
        file_level=file_level,
    )
    rows: dict[str, list[EvalRow]] = {OURS: [], THEIRS: []}
    earlier = {system: load_rows(rows_path(out, name, system)) for system in rows}
    systems = [(OURS, ours.evaluate), (THEIRS, theirs.evaluate if llm else theirs.retrieve)]
    skipped = {OURS: 0, THEIRS: 0}
    for n, question in enumerate(questions, start=1):
        for system, evaluate in systems if n % 2 else systems[::-1]:
            done = earlier[system].get(question.line)
            if done is not None and done.question == question.question:
                rows[system].append(done)
                continue
            if not runs(system, args.only):
                skipped[system] += 1  # left for a later run with the same --out
                continue
            row = evaluate(question)
            if file_level:
                by_evidence_file(row, question)
            if system == OURS:
                rank_without_floor(row, question, unfloored, file_level)
            rows[system].append(row)
            append_row(rows_path(out, name, system), row)
        done_now = [
            f"{system.split()[-1]} {_mark(r[-1])} {r[-1].seconds:.0f}s"
            for system, r in rows.items()
            if r and r[-1].line == question.line
        ]
        say(f"{name} {n}/{len(questions)}: " + ", ".join(done_now))
    title = f"{name}: {len(questions)} questions, {len(answer_set.pages)} pages"
    summaries = print_comparison(title, rows, questions, ours.mode)
    if any(skipped.values()):
        # Each column above covers its own questions; this one the questions both ran.
        both = {r.line for r in rows[OURS]} & {r.line for r in rows[THEIRS]}
        paired = {system: [r for r in rs if r.line in both] for system, rs in rows.items()}
        print_comparison(
            f"{name}: the {len(both)} questions both systems ran", paired, questions, ours.mode
        )
    print(
        f"Index: askwiki {ingest.chunks} chunks ({ingest_s:.0f} s to build or check), "
        f"tutorial {lc_chunks} chunks of {CHUNK_SIZE}/{CHUNK_OVERLAP} chars ({store_s:.0f} s). "
        f"Tutorial prompts cut to fit the context: "
        f"{sum(1 for r in rows[THEIRS] if r.extra.get('dropped_chunks'))}.",
        flush=True,
    )
    for system, system_rows in rows.items():
        resumed = sum(1 for row in system_rows if earlier[system].get(row.line) is row)
        if resumed:
            print(f"{system}: {resumed} of {len(questions)} rows came from an earlier run.")
        if skipped[system]:
            print(
                f"{system}: {skipped[system]} of {len(questions)} questions not run yet "
                f"(--only): its column covers the other {len(system_rows)}."
            )
    if file_level:
        print_table(f"{name} by question type", *per_type(rows))
    return {system: asdict(summary) for system, summary in summaries.items()}


def print_comparison(
    title: str, rows: dict[str, list[EvalRow]], questions: list[EvalQuestion], mode: Mode
) -> dict[str, EvalSummary]:
    summaries = {system: summarise(r, mode) for system, r in rows.items()}
    recalls = {system: gold_recall(r, questions) for system, r in rows.items()}
    print_table(
        title, ["metric", OURS, THEIRS, "askwiki / tutorial"], metric_rows(summaries, recalls, rows)
    )
    return summaries


def _mark(row: EvalRow) -> str:
    if row.error:
        return "error"
    return {True: "right", False: "wrong", None: "-"}[row.correct]


def _num(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def metric_rows(
    summaries: dict[str, EvalSummary],
    recalls: dict[str, float | None],
    rows: dict[str, list[EvalRow]],
) -> list[list[str]]:
    a, b = summaries[OURS], summaries[THEIRS]
    table: list[list[str]] = []

    def add(label: str, x: float | None, y: float | None, ratio: bool = True) -> None:
        if x is None and y is None:
            return  # e.g. answer metrics in a --retrieval-only run
        table.append([label, _num(x), _num(y), _ratio(x, y) if ratio else "-"])

    add("retrieval hit@1 (a refusal is a miss)", a.hit_at_1, b.hit_at_1)
    add("retrieval hit@5 (a refusal is a miss)", a.hit_at_5, b.hit_at_5)
    add("retrieval MRR@10 (a refusal is a miss)", a.mrr_at_10, b.mrr_at_10)
    ranks = [r.extra.get("rank_floor_off") for r in rows[OURS] if r.answerable and not r.error]
    theirs = [r.hit_rank for r in rows[THEIRS] if r.answerable and not r.error]
    for k in (1, 5):
        ours_k = mean([hit_at(rank, k) for rank in ranks])
        add(f"retrieval hit@{k}, askwiki floor off", ours_k, mean([hit_at(x, k) for x in theirs]))
    add("answer accuracy (contains gold)", a.answer_accuracy, b.answer_accuracy)
    add("answer token F1", a.answer_f1, b.answer_f1)
    add("gold-token recall", recalls[OURS], recalls[THEIRS])
    add("citation precision", a.citation_precision, None, ratio=False)
    add("answers with >= 1 citation", a.answers_with_citation, b.answers_with_citation, False)
    add('"no relevant page" rate', a.no_answer_rate, b.no_answer_rate, ratio=False)
    add("refused with a gold page among the closest", a.closest_hit_rate, None, ratio=False)
    absent = {
        s: [r for r in rs if "absent_pages" in r.extra and not r.error] for s, rs in rows.items()
    }
    if absent[OURS]:
        add(
            "absent page: confident answers (status answered)",
            mean([float(r.status == "answered") for r in absent[OURS]]),
            mean([float(r.status == "answered") for r in absent[THEIRS]]),
            ratio=False,
        )
        add(
            "absent page: answers that are not a refusal",
            mean(
                [
                    float(r.status == "answered" and not is_refusal(r.answer or ""))
                    for r in absent[OURS]
                ]
            ),
            mean([float(not is_refusal(r.answer or "")) for r in absent[THEIRS]]),
            ratio=False,
        )
        add(
            "absent page: answers that cite a source",
            mean([float(bool(r.cited)) for r in absent[OURS]]),
            None,
            ratio=False,
        )
        add(
            "unsupported sentences removed per answer",
            mean([float(r.extra.get("unsupported_removed", 0)) for r in rows[OURS] if not r.error]),
            None,
            ratio=False,
        )
    correct = [r for r in rows[OURS] if r.correct and not r.error]
    if correct:
        add(
            "correct answers that lost a sentence to grounding",
            mean([float(bool(r.extra.get("unsupported_removed"))) for r in correct]),
            None,
            ratio=False,
        )
    answerable = [r for r in rows[OURS] if r.answerable and r.status and not r.error]
    if answerable:
        # The floor let a passage through, then grounding (or the model) refused.
        add(
            "answerable: refused after generation",
            mean([float(r.status == "no_answer" and bool(r.retrieved)) for r in answerable]),
            None,
            ratio=False,
        )
    seconds = {s: [r.seconds for r in rs if r.error is None] for s, rs in rows.items()}
    p50 = {s: statistics.median(v) if v else None for s, v in seconds.items()}
    add("seconds per question, p50", p50[OURS], p50[THEIRS])
    table.append(["failed questions", str(a.errors), str(b.errors), "-"])
    return table


def per_type(rows: dict[str, list[EvalRow]]) -> tuple[list[str], list[list[str]]]:
    groups: dict[str, dict[str, list[EvalRow]]] = defaultdict(lambda: defaultdict(list))
    for system, system_rows in rows.items():
        for row in system_rows:
            groups[str(row.extra.get("type"))][system].append(row)
    headers = [
        "type",
        "n",
        "askwiki accuracy",
        "tutorial accuracy",
        "askwiki hit@5",
        "tutorial hit@5",
        "askwiki hit@1, floor off",
        "tutorial hit@1",
    ]
    table = []
    for kind, by_system in sorted(groups.items()):
        a, b = summarise(by_system[OURS], "answers"), summarise(by_system[THEIRS], "answers")
        accuracy = [_num(a.answer_accuracy), _num(b.answer_accuracy)]
        unfloored = [r.extra.get("rank_floor_off") for r in by_system[OURS] if not r.error]
        table.append(
            [
                kind,
                str(len(by_system[OURS])),
                *accuracy,
                _num(a.hit_at_5),
                _num(b.hit_at_5),
                _num(mean([hit_at(rank, 1) for rank in unfloored])),
                _num(b.hit_at_1),
            ]
        )
    return headers, table


def main() -> None:
    args = parse_args()
    quiet_logs()
    machine = machine_line()
    mode = "smoke" if args.smoke else f"limit-{args.limit}" if args.limit else "full"
    if args.absent:
        mode = f"absent-{args.absent}" + (f"-pages-{args.pages}" if args.pages else "")
    kind = "answers-retrieval" if args.retrieval_only else "answers"
    out = args.out or args.cache_dir / f"{kind}-{mode}"
    if args.fresh:
        for old in out.glob("*.jsonl"):
            old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        index_dir=args.cache_dir,
        llm_backend="embedded",
        llm_max_answer_tokens=args.max_tokens,
        llm_temperature=0.0,
        _env_file=None,  # type: ignore[call-arg]
    )
    embedder = load_embedder(settings)
    llm = None if args.retrieval_only else EmbeddedBackend(settings)
    if llm is not None:
        say(f"loading the embedded LLM ({machine})")
        llm.load()
    results: dict[str, object] = {"machine": machine, "args": vars(args) | {"out": str(out)}}
    try:
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            answer_set = prepare(name, args, out / "work")
            results[answer_set.name] = run_set(answer_set, settings, embedder, llm, args, out)
    finally:
        if llm is not None:
            llm.close()
    (out / "summary.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\n{machine}. Rows and summary.json in {out}", flush=True)


if __name__ == "__main__":
    main()
