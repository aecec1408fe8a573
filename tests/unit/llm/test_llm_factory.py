import time
from collections.abc import Callable
from pathlib import Path

import pytest

from askwiki.errors import ConfigError
from askwiki.llm.embedded import EmbeddedBackend
from askwiki.llm.factory import create_backend, probe_ollama
from askwiki.llm.ollama_backend import OllamaBackend
from askwiki.llm.openai_compat import OpenAICompatBackend
from askwiki.settings import Settings
from tests.unit.llm.llm_stubs import StubServer, json_reply

MODEL = "qwen2.5-coder:1.5b"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(model_dir=tmp_path / "models", _env_file=None, **overrides)  # type: ignore[call-arg, arg-type]


def tags_server(stub_server: Callable[..., StubServer], *names: str) -> StubServer:
    models = [{"name": n, "model": n} for n in names]
    return stub_server({("GET", "/api/tags"): lambda body: json_reply({"models": models})})


def test_auto_picks_ollama_when_it_lists_the_model(
    tmp_path: Path, stub_server: Callable[..., StubServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = tags_server(stub_server, "llama3:latest", MODEL)
    caplog.set_level("INFO")
    backend = create_backend(make_settings(tmp_path, ollama_host=server.url, ollama_model=MODEL))
    assert isinstance(backend, OllamaBackend)
    assert backend.name == "ollama"
    assert f"has {MODEL}" in caplog.text
    backend.close()


def test_auto_falls_back_to_embedded_when_ollama_lacks_the_model(
    tmp_path: Path, stub_server: Callable[..., StubServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = tags_server(stub_server, "llama3:latest")
    caplog.set_level("INFO")
    backend = create_backend(make_settings(tmp_path, ollama_host=server.url, ollama_model=MODEL))
    assert isinstance(backend, EmbeddedBackend)
    assert not backend.loaded  # nothing is loaded at selection time
    assert "lacks" in caplog.text and "ollama pull" in caplog.text


def test_auto_falls_back_to_embedded_fast_on_a_dead_port(tmp_path: Path, dead_url: str) -> None:
    started = time.monotonic()
    backend = create_backend(make_settings(tmp_path, ollama_host=dead_url))
    assert isinstance(backend, EmbeddedBackend)
    assert time.monotonic() - started < 1.5


def test_auto_falls_back_when_ollama_does_not_answer_within_a_second(
    tmp_path: Path, silent_server: str
) -> None:
    started = time.monotonic()
    usable, why = probe_ollama(silent_server, MODEL)
    assert not usable
    assert "Timeout" in why
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("ollama", OllamaBackend), ("openai", OpenAICompatBackend), ("embedded", EmbeddedBackend)],
)
def test_explicit_choice_is_used_without_probing(
    tmp_path: Path, dead_url: str, choice: str, expected: type
) -> None:
    settings = make_settings(
        tmp_path, llm_backend=choice, ollama_host=dead_url, openai_base_url=dead_url + "/v1"
    )
    backend = create_backend(settings)
    assert isinstance(backend, expected)
    assert backend.name == choice
    backend.close()


def test_openai_without_base_url_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ASKWIKI_OPENAI_BASE_URL"):
        create_backend(make_settings(tmp_path, llm_backend="openai"))
