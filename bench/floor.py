"""Relevance floor calibration: answerable questions kept vs off-topic questions refused.

    python bench/floor.py                  # 4 corpora, ~850 questions, cached indexes
    python bench/floor.py --per-set 40     # quicker

askwiki refuses a question ("no relevant page") when no retrieved passage passes the
relevance floor: a passage passes when its cosine similarity to the question reaches
``ASKWIKI_MIN_DENSE_SCORE``, or when cosine + ``ASKWIKI_KEYWORD_WEIGHT`` x keyword coverage
(the share of the question's keywords in the passage) reaches ``ASKWIKI_MIN_HYBRID_SCORE``.
This measures, for floor settings on a grid, both sides of that trade:

- answerable: each question asked of its own corpus (GitLab Handbook, CMRC 2018 dev,
  XQuAD en, XQuAD zh); kept = a gold passage (from a gold file / containing a gold answer)
  passes the floor among the fused top 15 (what ``Retriever.search`` filters).
- answerable across languages: XQuAD zh questions asked of XQuAD en and the reverse (the
  same passages translated); kept = the parallel passage passes the floor.
- off-topic: each question asked of the *other* corpora (same language: handbook <-> XQuAD
  en, CMRC <-> XQuAD zh; and across languages); refused = no passage passes.

Features are cached per question and corpus under ``--cache-dir``; the grid runs on them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askwiki.embedding.embedder import load_embedder
from askwiki.evaluation import EvalQuestion
from askwiki.retrieval import (
    RetrievalOptions,
    Retriever,
    keyword_coverage,
    passes_floor,
)
from askwiki.settings import Settings
from askwiki.text import detect_language
from bench.answer_sets import (
    HANDBOOK_SET,
    AnswerSet,
    cmrc_questions,
    cmrc_set,
    fingerprint,
    handbook_questions,
    handbook_set,
    open_set_index,
    passage_is_gold,
)
from bench.common import (
    load_qa_set,
    machine_line,
    print_table,
    quiet_logs,
    say,
    seeded_sample,
    temp_dir,
    write_jsonl,
)

CANDIDATES = 15  # Retriever.search filters the fused top k*3 (k=5)
SEED = 2018
# XQuAD zh and en hold the same passages: asked of each other they are answerable
# cross-language pairs (kept), not off-topic ones.
PARALLEL = {"xquad-en", "xquad-zh"}
# Cosines include the cross-language offset, keywords their glossary translations.
FEATURES_VERSION = "crosslingual-1"
LANGUAGE = {HANDBOOK_SET: "en", "xquad-en": "en", "cmrc2018": "zh", "xquad-zh": "zh"}


def rule(dense: float, weight: float, hybrid: float) -> RetrievalOptions:
    return RetrievalOptions(min_dense_score=dense, keyword_weight=weight, min_hybrid_score=hybrid)


def label(opts: RetrievalOptions) -> str:
    return (
        f"cos>={opts.min_dense_score:.2f}, "
        f"or cos+{opts.keyword_weight:.2f}*coverage>={opts.min_hybrid_score:.2f}"
    )


# The floor before this benchmark existed (a different form), for comparison.
def legacy_passes(cos: float, cov: float) -> bool:
    return cos >= 0.86 or (cos >= 0.80 and cov >= 0.6)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-set", type=int, default=250, help="questions per corpus (max)")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "askwiki" / "bench"
    )
    parser.add_argument("--min-refused", type=float, default=0.90, help="off-topic target")
    return parser.parse_args()


def xquad_set(name: str, per_set: int, work: Path) -> AnswerSet:
    qa = load_qa_set(name)
    picked = seeded_sample(qa.questions, per_set, SEED)
    questions = [
        EvalQuestion(
            question=str(q["question"]),
            answers=tuple(str(a) for a in q["answers"]),
            sources=(str(q["passage_id"]),),
            extra={"set": name},
        )
        for q in picked
    ]
    corpus = write_jsonl(work / f"{name}.jsonl", qa.passages)
    pages = [(str(p["id"]), str(p["text"])) for p in qa.passages]
    return AnswerSet(name, questions, corpus, pages)


def collect(args: argparse.Namespace) -> list[dict[str, object]]:
    """Per question and corpus: (cosine, keyword coverage, gold) of the fused top 15."""
    work = temp_dir("floor")
    sets = [
        handbook_set(handbook_questions()[: args.per_set], work, subset=False),
        cmrc_set(cmrc_questions()[: args.per_set], work, subset=False),
        xquad_set("xquad-en", args.per_set, work),
        xquad_set("xquad-zh", args.per_set, work),
    ]
    cache = args.cache_dir / "floor-features.jsonl"
    key = json.dumps(
        [FEATURES_VERSION, *([s.name, fingerprint(s), len(s.questions)] for s in sets)]
    )
    if cache.is_file():
        first, *rest = cache.read_text(encoding="utf-8").splitlines()
        if first == key:
            return [json.loads(line) for line in rest]
    settings = Settings(index_dir=args.cache_dir, _env_file=None)  # type: ignore[call-arg]
    embedder = load_embedder(settings)
    retrievers: dict[str, Retriever] = {}
    for answer_set in sets:
        say(f"{answer_set.name}: indexing {len(answer_set.pages)} pages (cached when unchanged)")
        retrievers[answer_set.name] = open_set_index(
            answer_set, settings, embedder
        ).live.retriever()
    rows: list[dict[str, object]] = []
    for answer_set in sets:
        texts = [q.question for q in answer_set.questions]
        say(f"{answer_set.name}: embedding {len(texts)} questions")
        vectors = embedder.embed_queries(texts)
        for question, vector in zip(answer_set.questions, vectors, strict=True):
            file_level = answer_set.name == HANDBOOK_SET
            language = detect_language(question.question)
            for corpus, retriever in retrievers.items():
                own = corpus == answer_set.name
                parallel = {answer_set.name, corpus} == PARALLEL
                keywords = retriever.query_keywords(question.question)
                passages = retriever.candidates(question.question, vector, CANDIDATES)
                rows.append(
                    {
                        "set": answer_set.name,
                        "corpus": corpus,
                        "own": own,
                        "parallel": parallel,
                        "question": question.question,
                        "passages": [
                            [
                                round(retriever.floor_cosine(p, language), 4),
                                round(keyword_coverage(keywords, p), 3),
                                (
                                    own
                                    and passage_is_gold(
                                        question, p.chunk.doc_id, p.chunk.search_text, file_level
                                    )
                                )
                                or (parallel and _same_passage(p.chunk.doc_id, question)),
                            ]
                            for p in passages
                        ],
                    }
                )
    cache.write_text(
        key + "\n" + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
        encoding="utf-8",
    )
    return rows


def _same_passage(doc_id: str, question: EvalQuestion) -> bool:
    """XQuAD's zh and en passages are parallel: the other language's copy is gold too."""
    return doc_id.split("/", 1)[-1] == question.sources[0].split("/", 1)[-1]


def score(opts: RetrievalOptions | None, rows: list[dict[str, object]]) -> dict[str, float]:
    """Kept share per own corpus, refused share per off-topic pairing."""
    passes = legacy_passes if opts is None else partial(passes_floor, opts)
    counts: dict[str, list[int]] = {}
    for row in rows:
        passages = row["passages"]  # type: ignore[assignment]
        if row["own"] or row.get("parallel"):
            group = f"kept {row['set']}" if row["own"] else f"kept {row['set']}->{row['corpus']}"
            ok = any(gold and passes(cos, cov) for cos, cov, gold in passages)
        else:
            same = LANGUAGE[str(row["set"])] == LANGUAGE[str(row["corpus"])]
            kind = "same-language" if same else "cross-language"
            group = f"refused {kind} {row['set']}->{row['corpus']}" if same else f"refused {kind}"
            ok = not any(passes(cos, cov) for cos, cov, _ in passages)
        tally = counts.setdefault(group, [0, 0])
        tally[0] += ok
        tally[1] += 1
    return {group: hits / total for group, (hits, total) in sorted(counts.items())}


def grid() -> list[RetrievalOptions]:
    dense = [x / 100 for x in range(86, 93)]
    weight = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
    hybrid = [x / 100 for x in range(84, 100)]
    return [rule(*values) for values in itertools.product(dense, weight, hybrid)]


def mean_kept(scores: dict[str, float]) -> float:
    values = [v for g, v in scores.items() if g.startswith("kept")]
    return sum(values) / len(values)


def worst_refused(scores: dict[str, float]) -> float:
    return min(v for g, v in scores.items() if g.startswith("refused"))


def main() -> None:
    args = parse_args()
    quiet_logs()
    machine = machine_line()
    rows = collect(args)
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    current = rule(defaults.min_dense_score, defaults.keyword_weight, defaults.min_hybrid_score)
    safe = [
        (opts, s)
        for opts, s in ((opts, score(opts, rows)) for opts in grid())
        if worst_refused(s) >= args.min_refused
    ]
    safe.sort(key=lambda item: mean_kept(item[1]), reverse=True)
    shown: list[tuple[str, dict[str, float]]] = [
        ("no floor", score(rule(-1.0, 0.0, -1.0), rows)),
        ("before: cos>=0.86, or cos>=0.80 with 60% keywords", score(None, rows)),
        ("default: " + label(current), score(current, rows)),
    ]
    shown += [(label(opts), s) for opts, s in safe[:4] if opts != current]
    groups = list(shown[0][1])
    table = [
        [name, *(f"{s[g]:.3f}" for g in groups), f"{mean_kept(s):.3f}", f"{worst_refused(s):.3f}"]
        for name, s in shown
    ]
    print_table(
        f"Relevance floor: answerable questions kept vs off-topic refused ({machine})",
        ["floor", *groups, "mean kept", "worst refused"],
        table,
    )
    print(
        f"{sum(1 for r in rows if r['own'])} answerable and "
        f"{sum(1 for r in rows if not r['own'])} off-topic question-corpus pairs. Rows after "
        f"the default: the best of {len(safe)} grid settings that refuse >= "
        f"{args.min_refused:.0%} of off-topic questions in every same-language pairing.",
        flush=True,
    )


if __name__ == "__main__":
    main()
