import pytest

from askwiki.llm.base import ChatMessage
from askwiki.llm.ollama_backend import (
    OllamaBackend,
    list_model_names,
    model_is_listed,
    ollama_base_url,
    size_num_ctx,
)


@pytest.mark.parametrize(
    ("prompt_tokens", "max_tokens", "cap", "expected"),
    [
        (0, 0, 4096, 512),  # never below one step
        (100, 100, 4096, 512),  # 264 -> 512
        (384, 64, 4096, 512),  # 384 + 64 + 64 = 512 exactly
        (385, 64, 4096, 1024),  # one over -> next step
        (1500, 320, 4096, 2048),  # 1884 -> 2048
        (2000, 320, 4096, 2560),  # 2384 -> 2560: above Ollama's 2048 default
        (3800, 320, 4096, 4096),  # capped at the configured context
        (9000, 320, 8192, 8192),
        (1000, 320, 1024, 1024),  # cap below the need: cap wins (and a warning is logged)
    ],
)
def test_size_num_ctx_table(prompt_tokens: int, max_tokens: int, cap: int, expected: int) -> None:
    assert size_num_ctx(prompt_tokens, max_tokens, cap) == expected


def test_num_ctx_for_counts_the_whole_chat_and_warns_when_too_long(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = OllamaBackend("127.0.0.1:9", "m", context_tokens=1024)
    short = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Hi?")]
    prompt_tokens, num_ctx = backend.num_ctx_for(short, 128)
    assert prompt_tokens == backend.count_message_tokens(short)
    assert num_ctx == 512
    long = [ChatMessage("user", "知" * 2000)]
    _, num_ctx = backend.num_ctx_for(long, 128)
    assert num_ctx == 1024
    assert "drop the start" in caplog.text
    backend.close()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("", "http://127.0.0.1:11434"),
        ("127.0.0.1", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:9999", "http://127.0.0.1:9999"),
        (":9999", "http://127.0.0.1:9999"),
        ("example.com:8080", "http://example.com:8080"),
        ("http://127.0.0.1:11434/", "http://127.0.0.1:11434"),
        ("http://gpu-box", "http://gpu-box:80"),
        ("https://ollama.example.com", "https://ollama.example.com:443"),
        ("https://example.com:8443/ollama", "https://example.com:8443/ollama"),
        ("[::1]:11434", "http://[::1]:11434"),
    ],
)
def test_ollama_base_url_table(host: str, expected: str) -> None:
    assert ollama_base_url(host) == expected


@pytest.mark.parametrize(
    ("model", "names", "expected"),
    [
        ("qwen2.5-coder:1.5b", ["qwen2.5-coder:1.5b"], True),
        ("llama3", ["llama3:latest"], True),
        ("llama3:8b", ["llama3:latest"], False),
        ("qwen2.5-coder:1.5b", ["qwen2.5-coder:7b", "llama3:latest"], False),
        ("x", [], False),
    ],
)
def test_model_is_listed_table(model: str, names: list[str], expected: bool) -> None:
    assert model_is_listed(model, names) is expected


def test_list_model_names_reads_name_and_model_fields() -> None:
    body = {"models": [{"name": "a:latest", "model": "a:latest"}, {"model": "b:1b"}]}
    assert list_model_names(body) == ["a:latest", "b:1b"]
    assert list_model_names({}) == []
