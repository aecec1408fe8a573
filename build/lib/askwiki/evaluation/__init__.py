"""``askwiki eval``'s library: read questions, score retrieval and answers, summarise.

``load_questions(path)`` gives the questions and the bad lines;
``EvalRunner(live_index, service).run(questions, bad_lines)`` gives an ``EvalReport`` whose
``summary`` holds hit@1/hit@5/MRR@10 and, with a service, the answer metrics.
"""

from __future__ import annotations

from askwiki.evaluation.dataset import BadLine, EvalQuestion, load_questions, parse_lines
from askwiki.evaluation.metrics import (
    Gold,
    answer_tokens,
    best_f1,
    contains_answer,
    first_hit_rank,
    hit_at,
    normalize_answer,
    reciprocal_rank,
    source_matches,
    token_f1,
    token_recall,
)
from askwiki.evaluation.runner import (
    CitedSource,
    EvalReport,
    EvalRow,
    EvalRunner,
    EvalSummary,
    RetrievedPassage,
    fallback_query,
    summarise,
)

__all__ = [
    "BadLine",
    "CitedSource",
    "EvalQuestion",
    "EvalReport",
    "EvalRow",
    "EvalRunner",
    "EvalSummary",
    "Gold",
    "RetrievedPassage",
    "answer_tokens",
    "best_f1",
    "contains_answer",
    "fallback_query",
    "first_hit_rank",
    "hit_at",
    "load_questions",
    "normalize_answer",
    "parse_lines",
    "reciprocal_rank",
    "source_matches",
    "summarise",
    "token_f1",
    "token_recall",
]
