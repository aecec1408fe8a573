import pytest

from askwiki.llm.base import (
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMER_TOKENS,
    ChatMessage,
    count_message_tokens,
    estimate_message_tokens,
    estimate_tokens,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("abc", 1),
        ("abcd", 2),  # ceil(4 / 3.5)
        ("hello world", 4),  # 11 chars -> ceil(3.14)
        ("知识蒸馏", 4),  # one per ideograph
        ("你好，世界。", 6),  # full-width punctuation counts as CJK
        ("用 Python 写", 2 + 3),  # 2 ideographs + 8 other chars -> ceil(2.29)
        ("カタカナ", 4),
        ("한국어", 3),
        ("  \n\t", 2),  # whitespace is "other"
    ],
)
def test_estimate_tokens_table(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The quick brown fox jumps over the lazy dog.",
        "Retrieval-augmented generation answers questions from your own documents.",
        "法国的首都是巴黎，它位于塞纳河畔。",
    ],
)
def test_estimate_is_not_below_typical_bpe_counts(text: str) -> None:
    # Qwen2.5's tokenizer gives ~4.5 English chars/token and <= 1 token per ideograph.
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    typical = cjk + (len(text) - cjk) / 4.5
    assert estimate_tokens(text) >= typical


def test_message_tokens_add_template_overhead() -> None:
    messages = [ChatMessage("system", "abc"), ChatMessage("user", "知识")]
    expected = 1 + 2 + 2 * MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMER_TOKENS
    assert estimate_message_tokens(messages) == expected
    assert count_message_tokens(messages, len) == 3 + 2 + 2 * MESSAGE_OVERHEAD_TOKENS + 3


def test_message_tokens_of_no_messages_is_zero() -> None:
    assert estimate_message_tokens([]) == 0


def test_chat_message_as_dict() -> None:
    assert ChatMessage("user", "hi").as_dict() == {"role": "user", "content": "hi"}
