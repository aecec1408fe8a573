"""The relevance judge with the real embedded LLM: one passage that answers, one case of none.

Two short calls (3 excerpts at most, 8 tokens of reply). What the judge is worth over a
benchmark is measured by ``bench/floor.py --judge``, not here.
"""

from __future__ import annotations

import pytest

from askwiki.answering.judge import RelevanceJudge
from askwiki.documents import Chunk
from askwiki.llm.embedded import EmbeddedBackend

pytestmark = pytest.mark.integration


def chunk(title: str, section: str, text: str) -> Chunk:
    return Chunk(f"{title}#0", title, 0, title, section, "", None, None, text, "h", 40)


def test_the_judge_names_the_passage_that_answers_a_chinese_question(
    embedded_llm: EmbeddedBackend,
) -> None:
    chunks = [
        chunk("京包铁路", "京包铁路", "京包铁路是连接北京和包头的铁路，全长833公里。"),
        chunk(
            "德龙烟铁路",
            "德龙烟铁路",
            "德龙烟铁路是一条连接山东德州、龙口和烟台的铁路，全长约390公里，2014年开通。",
        ),
    ]
    verdict = RelevanceJudge(lambda: embedded_llm).judge("德龙烟铁路全长多少公里？", chunks)
    assert verdict.answering == (2,), verdict.reply


def test_the_judge_finds_no_passage_answering_an_english_question_they_do_not_cover(
    embedded_llm: EmbeddedBackend,
) -> None:
    chunks = [
        chunk(
            "Expenses",
            "Expenses › Travel",
            "Team members can expense hotel stays up to 300 USD per night. Flights must be "
            "economy class.",
        ),
        chunk(
            "Learning",
            "Learning › Growth",
            "GitLab supports learning through courses and conferences. Team members should "
            "discuss them with their manager.",
        ),
    ]
    verdict = RelevanceJudge(lambda: embedded_llm).judge(
        "What is the reimbursement limit for books?", chunks
    )
    assert verdict.answering == (), verdict.reply
