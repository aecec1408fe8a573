"""``askwiki sync`` for Feishu/Lark, Confluence and Notion against local stand-ins.

The services cannot be reached from the test machines; each stand-in in
``tests/support/`` speaks the endpoints the source uses, written from the official API
references, over real HTTP on loopback with the real SDK on the client side.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from askwiki.embedding.embedder import Embedder
from askwiki.errors import SourceConfigError
from askwiki.ingest.sources import SourceConfig
from askwiki.ingest.sync import run_sync
from askwiki.settings import Settings
from askwiki.store.index import open_index
from tests.support.confluence_standin import TOKEN as CONFLUENCE_TOKEN
from tests.support.confluence_standin import USER as CONFLUENCE_USER
from tests.support.confluence_standin import ConfluenceSpace, confluence_app
from tests.support.feishu_standin import APP_ID, APP_SECRET, FeishuWiki, feishu_app
from tests.support.live_server import serve_in_thread
from tests.support.notion_standin import TOKEN as NOTION_TOKEN
from tests.support.notion_standin import NotionDatabase, notion_app

pytestmark = pytest.mark.integration


def indexed(settings: Settings) -> dict[str, str]:
    """doc id -> all its chunk text."""
    index = open_index(settings.index_path)
    try:
        return {
            doc_id: " ".join(c.chunk.text for c in index.docstore.chunks_of(doc_id))
            for doc_id in index.docstore.documents()
        }
    finally:
        index.close()


@pytest.fixture
def feishu(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FeishuWiki, SourceConfig]]:
    wiki = FeishuWiki()
    wiki.put("wikcnRoot", "入门指南", {"什么是 AGI": "通用人工智能的介绍。", "Why": "Background."})
    wiki.put("wikcnChild1", "Prompt basics", {"Roles": "System and user roles."}, "wikcnRoot")
    wiki.put("wikcnChild2", "RAG", {"Retrieval": "Search before answering."}, "wikcnRoot")
    wiki.put("wikcnOther", "Tools", {"Editors": "Cursor and others."})
    monkeypatch.setenv("FEISHU_APP_ID", APP_ID)
    monkeypatch.setenv("FEISHU_APP_SECRET", APP_SECRET)
    with serve_in_thread(feishu_app(wiki)) as url:
        config = SourceConfig(
            name="waytoagi",
            kind="feishu",
            address=wiki.space_id,
            env={"app_id": "FEISHU_APP_ID", "app_secret": "FEISHU_APP_SECRET"},
            options={"domain": url},
            url_base="https://waytoagi.feishu.cn/wiki",
        )
        yield wiki, config


def test_feishu_space_tree_to_pages_with_headings(
    feishu: tuple[FeishuWiki, SourceConfig], settings: Settings, embedder: Embedder
) -> None:
    _, config = feishu
    report = run_sync([config], settings, embedder)
    assert sorted(report.new) == [
        "waytoagi:wikcnChild1",
        "waytoagi:wikcnChild2",
        "waytoagi:wikcnOther",
        "waytoagi:wikcnRoot",
    ]
    index = open_index(settings.index_path)
    chunks = index.docstore.chunks_of("waytoagi:wikcnRoot")
    index.close()
    assert chunks[0].chunk.title == "入门指南"
    assert {c.chunk.section for c in chunks} == {"入门指南 › 什么是 AGI", "入门指南 › Why"}
    assert chunks[0].chunk.url is not None
    assert chunks[0].chunk.url.startswith("https://waytoagi.feishu.cn/wiki/wikcnRoot#")


def test_feishu_edit_time_drives_changes_and_deletions(
    feishu: tuple[FeishuWiki, SourceConfig], settings: Settings, embedder: Embedder
) -> None:
    wiki, config = feishu
    run_sync([config], settings, embedder)
    wiki.calls.clear()
    wiki.put("wikcnChild2", "RAG", {"Retrieval": "Search, then rerank, then answer."}, "wikcnRoot")
    wiki.remove("wikcnOther")
    report = run_sync([config], settings, embedder)
    assert report.changed == ["waytoagi:wikcnChild2"] and report.deleted == ["waytoagi:wikcnOther"]
    # Only the edited document's blocks were read again.
    assert [c for c in wiki.calls if c.startswith("blocks")] == ["blocks doc_wikcnChild2"]
    assert "rerank" in indexed(settings)["waytoagi:wikcnChild2"]


def test_feishu_rate_limit_is_retried_with_backoff(
    feishu: tuple[FeishuWiki, SourceConfig],
    settings: Settings,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from askwiki.ingest.sources import feishu as feishu_module

    monkeypatch.setattr(feishu_module, "BACKOFF_S", 0.05)
    wiki, config = feishu
    wiki.rate_limit_next = 2
    report = run_sync([config], settings, embedder)
    assert len(report.new) == 4 and not report.skipped


def test_feishu_missing_credentials_name_the_variable(
    feishu: tuple[FeishuWiki, SourceConfig],
    settings: Settings,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, config = feishu
    monkeypatch.delenv("FEISHU_APP_SECRET")
    with pytest.raises(SourceConfigError, match="FEISHU_APP_SECRET"):
        run_sync([config], settings, embedder)


def test_feishu_wrong_secret_is_a_source_error_not_a_crash(
    feishu: tuple[FeishuWiki, SourceConfig],
    settings: Settings,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from askwiki.errors import SourceError

    _, config = feishu
    # Another app id: the SDK caches tokens per app id for the whole process.
    monkeypatch.setenv("FEISHU_APP_ID", "cli_unknown_app")
    with pytest.raises(SourceError, match="app secret invalid"):
        run_sync([config], settings, embedder)


@pytest.fixture
def confluence(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[ConfluenceSpace, SourceConfig]]:
    space = ConfluenceSpace()
    for n in range(60):  # more than one page of listing (50)
        space.put(str(1000 + n), f"Runbook {n}", f"<h2>Steps</h2><p>Restart service {n}.</p>")
    space.put(
        "2000",
        "On-call",
        "<p>Who is on call.</p><h2>Escalation</h2><p>Page the lead.</p>"
        "<table><tr><th>Team</th><th>Phone</th></tr><tr><td>Infra</td><td>1234</td></tr></table>",
    )
    monkeypatch.setenv("CONFLUENCE_USER", CONFLUENCE_USER)
    monkeypatch.setenv("CONFLUENCE_TOKEN", CONFLUENCE_TOKEN)
    with serve_in_thread(confluence_app(space)) as url:
        yield (
            space,
            SourceConfig(
                name="eng",
                kind="confluence",
                address=url,
                root="ENG",
                env={"username": "CONFLUENCE_USER", "token": "CONFLUENCE_TOKEN"},
            ),
        )


def test_confluence_space_pages_by_version(
    confluence: tuple[ConfluenceSpace, SourceConfig], settings: Settings, embedder: Embedder
) -> None:
    space, config = confluence
    first = run_sync([config], settings, embedder)
    assert len(first.new) == 61
    index = open_index(settings.index_path)
    chunks = index.docstore.chunks_of("eng:2000")
    index.close()
    assert {c.chunk.section for c in chunks} == {"On-call", "On-call › Escalation"}
    assert "Infra | 1234" in " ".join(c.chunk.text for c in chunks)
    assert chunks[0].chunk.url is not None and "/spaces/ENG/pages/2000" in chunks[0].chunk.url

    space.put("1003", "Runbook 3", "<h2>Steps</h2><p>Restart service 3 twice.</p>")
    del space.pages["1004"]
    again = run_sync([config], settings, embedder)
    assert again.changed == ["eng:1003"] and again.deleted == ["eng:1004"]
    assert again.unchanged == 0  # unchanged versions are not even fetched
    assert "twice" in indexed(settings)["eng:1003"]


@pytest.fixture
def notion(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[NotionDatabase, SourceConfig]]:
    database = NotionDatabase()
    database.put(
        "p-1", "Onboarding", {"First day": ["Laptop", "Badge"], "First week": ["Meet team"]}
    )
    database.put("p-2", "Holidays", {"Policy": ["25 days a year"]})
    database.add_table("p-2", [["Country", "Days"], ["France", "25"]])
    database.put("p-3", "Expenses", {"Travel": ["Book through the portal"]})
    monkeypatch.setenv("NOTION_TOKEN", NOTION_TOKEN)
    with serve_in_thread(notion_app(database)) as url:
        yield (
            database,
            SourceConfig(
                name="handbook",
                kind="notion",
                address=database.data_source_id,
                env={"token": "NOTION_TOKEN"},
                options={"api_url": url},
            ),
        )


def test_notion_pages_blocks_and_last_edited_time(
    notion: tuple[NotionDatabase, SourceConfig],
    settings: Settings,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from askwiki.ingest.sources import notion as notion_module

    monkeypatch.setattr(notion_module, "BACKOFF_S", 0.05)
    database, config = notion
    database.rate_limit_next = 1
    first = run_sync([config], settings, embedder)
    assert sorted(first.new) == ["handbook:p-1", "handbook:p-2", "handbook:p-3"]
    index = open_index(settings.index_path)
    chunks = index.docstore.chunks_of("handbook:p-1")
    index.close()
    assert {c.chunk.section for c in chunks} == {
        "Onboarding › First day",
        "Onboarding › First week",
    }
    assert chunks[0].chunk.url is not None
    assert chunks[0].chunk.url.startswith("https://www.notion.so/p1#")
    assert "France | 25" in indexed(settings)["handbook:p-2"]

    database.put("p-3", "Expenses", {"Travel": ["Book through the new portal"]})
    del database.pages["p-1"]
    again = run_sync([config], settings, embedder)
    assert again.changed == ["handbook:p-3"] and again.deleted == ["handbook:p-1"]
    assert "new portal" in indexed(settings)["handbook:p-3"]


def test_feishu_failing_document_keeps_last_version_until_its_node_goes(
    feishu: tuple[FeishuWiki, SourceConfig], settings: Settings, embedder: Embedder
) -> None:
    wiki, config = feishu
    run_sync([config], settings, embedder)
    wiki.put("wikcnOther", "Tools", {"Editors": "Edited, but unreadable."})
    del wiki.documents["doc_wikcnOther"]  # the blocks call now answers 404
    failed = run_sync([config], settings, embedder)
    assert [s.source for s in failed.skipped] == ["waytoagi:wikcnOther"]
    assert "Cursor and others" in indexed(settings)["waytoagi:wikcnOther"]
    retried = run_sync([config], settings, embedder)  # no new edit: fetched again anyway
    assert [s.source for s in retried.skipped] == ["waytoagi:wikcnOther"]
    wiki.nodes.pop("wikcnOther")
    gone = run_sync([config], settings, embedder)
    assert gone.deleted == ["waytoagi:wikcnOther"] and not gone.skipped
