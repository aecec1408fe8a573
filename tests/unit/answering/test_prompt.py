import datetime as dt

from askwiki.answering.prompt import SYSTEM_PROMPTS, pack_prompt
from askwiki.documents import Chunk
from askwiki.passages import Passage


def _passage(text: str) -> Passage:
    chunk = Chunk(
        "p.md#0:x", "p.md", 0, "Meetups", "Meetups › Berlin", "berlin", None, None, text, "h", 9
    )
    return Passage(chunk, 0, 1.0, 0.9, None, (chunk.chunk_id,), (0,))


def test_the_question_comes_with_the_date_after_the_sources() -> None:
    day = dt.date(2025, 11, 11)
    packed = pack_prompt(
        "When is the next Berlin meetup?",
        "en",
        [_passage("Every second Thursday.")],
        len,
        4000,
        day,
    )
    system, user = packed.messages
    assert system.content == SYSTEM_PROMPTS["en"]  # unchanged: a prefix llama.cpp can reuse
    assert user.content.endswith(
        "</sources>\n\nToday's date: 2025-11-11 (Tuesday)\nQuestion: When is the next Berlin meetup?"
    )
    assert user.content.index("Every second Thursday.") < user.content.index("2025-11-11")


def test_chinese_questions_get_a_chinese_date_label() -> None:
    packed = pack_prompt("下次聚会是哪天？", "zh", [], len, 4000, dt.date(2026, 1, 5))
    assert (
        "今天的日期: 2026-01-05 (Monday)\nQuestion: 下次聚会是哪天？" in packed.messages[1].content
    )


def test_the_date_line_counts_against_the_budget() -> None:
    day = dt.date(2025, 11, 11)
    question = "When is the next Berlin meetup?"
    tight = len(pack_prompt(question, "en", [], len, 10_000, day).messages[1].content)
    fixed = len(SYSTEM_PROMPTS["en"]) + tight + 8
    packed = pack_prompt(question, "en", [_passage("x" * 50)], len, fixed + 10, day)
    assert packed.passages == [] and len(packed.dropped) == 1
