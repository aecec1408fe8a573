"""The HTTP backends against loopback stand-ins: streaming, errors, timeouts, health."""

import time
from collections.abc import Callable

import pytest

from askwiki.errors import LLMError
from askwiki.llm.base import ChatMessage, LLMBackend
from askwiki.llm.ollama_backend import OllamaBackend
from askwiki.llm.openai_compat import OpenAICompatBackend, split_base_url
from tests.support.ollama_facade import OllamaFacade
from tests.unit.llm.llm_stubs import StubServer, json_reply

QUESTION = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Say hello.")]
TIMEOUT_S = 1.0


def openai_backend(url: str, timeout_s: float = TIMEOUT_S) -> OpenAICompatBackend:
    return OpenAICompatBackend(url, "stub-model", timeout_s=timeout_s)


def ollama_backend(url: str, timeout_s: float = TIMEOUT_S) -> OllamaBackend:
    return OllamaBackend(url, "qwen2.5-coder:1.5b", timeout_s=timeout_s)


BACKENDS: dict[str, Callable[[str], OpenAICompatBackend | OllamaBackend]] = {
    "openai": openai_backend,
    "ollama": ollama_backend,
}


@pytest.mark.parametrize(
    ("url", "api_base", "root"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"),
        ("localhost:1234/v1", "http://localhost:1234/v1", "http://localhost:1234"),
    ],
)
def test_split_base_url_table(url: str, api_base: str, root: str) -> None:
    assert split_base_url(url) == (api_base, root)


def test_openai_backend_streams_deltas_and_sends_the_request(stub_openai: StubServer) -> None:
    backend = openai_backend(stub_openai.url)
    assert isinstance(backend, LLMBackend)
    deltas = list(backend.stream_chat(QUESTION, max_tokens=16, temperature=0.2))
    assert deltas == ["Hello ", "from ", "the ", "stub."]
    assert backend.chat(QUESTION, max_tokens=16, temperature=0.2) == "Hello from the stub."
    method, path, body = stub_openai.seen[0]
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert body["max_tokens"] == 16 and body["temperature"] == 0.2 and body["stream"] is True
    assert body["messages"][1] == {"role": "user", "content": "Say hello."}
    backend.close()


def test_openai_count_tokens_uses_tokenize_when_the_server_has_it(
    stub_openai: StubServer,
) -> None:
    backend = openai_backend(stub_openai.url)
    assert backend.count_tokens("one two three four five") == 5  # the stub's count
    assert ("POST", "/tokenize", {"content": "one two three four five", "add_special": False}) in (
        stub_openai.seen
    )


def test_openai_count_tokens_falls_back_to_the_estimate_once_without_tokenize(
    stub_server: Callable[..., StubServer],
) -> None:
    server = stub_server({})
    backend = openai_backend(server.url)
    assert backend.count_tokens("hello world") == 4
    assert backend.count_tokens("知识蒸馏") == 4
    assert [p for _, p, _ in server.seen] == ["/tokenize"]  # not asked again


@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_http_500_maps_to_llm_error_naming_the_backend(
    kind: str, stub_server: Callable[..., StubServer]
) -> None:
    boom = json_reply({"error": {"message": "boom: out of memory"}}, status=500)
    server = stub_server({}, default=boom)
    backend = BACKENDS[kind](server.url)
    with pytest.raises(LLMError) as info:
        backend.chat(QUESTION, max_tokens=8, temperature=0)
    assert info.value.backend == kind
    assert "500" in str(info.value)
    assert "boom" in str(info.value)


@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_server_that_never_answers_raises_llm_error_within_the_timeout(
    kind: str, silent_server: str
) -> None:
    backend = BACKENDS[kind](silent_server)
    started = time.monotonic()
    with pytest.raises(LLMError) as info:
        backend.chat(QUESTION, max_tokens=8, temperature=0)
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT_S + 1.0
    assert info.value.backend == kind
    assert "did not answer within 1 s" in str(info.value)


@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_dead_port_raises_llm_error_at_once(kind: str, dead_url: str) -> None:
    backend = BACKENDS[kind](dead_url)
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"(?i)cannot reach") as info:
        list(backend.stream_chat(QUESTION, max_tokens=8, temperature=0))
    assert time.monotonic() - started < 1.0
    assert info.value.backend == kind


@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_health_never_raises_on_a_dead_or_silent_server(
    kind: str, dead_url: str, silent_server: str
) -> None:
    for url in (dead_url, silent_server):
        backend = BACKENDS[kind](url)
        started = time.monotonic()
        report = backend.health()
        assert time.monotonic() - started < 3.0
        assert report["ok"] is False
        assert report["backend"] == kind
        assert report["detail"]


def test_openai_health_ok_lists_the_served_models(stub_openai: StubServer) -> None:
    report = openai_backend(stub_openai.url).health()
    assert report == {
        "ok": True,
        "backend": "openai",
        "model": "stub-model",
        "detail": f"{stub_openai.url}/v1 serves stub-model",
    }


def test_ollama_backend_streams_through_the_facade_and_always_sends_num_ctx(
    stub_openai: StubServer,
) -> None:
    with OllamaFacade(stub_openai.url, model="qwen2.5-coder:1.5b") as facade:
        backend = ollama_backend(facade.url, timeout_s=10)
        assert backend.health()["ok"] is True
        deltas = list(backend.stream_chat(QUESTION, max_tokens=32, temperature=0))
        assert "".join(deltas) == "Hello from the stub."
        long_question = [ChatMessage("user", "知" * 1200)]
        backend.chat(long_question, max_tokens=32, temperature=0)
        backend.close()
    assert facade.num_ctx_seen == [512, 1536]
    options = facade.chat_requests[0]["options"]
    assert options["num_predict"] == 32 and options["temperature"] == 0
    upstream = [body for _, path, body in stub_openai.seen if path == "/v1/chat/completions"]
    assert upstream[0]["max_tokens"] == 32


def test_ollama_health_reports_a_missing_model(stub_openai: StubServer) -> None:
    with OllamaFacade(stub_openai.url, model="llama3:latest") as facade:
        report = ollama_backend(facade.url).health()
    assert report["ok"] is False
    assert "ollama pull qwen2.5-coder:1.5b" in report["detail"]


def test_ollama_unknown_model_error_says_to_pull_it(stub_openai: StubServer) -> None:
    with (
        OllamaFacade(stub_openai.url, model="llama3:latest") as facade,
        pytest.raises(LLMError, match=r"ollama pull qwen2\.5-coder:1\.5b"),
    ):
        ollama_backend(facade.url).chat(QUESTION, max_tokens=8, temperature=0)
