"""EmbeddedBackend's lifecycle with a stand-in ``xllamacpp`` module (no model loaded)."""

from __future__ import annotations

import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest

from askwiki.errors import LLMError, ModelError
from askwiki.llm.base import ChatMessage
from askwiki.llm.embedded import EmbeddedBackend
from askwiki.settings import Settings
from tests.unit.llm.llm_stubs import StubServer

ASK = [ChatMessage("user", "hi")]


class _Params:
    def __init__(self) -> None:
        self.model = types.SimpleNamespace(path="")
        self.cpuparams = types.SimpleNamespace(n_threads=-1)
        self.cpuparams_batch = types.SimpleNamespace(n_threads=-1)


@pytest.fixture
def fake_xllamacpp(
    monkeypatch: pytest.MonkeyPatch, stub_openai: StubServer
) -> types.SimpleNamespace:
    """A ``xllamacpp`` whose Server "loads" in 0.2 s and points at the stub server."""
    record = types.SimpleNamespace(started=0, stopped=0, params=None)

    class Server:
        def __init__(self, params: Any) -> None:
            time.sleep(0.2)  # widen the window for a double load
            record.started += 1
            record.params = params
            self.listening_address = stub_openai.url

        def __del__(self) -> None:
            record.stopped += 1

    module = types.ModuleType("xllamacpp")
    module.CommonParams = _Params  # type: ignore[attr-defined]
    module.Server = Server  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "xllamacpp", module)
    return record


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-model.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 60)
    return path


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(model_dir=tmp_path / "models", _env_file=None, **overrides)  # type: ignore[call-arg]


def test_loads_once_under_concurrent_first_use_and_close_stops_it(
    fake_xllamacpp: types.SimpleNamespace, model_file: Path, tmp_path: Path
) -> None:
    settings = settings_for(
        tmp_path, llm_model_path=model_file, llm_context_tokens=2048, llm_threads=3
    )
    backend = EmbeddedBackend(settings)
    assert backend.model == "tiny-model" and not backend.loaded
    answers: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(backend.chat(ASK, max_tokens=8, temperature=0))
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["Hello from the stub."] * 4
    assert fake_xllamacpp.started == 1
    params = fake_xllamacpp.params
    assert params.model.path == str(model_file)
    assert params.n_ctx == 2048
    assert params.cpuparams.n_threads == 3 and params.cpuparams_batch.n_threads == 3
    assert params.hostnames == ["127.0.0.1"] and params.port == 0
    assert backend.health()["ok"] is True
    backend.close()
    assert fake_xllamacpp.stopped == 1
    with pytest.raises(LLMError, match="closed"):
        backend.chat(ASK, max_tokens=8, temperature=0)


def test_threads_default_to_the_cpu_count(
    fake_xllamacpp: types.SimpleNamespace, model_file: Path, tmp_path: Path
) -> None:
    import os

    backend = EmbeddedBackend(settings_for(tmp_path, llm_model_path=model_file))
    backend.load()
    assert fake_xllamacpp.params.cpuparams.n_threads == (os.cpu_count() or 1)
    backend.close()


def test_missing_model_file_is_an_llm_error_naming_the_setting(tmp_path: Path) -> None:
    backend = EmbeddedBackend(settings_for(tmp_path, llm_model_path=tmp_path / "nope.gguf"))
    assert backend.health()["ok"] is False
    with pytest.raises(LLMError, match="ASKWIKI_LLM_MODEL_PATH") as info:
        backend.chat(ASK, max_tokens=8, temperature=0)
    assert info.value.backend == "embedded"
    assert backend.count_tokens("hello world") == 4  # falls back to the estimate


def test_a_file_that_is_not_gguf_is_refused_before_llama_cpp_sees_it(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"<html>404</html>")
    with pytest.raises(ModelError, match="not a GGUF file"):
        EmbeddedBackend(settings_for(tmp_path, llm_model_path=path)).load()


def test_llama_cpp_load_failure_is_a_model_error(
    monkeypatch: pytest.MonkeyPatch, model_file: Path, tmp_path: Path
) -> None:
    module = types.ModuleType("xllamacpp")
    module.CommonParams = _Params  # type: ignore[attr-defined]

    def fail(params: Any) -> None:
        raise RuntimeError("Failed to init server, please check the input params.")

    module.Server = fail  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "xllamacpp", module)
    backend = EmbeddedBackend(settings_for(tmp_path, llm_model_path=model_file))
    with pytest.raises(ModelError, match="could not load"):
        backend.load()
