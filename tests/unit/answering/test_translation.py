from pathlib import Path

import pytest

from askwiki.answering.service import AnswerService
from askwiki.answering.translation import (
    MAX_TRANSLATION_TOKENS,
    QuestionTranslator,
    usable_translation,
)
from askwiki.embedding.embedder import Embedder
from askwiki.live_index import LiveIndex
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index, page


def test_a_chinese_question_is_translated_into_english_at_temperature_zero() -> None:
    llm = FakeLLM(["What is knowledge distillation?\nIt compresses models."])
    translation = QuestionTranslator(lambda: llm).translate("什么是知识蒸馏？")
    assert translation.text == "What is knowledge distillation?"
    assert translation.language == "en" and not translation.cached
    call = llm.calls[0]
    assert call.temperature == 0.0 and call.max_tokens == MAX_TRANSLATION_TOKENS
    assert "English" in call.messages[0].content and call.messages[1].content == "什么是知识蒸馏？"


def test_an_english_question_is_translated_into_chinese() -> None:
    llm = FakeLLM(["什么是模型剪枝？"])
    translation = QuestionTranslator(lambda: llm).translate("What is model pruning?")
    assert translation.text == "什么是模型剪枝？" and translation.language == "zh"
    assert "Chinese" in llm.calls[0].messages[0].content


def test_translations_are_cached_per_question_and_the_oldest_is_evicted() -> None:
    llm = FakeLLM(["What is A?", "What is B?", "What is C?", "What is A again?"])
    translator = QuestionTranslator(lambda: llm, cache_size=2)
    translator.translate("甲是什么？")
    translator.translate("乙是什么？")
    again = translator.translate("甲是什么？")
    assert again.cached and again.text == "What is A?" and len(llm.calls) == 2
    translator.translate("丙是什么？")  # evicts 乙, the least recently used
    assert translator.translate("甲是什么？").cached
    assert not translator.translate("乙是什么？").cached
    assert len(llm.calls) == 4


def test_a_failed_translation_is_none_and_is_asked_again_next_time() -> None:
    llm = FakeLLM(["What is LoRA?"], fail_with="model not loaded")
    translator = QuestionTranslator(lambda: llm)
    assert translator.translate("什么是 LoRA？").text is None
    llm.fail_with = None
    assert translator.translate("什么是 LoRA？").text == "What is LoRA?"


@pytest.mark.parametrize(
    ("question", "reply", "expected"),
    [
        (
            "什么是知识蒸馏？",
            '"What is knowledge distillation?"',
            "What is knowledge distillation?",
        ),
        ("什么是知识蒸馏？", "知识蒸馏是一种模型压缩方法。", None),  # not translated
        ("什么是知识蒸馏？", "", None),
        ("什么是 LoRA？", "LoRA is " + "a method that trains low-rank matrices. " * 8, None),
        ("What is LoRA?", "What is LoRA?", None),
    ],
)
def test_only_a_translation_in_the_target_language_is_used(
    question: str, reply: str, expected: str | None
) -> None:
    target = "en" if any("\u4e00" <= ch <= "\u9fff" for ch in question) else "zh"
    assert usable_translation(question, reply, target) == expected  # type: ignore[arg-type]


BILINGUAL = [
    *WIKI_PAGES,
    *(page(f"en{i}.md", f"English {i}", f"Plain English page {i} about models.") for i in range(6)),
    *(page(f"zh{i}.md", f"中文 {i}", f"第{i}页：模型剪枝删除不重要的权重。") for i in range(6)),
]


def _service(
    tmp_path: Path, replies: list[str], translate: bool, pages: list = BILINGUAL
) -> tuple[AnswerService, FakeLLM]:
    embedder: Embedder = fake_embedder()
    settings = Settings(
        index_dir=tmp_path / "indexes",
        data_dir=tmp_path / "data",
        min_dense_score=-1.0,
        translate_questions=translate,
        allow_unsupported_answers=True,
        _env_file=None,  # type: ignore[call-arg]
    )
    build_index(settings.index_path, pages, embedder)
    live = LiveIndex(settings.index_path, embedder, retrieval_options(settings))
    llm = FakeLLM(replies)
    return AnswerService(settings, live, embedder, lambda: llm), llm


def test_the_service_translates_before_retrieval_and_times_it(tmp_path: Path) -> None:
    service, llm = _service(tmp_path, ["What is LoRA?", "LoRA trains low-rank matrices [1]."], True)
    answer = service.ask("什么是 LoRA？")
    assert llm.calls[0].messages[1].content == "什么是 LoRA？"
    assert "translate_ms" in answer.timings
    assert answer.timings["translate_ms"] <= answer.timings["retrieve_ms"]
    assert len(llm.calls) == 2


CHINESE_ONLY = [p for p in BILINGUAL if p.doc_id.startswith(("zh", "models/distillation"))]
ENGLISH_ONLY = [p for p in BILINGUAL if p not in CHINESE_ONLY]


@pytest.mark.parametrize(
    ("translate", "pages"),
    [(False, BILINGUAL), (True, CHINESE_ONLY)],
    ids=["setting off", "index in the question's language only"],
)
def test_no_translation_when_off_or_the_index_holds_only_the_questions_language(
    tmp_path: Path, translate: bool, pages: list
) -> None:
    service, llm = _service(tmp_path, ["LoRA trains low-rank matrices [1]."], translate, pages)
    answer = service.ask("什么是 LoRA？")
    assert "translate_ms" not in answer.timings
    assert len(llm.calls) == 1


def test_a_question_to_a_wiki_all_in_the_other_language_is_translated(tmp_path: Path) -> None:
    service, llm = _service(
        tmp_path, ["What is LoRA?", "LoRA trains low-rank matrices [1]."], True, ENGLISH_ONLY
    )
    answer = service.ask("什么是 LoRA？")
    assert llm.calls[0].messages[1].content == "什么是 LoRA？"
    assert "translate_ms" in answer.timings
    assert answer.sources and answer.sources[0].doc_id == "models/lora.md"
