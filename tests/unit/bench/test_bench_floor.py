"""bench/floor.py: the page standout rule is scored as Retriever applies it."""

from dataclasses import replace
from pathlib import Path

import pytest

from askwiki.evaluation import EvalQuestion
from askwiki.llm.base import ChatMessage
from askwiki.settings import Settings
from bench.answer_sets import AnswerSet
from bench.floor import (
    TRANSLATIONS_FILE,
    Floor,
    RecordedPassage,
    features,
    heading_group,
    question_half,
    restates_answer,
    score,
    searched_text,
    translate_questions,
)

# The cosine floor alone passes every passage (cos >= 0.85); only the page rule decides.
PAGE_RULE = Floor("page standout", 0.85, 0.25, 2.0, min_page_standout=0.02, weighted=True)


def row(kind: str, passages: list[tuple[float, bool, str]]) -> dict[str, object]:
    """One search of the benchmark's cache: passages as (cosine, gold, page title)."""
    return {
        "set": "cmrc2018",
        "corpus": "cmrc2018",
        "kind": kind,
        "crossing": False,
        "translated": False,
        "question": f"{kind}?",
        "own_keywords": [],
        "chunks": 100,
        "terms": {},
        "passages": [
            [cos, [], gold, f"{title}-{n}", title] for n, (cos, gold, title) in enumerate(passages)
        ],
    }


ROWS = [
    # The answer's page leads once its sibling paragraphs (same title) are one page.
    row(
        "present",
        [(0.90, False, "Warsaw"), (0.89, True, "Warsaw"), (0.89, False, "Warsaw")]
        + [(0.87, False, f"other{n}") for n in range(5)],
    ),
    # Its page taken out, no page leads.
    row("absent", [(0.88, False, f"other{n}") for n in range(6)]),
]


def test_the_page_rule_keeps_the_leading_page_and_refuses_the_absent_one() -> None:
    scores = score(PAGE_RULE, features(ROWS))
    assert scores == {"kept cmrc2018": 1.0, "refused absent cmrc2018": 1.0}


def test_without_the_page_rule_the_absent_page_question_passes() -> None:
    off = Floor("off", 0.85, 0.25, 2.0, weighted=True)
    assert score(off, features(ROWS))["refused absent cmrc2018"] == 0.0


def test_the_chunk_rule_at_the_same_margin_loses_the_answer_to_its_siblings() -> None:
    chunk_rule = Floor("standout", 0.85, 0.25, 2.0, min_standout=0.02, weighted=True)
    assert score(chunk_rule, features(ROWS))["kept cmrc2018"] == 0.0


def test_the_halves_split_the_questions_about_evenly() -> None:
    halves = [question_half(f"第{n}个问题是什么？") for n in range(200)]
    assert 80 <= halves.count("a") <= 120
    assert set(halves) == {"a", "b"}


def translated_row(kind: str, corpus: str) -> dict[str, object]:
    """An XQuAD zh question searched in ``corpus`` with its translation: the gold page leads
    the others by 0.04 at a cosine the floor refuses (0.84 < 0.85, no keywords)."""
    passages = [(0.84, True, "Gold")] + [(0.80, False, f"other{n}") for n in range(5)]
    return {
        **row(kind, passages),
        "set": "xquad-zh",
        "corpus": corpus,
        "translated": True,
    }


TRANSLATED = [translated_row("cross-language", "xquad-en"), translated_row("present", "xquad-zh")]


def test_the_translated_form_rule_passes_a_leading_page_judged_against_a_translation() -> None:
    lead = Floor("lead", 0.85, 0.25, 2.0, weighted=True, translated_lead=0.03)
    scores = score(lead, features(TRANSLATED), translated=True)
    # The same-language row was searched with the question itself: the rule is not for it.
    assert scores == {"kept across xquad-zh->xquad-en": 1.0, "kept xquad-zh": 0.0}
    off = Floor("off", 0.85, 0.25, 2.0, weighted=True)
    assert score(off, features(TRANSLATED), translated=True)["kept across xquad-zh->xquad-en"] == 0


def test_the_reader_words_rule_passes_a_passage_holding_the_question_s_own_terms() -> None:
    # "Why should chunks overlap?" against a Chinese page headed 重叠（overlap）: the
    # translation's words miss it (cos 0.84, no coverage), the reader's are both there.
    across = translated_row("cross-language", "xquad-en")
    across["reader_terms"] = {"chunk": 3, "overlap": 1}
    for passage in across["passages"]:  # type: ignore[attr-defined]
        passage += ["", ["chunk", "overlap"] if passage[2] else []]  # section, reader's words
    on = Floor("reader", 0.85, 0.25, 0.95, weighted=True, translated_reader_words=True)
    assert score(on, features([across]), translated=True)["kept across xquad-zh->xquad-en"] == 1
    off = replace(on, translated_reader_words=False)
    assert score(off, features([across]), translated=True)["kept across xquad-zh->xquad-en"] == 0


def handbook_row(kind: str, passages: list[tuple[float, bool, str, str]]) -> dict[str, object]:
    """A search of a wiki of long pages: passages as (cosine, gold, page, heading path)."""
    base = row(kind, [])
    base["passages"] = [
        [cos, [], gold, f"{title}.md", title, " › ".join([title, *headings.split("/")])]
        for cos, gold, title, headings in passages
    ]
    return base


# The answer's section leads its page's sibling sections by 0.01 and the other page by 0.03.
LONG_PAGES = [
    handbook_row(
        "present",
        [
            (0.89, True, "Chat", "Channels/Prefixes"),
            (0.88, False, "Chat", "Channels/Naming"),
            (0.88, False, "Chat", "Etiquette"),
            (0.86, False, "Slack", "Tips"),
        ],
    )
]


def test_grouped_by_page_the_answer_leads_the_other_page() -> None:
    assert score(PAGE_RULE, features(LONG_PAGES))["kept cmrc2018"] == 1.0


def test_grouped_by_section_its_sibling_sections_compete_with_the_answer() -> None:
    by_section = Floor("s", 0.85, 0.25, 2.0, min_page_standout=0.02, weighted=True)
    by_section = replace(by_section, grouping="section")
    assert score(by_section, features(LONG_PAGES))["kept cmrc2018"] == 0.0


def test_grouped_by_chapter_sections_under_one_first_heading_are_one_group() -> None:
    assert heading_group(
        RecordedPassage(0.9, [], False, "c.md", "Chat", "Chat › Channels › Prefixes"), 1
    ) == ("Chat › Channels")
    assert heading_group(RecordedPassage(0.9, [], False, "c.md", "Chat", "Chat"), 1) == "Chat"
    # Rows recorded before sections were: the page key alone.
    assert heading_group(RecordedPassage(0.9, [], False, "c.md", "Chat"), None) == "Chat"


def test_a_follow_up_is_searched_after_its_previous_question_when_joined() -> None:
    follow_up = EvalQuestion(
        question="And for the next one?",
        history=(ChatMessage("user", "What is the prefix for Group Channels in Slack?"),),
    )
    assert searched_text(follow_up, "alone") == "And for the next one?"
    assert searched_text(follow_up, "joined") == (
        "What is the prefix for Group Channels in Slack? And for the next one?"
    )
    assert searched_text(EvalQuestion(question="Who?"), "joined") == "Who?"


def test_only_an_answer_long_enough_counts_as_restated_on_another_page() -> None:
    assert restates_answer(
        "Shipping the Minimal Valuable Change first.", ("Minimal Valuable Change",)
    )
    assert not restates_answer("Every page holds an e and a 2.", ("E", "2"))


def test_human_translations_take_xquad_questions_from_xquad_and_the_rest_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = [EvalQuestion(question="黑豹队的防守丢了多少分？"), EvalQuestion(question="谁?")]
    (tmp_path / TRANSLATIONS_FILE).write_text('{"谁?": "Who?"}', "utf-8")
    answer_set = AnswerSet("mixed", asked, tmp_path, [])

    def no_llm(settings: Settings) -> None:
        raise AssertionError("every question has a translation: no LLM is needed")

    monkeypatch.setattr("bench.floor.create_backend", no_llm)
    translations = translate_questions([answer_set], Settings(), tmp_path, human=True)

    assert translations == {
        "黑豹队的防守丢了多少分？": "How many points did the Panthers defense surrender?",
        "谁?": "Who?",
    }
