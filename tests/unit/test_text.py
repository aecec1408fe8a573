import pytest

from askwiki.text import detect_language, keyword_tokens, slugify, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "知识蒸馏是一种方法。它由Hinton提出！对吗？",
            ["知识蒸馏是一种方法。", "它由Hinton提出！", "对吗？"],
        ),
        ("第一；第二……第三", ["第一；", "第二……", "第三"]),
        ("他说：“好。”然后走了。", ["他说：“好。”", "然后走了。"]),
        ("One sentence. Two sentences! Three?", ["One sentence.", "Two sentences!", "Three?"]),
        ("Pi is 3.14 and e is 2.71.", ["Pi is 3.14 and e is 2.71."]),
        ("- item one\n- item two", ["- item one", "- item two"]),
        ("   ", []),
    ],
)
def test_split_sentences_on_chinese_and_english_ends(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("什么是知识蒸馏？", ["知识", "蒸馏"]),
        ("What is LoRA fine-tuning?", ["lora", "fine-tuning"]),
        ("ＬｏＲＡ（２０２１）", ["lora", "2021"]),
        ("It freezes the weights", ["freez", "weight"]),
        ("Does LoRA freeze weights during training?", ["lora", "freez", "weight", "train"]),
        ("class analysis bus", ["class", "analysis", "bus"]),
    ],
)
def test_keyword_tokens_drop_stopwords_and_punctuation(text: str, expected: list[str]) -> None:
    assert keyword_tokens(text) == expected


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("LoRA: Low-Rank Adaptation (2021)", "lora-low-rank-adaptation-2021"),
        ("知识蒸馏 与 剪枝", "知识蒸馏-与-剪枝"),
        ("What's new?", "whats-new"),
    ],
)
def test_slugify_matches_github_anchors(heading: str, anchor: str) -> None:
    assert slugify(heading) == anchor


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("什么是LoRA?", "zh"),
        ("What is 知识蒸馏?", "en"),
        ("How does BM25 work?", "en"),
        ("向量数据库有哪些？", "zh"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language
