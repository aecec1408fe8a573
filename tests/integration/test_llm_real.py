"""The LLM backends against the real model run in-process by llama.cpp."""

from __future__ import annotations

import socket
import time

import openai
import pytest

from askwiki.errors import LLMError
from askwiki.llm.base import ChatMessage, estimate_tokens
from askwiki.llm.embedded import EmbeddedBackend
from askwiki.llm.ollama_backend import OllamaBackend
from askwiki.llm.openai_compat import OpenAICompatBackend
from tests.support.ollama_facade import OllamaFacade

pytestmark = [pytest.mark.integration, pytest.mark.llm]

SYSTEM = ChatMessage("system", "You are a concise assistant. Answer in the question's language.")
OLLAMA_MODEL = "qwen2.5-coder:1.5b"


def ask(text: str) -> list[ChatMessage]:
    return [SYSTEM, ChatMessage("user", text)]


def test_embedded_answers_a_chinese_question(embedded_llm: EmbeddedBackend) -> None:
    answer = embedded_llm.chat(
        ask("法国的首都是哪座城市？只回答城市名。"), max_tokens=24, temperature=0
    )
    assert "巴黎" in answer


def test_embedded_answers_an_english_question_streaming(embedded_llm: EmbeddedBackend) -> None:
    deltas = list(
        embedded_llm.stream_chat(
            ask("What is the capital of Japan? Answer with one word."),
            max_tokens=16,
            temperature=0,
        )
    )
    assert len(deltas) >= 1
    assert "tokyo" in "".join(deltas).lower()


def test_embedded_counts_tokens_exactly(embedded_llm: EmbeddedBackend) -> None:
    text = "你好，世界 hello world"
    exact = embedded_llm.count_tokens(text)
    assert exact == 5  # 你好 / ， / 世界 / ␠hello / ␠world in Qwen2.5's vocabulary
    assert estimate_tokens(text) >= exact


def test_embedded_health_is_ok(embedded_llm: EmbeddedBackend) -> None:
    report = embedded_llm.health()
    assert report["ok"] is True
    assert report["backend"] == "embedded"
    assert report["model"] == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert "llama.cpp" in report["detail"]


def test_official_openai_client_works_against_the_embedded_server(
    embedded_llm: EmbeddedBackend,
) -> None:
    client = openai.OpenAI(base_url=f"{embedded_llm.base_url}/v1", api_key="x", max_retries=0)
    models = [m.id for m in client.models.list()]
    assert embedded_llm.model in models
    reply = client.chat.completions.create(
        model=embedded_llm.model,
        messages=[{"role": "user", "content": "2+3=? Answer with the number only."}],
        max_tokens=8,
        temperature=0,
    )
    assert "5" in (reply.choices[0].message.content or "")
    client.close()


def test_openai_compat_backend_against_the_embedded_server(
    embedded_llm: EmbeddedBackend,
) -> None:
    backend = OpenAICompatBackend(embedded_llm.base_url + "/v1", "default", timeout_s=60)
    answer = backend.chat(ask("Reply with the word: pong"), max_tokens=8, temperature=0)
    assert "pong" in answer.lower()
    assert backend.count_tokens("hello world") == 2  # exact, via llama.cpp's /tokenize
    assert backend.health()["ok"] is True
    backend.close()


def test_ollama_backend_through_the_facade_streams_and_sends_num_ctx(
    embedded_llm: EmbeddedBackend,
) -> None:
    with OllamaFacade(embedded_llm.base_url, model=OLLAMA_MODEL) as facade:
        backend = OllamaBackend(facade.url, OLLAMA_MODEL, timeout_s=60, context_tokens=4096)
        assert backend.health()["ok"] is True
        deltas = list(backend.stream_chat(ask("用一句话介绍长城。"), max_tokens=32, temperature=0))
        backend.close()
    assert len(deltas) > 1
    assert "".join(deltas).strip()
    assert facade.num_ctx_seen == [512]
    assert facade.chat_requests[0]["options"]["num_predict"] == 32


def test_dead_port_fails_fast_with_llm_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    backend = OpenAICompatBackend(f"http://127.0.0.1:{port}", "default", timeout_s=30)
    started = time.monotonic()
    with pytest.raises(LLMError) as info:
        backend.chat(ask("hi"), max_tokens=4, temperature=0)
    assert time.monotonic() - started < 1.0
    assert info.value.backend == "openai"
