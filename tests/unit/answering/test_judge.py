from pathlib import Path

import pytest

from askwiki.answering.judge import (
    EXCERPT_CHARS,
    JUDGED_PASSAGES,
    MAX_VERDICT_TOKENS,
    RelevanceJudge,
    Verdict,
    best_page_lead,
    judge_excerpt,
    judge_messages,
    kept_by_verdict,
    parse_verdict,
)
from askwiki.answering.service import NO_ANSWER, AnswerService
from askwiki.documents import Chunk
from askwiki.embedding.embedder import Embedder
from askwiki.live_index import LiveIndex
from askwiki.passages import Passage
from askwiki.retrieval import RetrievalResult
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index, page


def chunk(title: str, text: str, section: str = "") -> Chunk:
    return Chunk("c1", "d1", 0, title, section or title, "", None, None, text, "h", 10)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("2", (2,)),
        ("1,3", (1, 3)),
        ("[3] 和 [1]", (3, 1)),  # the judge's order is kept: a rerank
        ("2, 2", (2,)),
        ("0", ()),
        ("None", ()),
        ("None of them.", ()),
        ("没有", ()),
        ("无", ()),
        ("5", None),  # names no passage shown: unreadable, the floor's decision stands
        ("", None),
        ("Passage", None),
    ],
)
def test_a_verdict_names_passages_none_or_is_unreadable(
    reply: str, expected: tuple[int, ...] | None
) -> None:
    assert parse_verdict(reply, 3) == expected


@pytest.mark.parametrize(
    ("answering", "expected"),
    [((2,), [1]), ((3, 1), [2, 0]), ((), None), (None, [0, 1, 2, 3, 4])],
    ids=["one named", "two named, judge's order", "none answers: refuse", "unreadable: all"],
)
def test_what_a_verdict_keeps(
    answering: tuple[int, ...] | None, expected: list[int] | None
) -> None:
    assert kept_by_verdict(Verdict(answering, "", 0.1), 5) == expected


@pytest.mark.parametrize(
    ("question", "system_word", "label"),
    [("What does LoRA freeze?", "passages", "Question: "), ("LoRA 冻结了什么？", "段落", "问题: ")],
)
def test_the_prompt_is_in_the_questions_language_with_numbered_excerpts(
    question: str, system_word: str, label: str
) -> None:
    chunks = [chunk("LoRA", "LoRA freezes the weights."), chunk("BM25", "BM25 has k1 and b.")]
    system, user = judge_messages(question, chunks)
    assert system.role == "system" and system_word in system.content
    assert user.content.startswith("[1] LoRA: LoRA freezes the weights.\n[2] BM25: ")
    assert user.content.endswith(label + question)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_excerpt_keeps_the_sentences_sharing_the_questions_words(language: str) -> None:
    if language == "en":
        filler = "The team meets every week to plan its work in detail. " * 8
        text = filler + "Books are reimbursed up to 50 USD each."
        words = {"book", "reimburs"}
        answer = "Books are reimbursed up to 50 USD each."
    else:
        filler = "团队每周开会，详细规划接下来的工作安排。" * 8
        text = filler + "德龙烟铁路全长约三百九十公里。"
        words = {"德龙烟", "铁路", "全长"}
        answer = "德龙烟铁路全长约三百九十公里。"
    excerpt = judge_excerpt(chunk("Page", text, "Page › Part"), words, language)  # type: ignore[arg-type]
    assert excerpt.startswith("Page › Part: ") and answer in excerpt
    assert len(excerpt) <= len("Page › Part: ") + EXCERPT_CHARS[language]  # type: ignore[index]


def test_the_judge_asks_once_at_temperature_zero_with_a_tiny_budget() -> None:
    llm = FakeLLM(["2"])
    chunks = [chunk(f"P{n}", f"Text {n}.") for n in range(5)]
    verdict = RelevanceJudge(lambda: llm).judge("What is P1?", chunks)
    assert verdict.answering == (2,) and verdict.reply == "2"
    call = llm.calls[0]
    assert call.temperature == 0.0 and call.max_tokens == MAX_VERDICT_TOKENS
    assert f"[{JUDGED_PASSAGES}]" in call.messages[1].content
    assert f"[{JUDGED_PASSAGES + 1}]" not in call.messages[1].content


def test_a_failed_judge_call_leaves_the_floors_decision() -> None:
    llm = FakeLLM(["0"], fail_with="model not loaded")
    verdict = RelevanceJudge(lambda: llm).judge("What is P1?", [chunk("P1", "Text.")])
    assert verdict.answering is None


PAGES = [
    *WIKI_PAGES,
    page("retrieval/rrf.md", "RRF", "## Fusion\nReciprocal rank fusion adds 1/(k + rank)."),
]


def _service(
    tmp_path: Path, replies: list[str], **settings: object
) -> tuple[AnswerService, FakeLLM]:
    embedder: Embedder = fake_embedder()
    config = Settings(
        index_dir=tmp_path / "indexes",
        data_dir=tmp_path / "data",
        min_dense_score=-1.0,  # the floor passes everything: the judge decides
        **settings,  # type: ignore[arg-type]
        _env_file=None,  # type: ignore[call-arg]
    )
    build_index(config.index_path, PAGES, embedder)
    live = LiveIndex(config.index_path, embedder, retrieval_options(config))
    llm = FakeLLM(replies)
    return AnswerService(config, live, embedder, lambda: llm), llm


@pytest.mark.parametrize(
    ("question", "reply"),
    [("What is federated learning?", "0"), ("联邦学习是什么？", "没有")],
)
def test_when_the_judge_finds_no_passage_the_answer_is_a_refusal_with_closest_pages(
    tmp_path: Path, question: str, reply: str
) -> None:
    service, llm = _service(tmp_path, [reply, "An invented answer [1]."], relevance_judge="llm")
    answer = service.ask(question)
    assert answer.status == "no_answer" and not answer.generated
    language = "zh" if "联邦" in question else "en"
    assert answer.answer == NO_ANSWER[language]  # type: ignore[index]
    assert answer.closest and not answer.sources
    assert "judge_ms" in answer.timings
    assert len(llm.calls) == 1  # nothing generated
    assert llm.calls[0].messages[0].content.startswith("你" if language == "zh" else "You")


@pytest.mark.parametrize(
    ("question", "generated"),
    [
        ("What does LoRA freeze?", "LoRA freezes the pretrained weights [1]."),
        ("知识蒸馏是谁提出的？", "知识蒸馏由 Hinton 等人提出 [1]。"),
    ],
)
def test_when_the_judge_names_a_passage_only_that_one_reaches_the_llm(
    tmp_path: Path, question: str, generated: str
) -> None:
    service, llm = _service(tmp_path, ["?", generated], relevance_judge="llm")
    # Which passage is which depends on the fake embedder's ranking: name the one that holds
    # the answer's page, wherever it ranks.
    probe = service.live_index.retriever().search(question)
    target = "models/lora.md" if "LoRA" in question else "models/distillation.md"
    shown = [p.chunk.doc_id for p in probe.passages[:JUDGED_PASSAGES]]
    assert target in shown
    llm.replies = [str(shown.index(target) + 1), generated]
    answer = service.ask(question)
    assert answer.status == "answered"
    assert [s.doc_id for s in answer.sources] == [target]
    assert "<sources>" in llm.calls[1].messages[1].content
    assert llm.calls[1].messages[1].content.count("<source ") == 1


def test_an_unreadable_verdict_keeps_every_passage(tmp_path: Path) -> None:
    service, llm = _service(
        tmp_path, ["Passage", "LoRA freezes the pretrained weights [1]."], relevance_judge="llm"
    )
    answer = service.ask("What does LoRA freeze?")
    assert answer.status == "answered" and len(answer.sources) > 1
    assert len(llm.calls) == 2  # the judge, then the answer


def test_the_judge_is_off_by_default(tmp_path: Path) -> None:
    service, llm = _service(tmp_path, ["LoRA freezes the pretrained weights [1]."])
    answer = service.ask("What does LoRA freeze?")
    assert answer.status == "answered" and "judge_ms" not in answer.timings
    assert len(llm.calls) == 1


@pytest.mark.parametrize(("max_lead", "judged"), [(0.03, False), (0.1, True), (0.0, True)])
def test_only_a_search_whose_best_page_leads_by_less_than_the_margin_is_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_lead: float, judged: bool
) -> None:
    monkeypatch.setattr("askwiki.answering.service.best_page_lead", lambda result: 0.05)
    generated = "LoRA freezes the pretrained weights [1]."
    service, llm = _service(
        tmp_path,
        ["0", generated] if judged else [generated],
        relevance_judge="llm",
        relevance_judge_max_lead=max_lead,
    )
    answer = service.ask("What does LoRA freeze?")
    assert ("judge_ms" in answer.timings) is judged
    assert answer.status == ("no_answer" if judged else "answered")
    assert len(llm.calls) == 1


def test_the_best_page_lead_is_its_cosine_over_the_best_other_pages() -> None:
    def passage(row: int, title: str, cosine: float) -> Passage:
        found = chunk(title, "text")
        return Passage(found, row, 0.0, cosine, None, (found.chunk_id,), (row,))

    candidates = [
        passage(1, "A", 0.90),
        passage(2, "A", 0.86),
        passage(3, "B", 0.85),
        passage(4, "C", 0.83),
    ]
    result = RetrievalResult("q", candidates[:2], True, 0.90, candidates=candidates)
    assert best_page_lead(result) == pytest.approx(0.90 - (0.85 + 0.83) / 2)
    alone = RetrievalResult("q", candidates[:2], True, 0.90, candidates=candidates[:2])
    assert best_page_lead(alone) == float("inf")
