"""The query service end to end: real embedder, real embedded LLM, real HTTP, real clients.

Generations are kept short (the model writes ~16 tokens/s on 2 cores); all tests share the
session's one loaded model.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from askwiki.embedding.embedder import Embedder
from askwiki.llm.embedded import EmbeddedBackend
from askwiki.server.app import create_app
from askwiki.settings import Settings
from tests.support.live_server import serve_in_thread
from tests.support.ollama_facade import OllamaFacade
from tests.support.shared_llm import SharedLLM

pytestmark = [pytest.mark.integration, pytest.mark.llm]
CJK = re.compile(r"[\u4e00-\u9fff]")


def app_settings(example_index: Settings, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "index_dir": example_index.index_dir,
        "index": example_index.index,
        "data_dir": tmp_path / "data",
        "rate_limit_per_minute": 0,
        "llm_max_answer_tokens": 80,
        "top_k": 3,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def base_url(
    example_index: Settings,
    real_embedder: Embedder,
    embedded_llm: EmbeddedBackend,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    settings = app_settings(example_index, tmp_path_factory.mktemp("answers"))
    app = create_app(settings, embedder=real_embedder, llm_factory=lambda: SharedLLM(embedded_llm))
    with serve_in_thread(app) as url:
        yield url


def assert_citations_map_to_sources(body: dict[str, Any]) -> None:
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
    listed = {s["n"]: s for s in body["sources"]}
    assert numbers, f"no citation in {body['answer']!r}"
    assert numbers <= set(listed), (numbers, set(listed))
    assert numbers == {n for n, s in listed.items() if s["cited"]}


def test_chinese_question_gets_chinese_answer_citing_the_right_page(base_url: str) -> None:
    body = httpx.post(
        f"{base_url}/api/ask", json={"question": "知识蒸馏是哪一年由谁提出的？"}, timeout=300
    ).json()
    assert body["language"] == "zh" and body["status"] == "answered"
    assert len(CJK.findall(body["answer"])) > 5, body["answer"]
    assert_citations_map_to_sources(body)
    cited_urls = {s["url"] for s in body["sources"] if s["cited"]}
    assert any("knowledge-distillation" in (u or "") for u in cited_urls), cited_urls


def test_english_question_gets_english_answer_citing_the_right_page(base_url: str) -> None:
    body = httpx.post(
        f"{base_url}/api/ask",
        json={"question": "How large a model can QLoRA fine-tune on a single 48 GB GPU?"},
        timeout=300,
    ).json()
    assert body["language"] == "en" and body["status"] == "answered"
    assert len(CJK.findall(body["answer"])) == 0 and "65" in body["answer"], body["answer"]
    assert_citations_map_to_sources(body)
    assert any("/fine-tuning/lora" in (s["url"] or "") for s in body["sources"] if s["cited"])


def test_stream_done_object_has_the_json_shape(base_url: str) -> None:
    events: list[tuple[str, Any]] = []
    with httpx.stream(
        "POST",
        f"{base_url}/api/ask",
        json={"question": "What is the default value of BM25's b parameter?", "stream": True},
        timeout=300,
    ) as response:
        assert response.headers["x-accel-buffering"] == "no"
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    assert events[0][0] == "sources" and events[-1][0] == "done"
    assert sum(1 for k, _ in events if k == "token") > 1
    done = events[-1][1]
    plain = httpx.post(
        f"{base_url}/api/ask",
        json={"question": "Which value does BM25's parameter b usually take?"},
        timeout=300,
    ).json()
    assert set(done) == set(plain)
    assert [s["id"] for s in done["sources"]] == [s["id"] for s in events[0][1]["sources"]]
    assert_citations_map_to_sources(done)


def test_openai_client_gets_answer_with_sources(base_url: str) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", timeout=300)
    completion = client.chat.completions.create(
        model="askwiki",
        messages=[{"role": "user", "content": "DistilBERT 保留了 BERT 多少的语言理解能力？"}],
    )
    content = completion.choices[0].message.content or ""
    extra = completion.model_extra or {}
    assert "\n\n参考来源：\n[" in content and extra.get("sources")  # the answer speaks Chinese
    assert "97" in content


def test_absent_topic_gets_no_relevant_page_answer(base_url: str) -> None:
    started = time.monotonic()
    body = httpx.post(
        f"{base_url}/api/ask",
        json={"question": "Who won the 2018 FIFA World Cup final?"},
        timeout=60,
    ).json()
    assert body["status"] == "no_answer" and body["sources"] == []
    assert "no page" in body["answer"]
    assert time.monotonic() - started < 10, "no LLM call should be needed"


def test_dead_llm_port_answers_503_within_timeout(
    example_index: Settings, real_embedder: Embedder, tmp_path: Path
) -> None:
    settings = app_settings(
        example_index,
        tmp_path,
        llm_backend="openai",
        openai_base_url="http://127.0.0.1:9/v1",
        llm_timeout_s=5,
    )
    with serve_in_thread(create_app(settings, embedder=real_embedder)) as url:
        started = time.monotonic()
        response = httpx.post(f"{url}/api/ask", json={"question": "What is LoRA?"}, timeout=60)
        elapsed = time.monotonic() - started
    assert response.status_code == 503 and response.json()["backend"] == "openai"
    assert elapsed < 10


def test_ollama_backend_through_protocol_facade(
    example_index: Settings, real_embedder: Embedder, embedded_llm: EmbeddedBackend, tmp_path: Path
) -> None:
    with OllamaFacade(embedded_llm.base_url, "qwen2.5-coder:1.5b") as facade:
        settings = app_settings(
            example_index, tmp_path, llm_backend="ollama", ollama_host=facade.url
        )
        with serve_in_thread(create_app(settings, embedder=real_embedder)) as url:
            body = httpx.post(
                f"{url}/api/ask",
                json={"question": "What does LoRA freeze during fine-tuning?"},
                timeout=300,
            ).json()
    assert body["status"] == "answered" and body["model"].startswith("ollama:")
    assert_citations_map_to_sources(body)
    assert facade.num_ctx_seen and all(n >= 512 for n in facade.num_ctx_seen)
