"""The MCP endpoint of ``askwiki serve``, driven by the official SDK's client over real HTTP.

Fake embedder and scripted LLM (the real ones are in tests/integration/test_mcp_real.py);
real uvicorn on loopback, real streamable HTTP transport, real question log.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent, TextResourceContents

from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.async_run import run_async
from tests.support.index_builder import WIKI_PAGES, build_index, page
from tests.support.live_server import serve_in_thread
from tests.support.wiki_app import wiki_app

LONG_PAGE = page(
    "guides/long.md",
    "Long guide",
    "\n".join(f"## Part {i}\n" + f"Step {i} explains topic {i} in detail. " * 12 for i in range(6)),
)
Serve = Callable[..., AbstractContextManager[str]]
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
ACCEPT = "application/json, text/event-stream"


@pytest.fixture
def serve(tmp_path: Path) -> Serve:
    """``serve(llm=..., **settings)`` -> base URL of a live server with ``ASKWIKI_MCP=true``."""
    embedder = fake_embedder()
    build_index(tmp_path / "indexes" / "default", [*WIKI_PAGES, LONG_PAGE], embedder)

    @contextmanager
    def start(llm: FakeLLM | None = None, **overrides: Any) -> Iterator[str]:
        with serve_in_thread(
            wiki_app(tmp_path, embedder, llm, **{"mcp": True, **overrides})
        ) as url:
            yield url

    return start


@asynccontextmanager
async def connect(
    base_url: str, token: str | None = None, mode: str = "auto", request_id: str | None = None
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


def call(base_url: str, tool: str, arguments: dict[str, Any], **kw: Any) -> CallToolResult:
    async def run() -> CallToolResult:
        async with connect(base_url, **kw) as client:
            return await client.call_tool(tool, arguments)

    return run_async(run)


def text_of(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def test_tools_are_listed_with_descriptions_and_schemas(serve: Serve) -> None:
    async def run(base_url: str) -> dict[str, Any]:
        async with connect(base_url) as client:
            return {tool.name: tool for tool in (await client.list_tools()).tools}

    with serve() as base_url:
        tools = run_async(run, base_url)
    assert set(tools) == {"search_wiki", "ask_wiki", "get_page"}
    for tool in tools.values():
        assert tool.description and len(tool.description) > 80
        assert tool.output_schema is not None
    assert tools["search_wiki"].input_schema["required"] == ["query"]
    assert tools["search_wiki"].input_schema["properties"]["k"]["maximum"] == 20
    assert tools["ask_wiki"].input_schema["required"] == ["question"]
    assert "history" in tools["ask_wiki"].input_schema["properties"]
    assert tools["get_page"].input_schema["required"] == ["doc_id"]
    assert "status" in tools["ask_wiki"].output_schema["properties"]


# "legacy": the initialize handshake of pre-2026 clients, which most desktop agents still use.
@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_search_wiki_returns_passages_with_section_url_and_chunk_id(
    serve: Serve, mode: str
) -> None:
    with serve() as base_url:
        result = call(
            base_url, "search_wiki", {"query": "LoRA low-rank matrices", "k": 2}, mode=mode
        )
    assert not result.is_error
    data = result.structured_content
    assert data is not None and data["relevant"] is True
    best = data["results"][0]
    assert best["doc_id"] == "models/lora.md"
    assert best["title"] == "LoRA" and best["section"].startswith("LoRA › ")
    assert best["url"].startswith("https://wiki.example.com/models/lora#")
    assert best["id"].startswith("models/lora.md#")
    assert len(data["results"]) <= 2
    assert json.loads(text_of(result)) == data


def test_ask_wiki_answers_with_sources_and_logs_the_question(serve: Serve) -> None:
    with serve() as base_url:
        result = call(base_url, "ask_wiki", {"question": "Who introduced LoRA?"})
        logged = httpx.get(f"{base_url}/api/questions").json()
    assert not result.is_error
    answer = result.structured_content
    assert answer is not None and answer["status"] == "answered"
    assert "Hu et al." in answer["answer"] and "[1]" in answer["answer"]
    assert answer["sources"][0]["doc_id"] == "models/lora.md" and answer["sources"][0]["cited"]
    assert [item["id"] for item in logged["items"]] == [answer["id"]]


def test_a_retried_ask_wiki_with_the_same_request_id_is_one_question(serve: Serve) -> None:
    llm = FakeLLM(["LoRA was introduced by Hu et al. in 2021 [1].", "A second answer [1]."])
    with serve(llm=llm) as base_url:
        first = call(base_url, "ask_wiki", {"question": "Who introduced LoRA?"}, request_id="r-1")
        retry = call(base_url, "ask_wiki", {"question": "Who introduced LoRA?"}, request_id="r-1")
        bad = call(base_url, "ask_wiki", {"question": "Who introduced LoRA?"}, request_id="a b")
        logged = httpx.get(f"{base_url}/api/questions").json()
    assert first.structured_content is not None and retry.structured_content is not None
    assert retry.structured_content["id"] == first.structured_content["id"]
    assert "Hu et al." in retry.structured_content["answer"] and len(llm.calls) == 1
    assert bad.is_error and "invalid_request: X-Request-ID" in text_of(bad)
    assert [item["id"] for item in logged["items"]] == [first.structured_content["id"]]


def test_ask_wiki_passes_history_for_follow_ups(serve: Serve) -> None:
    llm = FakeLLM(["LoRA rank", "The rank is usually between 4 and 64 [1]."])
    history = [
        {"role": "user", "content": "What is LoRA?"},
        {"role": "assistant", "content": "A fine-tuning method."},
    ]
    with serve(llm=llm) as base_url:
        result = call(base_url, "ask_wiki", {"question": "And its rank?", "history": history})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["standalone_question"] == "LoRA rank"
    assert any("What is LoRA?" in m.content for m in llm.calls[0].messages)


def test_llm_down_is_a_tool_error_with_the_api_message(serve: Serve) -> None:
    with serve(llm=FakeLLM(fail_with="Cannot reach the fake LLM; start it")) as base_url:
        failed = call(base_url, "ask_wiki", {"question": "Who introduced LoRA?"})
        after = call(base_url, "search_wiki", {"query": "BM25 parameters"})
    assert failed.is_error
    assert text_of(failed).endswith("llm_unavailable: Cannot reach the fake LLM; start it")
    assert not after.is_error  # the server lives on


def test_missing_index_is_a_tool_error(serve: Serve, tmp_path: Path) -> None:
    with serve(index="nothing-here") as base_url:
        result = call(base_url, "search_wiki", {"query": "LoRA"})
    assert result.is_error
    assert "index_not_found: " in text_of(result) and "askwiki ingest" in text_of(result)


def test_get_page_returns_sections_in_order(serve: Serve) -> None:
    with serve() as base_url:
        result = call(base_url, "get_page", {"doc_id": "models/lora.md"})
    assert not result.is_error
    data = result.structured_content
    assert data is not None
    assert data["title"] == "LoRA" and data["next_section"] is None
    assert [s["section"] for s in data["sections"]] == ["LoRA › Overview", "LoRA › Rank"]
    assert "two low-rank matrices" in data["sections"][0]["text"]
    assert data["sections"][1]["url"] == "https://wiki.example.com/models/lora#rank"


def test_get_page_is_bounded_and_continues_where_it_stopped(serve: Serve) -> None:
    with serve() as base_url:
        first = call(base_url, "get_page", {"doc_id": "guides/long.md", "max_chars": 1000})
        assert first.structured_content is not None
        start = first.structured_content["next_section"]
        rest = call(
            base_url,
            "get_page",
            {"doc_id": "guides/long.md", "start_section": start, "max_chars": 100_000},
        )
    head, tail = first.structured_content, rest.structured_content
    assert tail is not None
    assert sum(len(s["text"]) for s in head["sections"]) <= 1000
    assert 0 < start < head["total_sections"] == 6
    sections = [s["section"] for s in head["sections"] + tail["sections"]]
    assert sections == [f"Long guide › Part {i}" for i in range(6)]
    assert tail["next_section"] is None


def test_get_page_of_an_unknown_id_is_a_tool_error(serve: Serve) -> None:
    with serve() as base_url:
        result = call(base_url, "get_page", {"doc_id": "no/such-page.md"})
    assert result.is_error
    assert "not_found: No page with doc_id 'no/such-page.md'" in text_of(result)


def test_page_resource_reads_a_page_and_refuses_an_unknown_one(serve: Serve) -> None:
    async def run(base_url: str) -> tuple[Any, Exception | None]:
        async with connect(base_url) as client:
            templates = (await client.list_resource_templates()).resource_templates
            assert [t.uri_template for t in templates] == ["askwiki://page/{+doc_id}"]
            found = await client.read_resource("askwiki://page/models/lora.md")
            try:
                await client.read_resource("askwiki://page/no/such.md")
            except MCPError as exc:
                return found, exc
            return found, None

    with serve() as base_url:
        found, missing = run_async(run, base_url)
    contents = found.contents[0]
    assert isinstance(contents, TextResourceContents)
    assert json.loads(contents.text)["title"] == "LoRA"
    assert missing is not None and "no/such.md" in str(missing)


def test_token_is_required_when_set(serve: Serve) -> None:
    token = "mcp-secret-token-0123456789"
    with serve(mcp_token=token) as base_url:
        refused = httpx.post(f"{base_url}/mcp", json=PING)
        wrong = httpx.post(f"{base_url}/mcp", json=PING, headers={"Authorization": "Bearer wrong"})
        allowed = call(base_url, "search_wiki", {"query": "BM25"}, token=token)
    assert refused.status_code == wrong.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "ASKWIKI_MCP_TOKEN" in refused.json()["detail"]
    assert not allowed.is_error


def test_mcp_is_off_by_default(serve: Serve) -> None:
    with serve(mcp=False) as base_url:
        response = httpx.post(f"{base_url}/mcp", json=PING)
    assert response.status_code == 404


def test_ask_wiki_shares_the_public_ask_budget(serve: Serve) -> None:
    with serve(rate_limit_per_minute=2, session_rate_limit_per_minute=0) as base_url:
        first = call(base_url, "ask_wiki", {"question": "Who introduced LoRA?"})
        api = httpx.post(f"{base_url}/api/ask", json={"question": "What does LoRA freeze?"})
        over = call(base_url, "ask_wiki", {"question": "What are BM25's parameters?"})
        search = call(base_url, "search_wiki", {"query": "BM25"})
    assert not first.is_error and api.status_code == 200
    assert over.is_error and "rate_limited: Too many questions; retry in" in text_of(over)
    assert not search.is_error  # its own, larger budget


@pytest.mark.parametrize(
    ("headers", "public_url", "allowed"),
    [
        ({}, None, True),
        ({"Host": "evil.example"}, None, False),
        ({"Host": "ask.example.com"}, "https://ask.example.com", True),
        ({"Host": "evil.example"}, "https://ask.example.com", False),
        ({"Origin": "https://ask.example.com"}, "https://ask.example.com", True),
        ({"Origin": "https://evil.example"}, "https://ask.example.com", False),
    ],
)
def test_dns_rebinding_protection_admits_only_own_names(
    serve: Serve, headers: dict[str, str], public_url: str | None, allowed: bool
) -> None:
    """A page on another name must not reach a loopback server's tools through a browser."""
    with serve(public_url=public_url) as base_url:
        response = httpx.post(f"{base_url}/mcp", json=PING, headers={"Accept": ACCEPT, **headers})
    assert (response.status_code == 200) is allowed, (response.status_code, response.text)
