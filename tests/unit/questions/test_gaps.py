from __future__ import annotations

from dataclasses import replace

import numpy as np

from askwiki.questions.gaps import cluster_gaps, find_gaps
from askwiki.questions.store import GapCandidate, NearestPage, QuestionSummary
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


BREAD = NearestPage("food/bread.md", "Bread", "https://wiki.example.com/food/bread")
OVEN = NearestPage("kitchen/oven.md", "Ovens", None)


def test_a_gap_names_the_page_that_came_closest_most_often() -> None:
    gaps = cluster_gaps(
        [
            replace(candidate("How do I bake bread?", 1, unit(1, 0.05)), nearest=BREAD),
            replace(candidate("Bread baking steps", 3, unit(1, 0.1)), nearest=OVEN),
            replace(candidate("how do I bake bread", 4, unit(1, 0.05)), nearest=BREAD),
            candidate("Tax rules", 5, None, no_answer=False),
        ],
        min_similarity=0.9,
    )
    assert [(g.question, g.nearest) for g in gaps] == [
        ("how do I bake bread", BREAD),
        ("Tax rules", None),
    ]


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


def test_find_gaps_reads_each_question_s_first_closest_page(store) -> None:  # type: ignore[no-untyped-def]
    near = make_answer().sources  # LoRA first, then BM25
    bm25_first = [replace(s, n=i) for i, s in enumerate(near[::-1], start=1)]
    for n, closest in enumerate([bm25_first, near, near]):
        answer = make_answer(f"Bread {n}?", status="no_answer", sources=[], closest=closest)
        store.save(
            answer,
            asked_at=f"2025-06-0{n + 1}T00:00:00+00:00",
            embedding=unit(1, 0),
            embedding_model="m",
        )

    gaps = find_gaps(store, min_similarity=0.99)

    lora = NearestPage(near[0].doc_id, near[0].title, near[0].url)
    assert len(gaps) == 1 and gaps[0].nearest == lora  # two of the three came closest to it
