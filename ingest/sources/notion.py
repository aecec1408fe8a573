"""``notion`` sources: the pages of a Notion database (data source) through notion-client.

Every sync queries the data source for its pages and their ``last_edited_time``; new or
edited pages are read as blocks (``blocks/:id/children``, nested children included) and
converted to Markdown headings, pages gone from the data source (or in the trash) are
deleted. ``address`` is the data source id; ``env`` names the variable holding ``token``
(an integration secret). Rate-limited answers (``rate_limited``) back off and retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from notion_client import APIResponseError, Client

from askwiki.errors import SourceError
from askwiki.ingest.sources.base import Changes, Fetched, SourceConfig, changes_by_edit_time
from askwiki.ingest.sources.pages import markdown_document

logger = logging.getLogger(__name__)
RETRIES = 5
BACKOFF_S = 1.0
_PREFIX = {
    "heading_1": "# ",
    "heading_2": "## ",
    "heading_3": "### ",
    "bulleted_list_item": "- ",
    "numbered_list_item": "1. ",
    "to_do": "- ",
    "quote": "> ",
    "callout": "> ",
    "paragraph": "",
    "toggle": "",
}


class NotionSource:
    """Pages of one data source; keys are page ids."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        options: dict[str, Any] = {"auth": config.secret("token")}
        if "api_url" in config.options:
            options["base_url"] = str(config.options["api_url"])
        self._client = Client(**options)
        self._pages: dict[str, dict[str, Any]] = {}
        self.backoff_s = BACKOFF_S

    def changes(self, cursor: str | None) -> Changes:
        self._pages = {}
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"page_size": 100}
            if start:
                kwargs["start_cursor"] = start
            data = self._call(self._client.data_sources.query, self.config.address, **kwargs)
            for page in data.get("results", []):
                alive = page.get("object") == "page" and not page.get("in_trash")
                if alive and self.config.wanted(page_title(page)):
                    self._pages[page["id"]] = page
            start = data.get("next_cursor")
            if not data.get("has_more") or not start:
                break
        listing = {k: str(p.get("last_edited_time")) for k, p in self._pages.items()}
        return changes_by_edit_time(listing, cursor)

    def fetch(self, keys: Iterable[str]) -> Iterator[Fetched]:
        for key in keys:
            page = self._pages.get(key, {})
            try:
                lines = list(self._render(key, depth=0))
            except SourceError as exc:
                yield key, str(exc)
                continue
            title = page_title(page) or key
            url = page.get("url") or f"{(self.config.url_base or '').rstrip('/')}/{key}"
            yield key, markdown_document(self.config, key, title, "\n".join(lines), url)

    def close(self) -> None:
        self._client.close()

    def _render(self, block_id: str, depth: int) -> Iterator[str]:
        for block in self._children(block_id):
            kind = str(block.get("type"))
            body = block.get(kind) or {}
            if kind == "code":
                yield from ("```", rich_text(body.get("rich_text")), "```", "")
            elif kind == "table":
                yield ""
                for row in self._children(block["id"]):
                    cells = (row.get("table_row") or {}).get("cells") or []
                    yield " | ".join(rich_text(cell) for cell in cells)
                yield ""
                continue
            elif kind in _PREFIX:
                indent = "  " * depth if kind.endswith("list_item") or kind == "to_do" else ""
                yield f"{indent}{_PREFIX[kind]}{rich_text(body.get('rich_text'))}"
                if kind.startswith(("heading", "paragraph", "quote", "callout")):
                    yield ""
            if block.get("has_children") and kind not in ("child_page", "child_database"):
                yield from self._render(block["id"], depth + 1)

    def _children(self, block_id: str) -> Iterator[dict[str, Any]]:
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"page_size": 100}
            if start:
                kwargs["start_cursor"] = start
            data = self._call(self._client.blocks.children.list, block_id, **kwargs)
            yield from data.get("results", [])
            start = data.get("next_cursor")
            if not data.get("has_more") or not start:
                return

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        for attempt in range(RETRIES):
            try:
                result: dict[str, Any] = method(*args, **kwargs)
                return result
            except APIResponseError as exc:
                if exc.code == "rate_limited" and attempt + 1 < RETRIES:
                    time.sleep(self.backoff_s * 2**attempt)
                    continue
                raise SourceError(
                    f"Notion refused a request for {self.config.name!r}: {exc}"
                ) from exc
            except Exception as exc:  # httpx errors, timeouts
                raise SourceError(f"Notion failed for {self.config.name!r}: {exc}") from exc
        raise SourceError(f"Notion kept rate-limiting {self.config.name!r}")


def page_title(page: dict[str, Any]) -> str:
    """The text of the page's title property."""
    for prop in (page.get("properties") or {}).values():
        if prop.get("type") == "title":
            return rich_text(prop.get("title"))
    return ""


def rich_text(items: Any) -> str:
    return "".join(str(item.get("plain_text", "")) for item in items or []).strip()
