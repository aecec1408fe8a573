from __future__ import annotations

import numpy as np

from askwiki.questions.gaps import cluster_gaps, find_gaps
from askwiki.questions.store import GapCandidate, QuestionSummary
from tests.unit.questions.conftest import make_answer, unit


def candidate(
    question: str, day: int, vector: np.ndarray | None, no_answer: bool = True
) -> GapCandidate:
    summary = QuestionSummary(
        id=f"{question}-{day}",
        question=question,
        asked_at=f"2025-06-{day:02d}T00:00:00+00:00",
        answer_snippet="",
        status="no_answer" if no_answer else "answered",
        language="en",
    )
    return GapCandidate(summary, vector, no_answer, 0 if no_answer else 2)


def test_similar_questions_group_and_biggest_group_comes_first() -> None:
    gaps = cluster_gaps(
        [
            candidate("How do I bake bread?", 1, unit(1, 0.05)),
            candidate("Bread baking steps", 3, unit(1, 0.1)),
            candidate("how do I bake bread", 4, unit(1, 0.05)),
            candidate("Who won the 1998 World Cup?", 2, unit(0, 0, 1)),
            candidate("Tax rules", 5, None, no_answer=False),
        ],
        min_similarity=0.9,
    )

    assert [(g.count, g.question) for g in gaps] == [
        (3, "how do I bake bread"),
        (1, "Tax rules"),
        (1, "Who won the 1998 World Cup?"),
    ]
    bread = gaps[0]
    assert bread.last_asked == "2025-06-04T00:00:00+00:00"
    assert [e.question for e in bread.examples] == ["how do I bake bread", "Bread baking steps"]
    assert (bread.no_answer, bread.downvoted) == (3, 0)
    assert (gaps[1].no_answer, gaps[1].downvoted) == (0, 1)


def test_dissimilar_questions_stay_apart() -> None:
    gaps = cluster_gaps(
        [candidate("A?", 1, unit(1, 0)), candidate("B?", 2, unit(0, 1))], min_similarity=0.9
    )
    assert sorted(g.question for g in gaps) == ["A?", "B?"]


def test_find_gaps_reads_the_store(store) -> None:  # type: ignore[no-untyped-def]
    for n, question in enumerate(["Bread?", "bread", "Soup?"]):
        answer = make_answer(question, status="no_answer", sources=[])
        store.save(
            answer,
            asked_at=f"2025-06-0{n + 1}T00:00:00+00:00",
            embedding=unit(1, n),
            embedding_model="m",
        )

    gaps = find_gaps(store, min_similarity=0.99)

    assert [(g.question, g.count) for g in gaps] == [("bread", 2), ("Soup?", 1)]
