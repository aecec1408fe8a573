"""The FakeLLM test double behaves like a backend."""

import time

import pytest

from askwiki.errors import LLMError
from askwiki.llm.base import ChatMessage, LLMBackend
from askwiki.testing.fake_llm import FakeLLM, split_pieces

ASK = [ChatMessage("user", "问题?")]


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("Paris is the capital.", ["Paris ", "is ", "the ", "capital."]),
        ("巴黎。", ["巴", "黎", "。"]),
        ("用 Python 写 [1]", ["用 ", "Python ", "写 ", "[1]"]),
        ("  lead", ["  ", "lead"]),
        ("", []),
    ],
)
def test_split_pieces_table(text: str, pieces: list[str]) -> None:
    assert split_pieces(text) == pieces
    assert "".join(pieces) == text


def test_fake_is_a_backend_and_cycles_replies_word_by_word() -> None:
    llm = FakeLLM(["one two", "三"])
    assert isinstance(llm, LLMBackend)
    assert list(llm.stream_chat(ASK, max_tokens=10, temperature=0)) == ["one ", "two"]
    assert llm.chat(ASK, max_tokens=10, temperature=0) == "三"
    assert llm.chat(ASK, max_tokens=10, temperature=0) == "one two"
    assert len(llm.calls) == 3
    assert llm.last_messages == ASK
    assert llm.calls[0].max_tokens == 10 and llm.calls[0].temperature == 0


def test_fake_stops_at_max_tokens() -> None:
    assert FakeLLM(["a b c d"]).chat(ASK, max_tokens=2, temperature=0) == "a b "


@pytest.mark.parametrize(("fail_after", "streamed"), [(0, []), (1, ["a "]), (9, ["a ", "b"])])
def test_fake_failure_mode_raises_llm_error(fail_after: int, streamed: list[str]) -> None:
    llm = FakeLLM(["a b"], fail_with="backend down", fail_after=fail_after, name="ollama")
    got: list[str] = []
    with pytest.raises(LLMError, match="backend down") as info:
        got.extend(llm.stream_chat(ASK, max_tokens=10, temperature=0))
    assert info.value.backend == "ollama"
    assert llm.calls[0].streamed == streamed


def test_fake_delay_and_health_and_close() -> None:
    llm = FakeLLM(["a b c"], delay_s=0.02, healthy=False)
    started = time.monotonic()
    llm.chat(ASK, max_tokens=10, temperature=0)
    assert time.monotonic() - started >= 0.05
    assert llm.health() == {
        "ok": False,
        "backend": "fake",
        "model": "fake-llm",
        "detail": "fake outage",
    }
    llm.close()
    assert llm.closed
