"""The MCP server with the official SDK's client, on both transports, over the example wiki.

Real multilingual-e5-small, real example index, real uvicorn (streamable HTTP at /mcp) and
a real ``askwiki mcp`` subprocess (stdio). One short real-LLM ask, on the session's shared
model; the stdio server's LLM is a dead port, so its ask shows the LLM-down tool error.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import CallToolResult, TextContent

from askwiki.embedding.embedder import Embedder
from askwiki.llm.embedded import EmbeddedBackend
from askwiki.server.app import create_app
from askwiki.settings import Settings
from tests.conftest import ROOT
from tests.integration.test_answer_real import app_settings
from tests.support.async_run import run_async
from tests.support.live_server import serve_in_thread
from tests.support.shared_llm import SharedLLM

pytestmark = pytest.mark.integration

# (query, what the best passage's URL contains): Chinese, English, and English -> Chinese page.
SEARCHES = [
    ("知识蒸馏是哪一年由谁提出的？", "models/compression/knowledge-distillation"),
    ("中文分词有哪些歧义问题？", "zh/word-segmentation"),
    ("How large a model can QLoRA fine-tune on a single 48 GB GPU?", "models/fine-tuning/lora"),
]
TOOLS = {"search_wiki", "ask_wiki", "get_page"}


def text_of(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def check_searches(results: list[CallToolResult]) -> None:
    for (query, url_part), result in zip(SEARCHES, results, strict=True):
        assert not result.is_error, text_of(result)
        data = result.structured_content
        assert data is not None and data["relevant"], (query, data)
        best = data["results"][0]
        assert url_part in (best["url"] or ""), (query, best)
        assert best["id"].startswith(f"{best['doc_id']}#") and best["section"] and best["score"]


async def search_all(client: Client) -> list[CallToolResult]:
    return [await client.call_tool("search_wiki", {"query": q, "k": 3}) for q, _ in SEARCHES]


@pytest.fixture(scope="module")
def http_url(
    example_index: Settings, real_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``askwiki serve`` with ASKWIKI_MCP=true; its LLM is a dead port (no ask here)."""
    settings = app_settings(
        example_index,
        tmp_path_factory.mktemp("mcp-http"),
        mcp=True,
        llm_backend="openai",
        openai_base_url="http://127.0.0.1:9/v1",
        llm_timeout_s=5,
    )
    with serve_in_thread(create_app(settings, embedder=real_embedder)) as url:
        yield f"{url}/mcp"


def test_http_tools_search_and_unknown_page(http_url: str) -> None:
    async def run() -> tuple[set[str], list[CallToolResult], CallToolResult]:
        async with Client(http_url) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            searches = await search_all(client)
            unknown = await client.call_tool("get_page", {"doc_id": "no-such-page"})
            return tools, searches, unknown

    tools, searches, unknown = run_async(run)
    assert tools == TOOLS
    check_searches(searches)
    assert unknown.is_error and "not_found: No page with doc_id 'no-such-page'" in text_of(unknown)


def test_http_get_page_returns_the_indexed_sections(http_url: str) -> None:
    async def run() -> CallToolResult:
        async with Client(http_url) as client:
            return await client.call_tool("get_page", {"doc_id": "kd-001"})

    result = run_async(run)
    assert not result.is_error, text_of(result)
    page = result.structured_content
    assert page is not None and page["title"] == "知识蒸馏" and page["next_section"] is None
    assert any("Hinton" in s["text"] for s in page["sections"])
    assert all(s["url"].startswith(page["url"]) for s in page["sections"])


def test_stdio_server_tools_search_and_errors(example_index: Settings, tmp_path: Path) -> None:
    """``askwiki mcp`` as a desktop agent launches it: a subprocess speaking on stdin/stdout."""
    env = {
        "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)),
        "ASKWIKI_DATA_DIR": str(tmp_path / "data"),
        "ASKWIKI_LLM_BACKEND": "openai",
        "ASKWIKI_OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "ASKWIKI_LLM_TIMEOUT_S": "5",
        "ASKWIKI_LOG_LEVEL": "WARNING",
    }
    command = StdioServerParameters(
        command=sys.executable,
        args=[
            *("-m", "askwiki.cli.main", "mcp"),
            *("--index", example_index.index, "--index-dir", str(example_index.index_dir)),
        ],
        env=env,
        cwd=tmp_path,
    )

    async def run() -> dict[str, Any]:
        async with Client(command, read_timeout_seconds=120) as client:
            return {
                "tools": {tool.name for tool in (await client.list_tools()).tools},
                "searches": await search_all(client),
                "unknown": await client.call_tool("get_page", {"doc_id": "no-such-page"}),
                "ask": await client.call_tool("ask_wiki", {"question": "What is LoRA?"}),
                "after": await client.call_tool("search_wiki", {"query": "BM25"}),
            }

    got = run_async(run)
    assert got["tools"] == TOOLS
    check_searches(got["searches"])
    assert got["unknown"].is_error and "not_found: " in text_of(got["unknown"])
    # LLM down: the API's 503 message as a tool error, and the server still answers.
    assert got["ask"].is_error and "llm_unavailable: " in text_of(got["ask"])
    assert not got["after"].is_error


@pytest.mark.llm
def test_http_ask_wiki_returns_a_cited_answer_with_the_real_llm(
    example_index: Settings,
    real_embedder: Embedder,
    embedded_llm: EmbeddedBackend,
    tmp_path: Path,
) -> None:
    settings = app_settings(example_index, tmp_path, mcp=True)
    app = create_app(settings, embedder=real_embedder, llm_factory=lambda: SharedLLM(embedded_llm))

    async def run(url: str) -> CallToolResult:
        async with Client(url, read_timeout_seconds=300) as client:
            return await client.call_tool(
                "ask_wiki", {"question": "What does LoRA freeze during fine-tuning?"}
            )

    with serve_in_thread(app) as base_url:
        result = run_async(run, f"{base_url}/mcp")
    assert not result.is_error, text_of(result)
    answer = result.structured_content
    assert answer is not None and answer["status"] == "answered" and answer["generated"]
    cited = {s["n"]: s for s in answer["sources"] if s["cited"]}
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])}
    assert markers and markers == set(cited), (answer["answer"], cited)
    # Cross-language retrieval may bring the Chinese page comparing fine-tuning methods, which
    # also says what LoRA trains: any cited source about LoRA is the right one.
    assert any("LoRA" in s["title"] + s["excerpt"] for s in cited.values()), cited
