"""A stand-in for the Notion API endpoints the ``notion`` source uses.

Written from the Notion API reference (version 2025-09-03): ``POST
/v1/data_sources/{id}/query`` (paged by ``start_cursor``/``next_cursor``) and ``GET
/v1/blocks/{id}/children``, with a Bearer integration token and the ``Notion-Version``
header. Notion itself cannot be reached from the test machines. ``rate_limit_next``
answers 429 ``rate_limited`` to exercise the backoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

TOKEN = "ntn_test_integration_secret"


def _rich(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": text}, "plain_text": text}]


@dataclass
class NotionDatabase:
    data_source_id: str = "1f2e3d4c-0000-4000-8000-00000000d5a1"
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    blocks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rate_limit_next: int = 0
    _clock: int = 0

    def put(self, page_id: str, title: str, sections: dict[str, list[str]]) -> None:
        """Create or edit a page: heading_2 per section, bullets under it, a new edit time."""
        self._clock += 1
        self.pages[page_id] = {
            "object": "page",
            "id": page_id,
            "in_trash": False,
            "last_edited_time": f"2026-12-01T08:{self._clock:02d}:00.000Z",
            "url": f"https://www.notion.so/{page_id.replace('-', '')}",
            "properties": {"Name": {"id": "title", "type": "title", "title": _rich(title)}},
        }
        children: list[dict[str, Any]] = []
        for n, (heading, items) in enumerate(sections.items()):
            children.append(_block(f"{page_id}-h{n}", "heading_2", heading))
            for m, item in enumerate(items):
                children.append(_block(f"{page_id}-b{n}-{m}", "bulleted_list_item", item))
        self.blocks[page_id] = children

    def add_table(self, page_id: str, rows: list[list[str]]) -> None:
        table_id = f"{page_id}-table"
        table = {"object": "block", "id": table_id, "type": "table", "has_children": True}
        table["table"] = {"table_width": len(rows[0]), "has_column_header": True}
        self.blocks[page_id].append(table)
        self.blocks[table_id] = [
            {
                "object": "block",
                "id": f"{table_id}-{n}",
                "type": "table_row",
                "has_children": False,
                "table_row": {"cells": [_rich(cell) for cell in row]},
            }
            for n, row in enumerate(rows)
        ]


def _block(block_id: str, kind: str, text: str) -> dict[str, Any]:
    return {
        "object": "block",
        "id": block_id,
        "type": kind,
        "has_children": False,
        kind: {"rich_text": _rich(text), "color": "default"},
    }


def notion_app(database: NotionDatabase, page_size_cap: int = 2) -> FastAPI:
    app = FastAPI()

    def refused(status: int, code: str, message: str) -> JSONResponse:
        body = {"object": "error", "status": status, "code": code, "message": message}
        return JSONResponse(body, status_code=status)

    def check(authorization: str | None, version: str | None) -> JSONResponse | None:
        if authorization != f"Bearer {TOKEN}":
            return refused(401, "unauthorized", "API token is invalid.")
        if not version:
            return refused(400, "missing_version", "Notion-Version header failed validation.")
        if database.rate_limit_next > 0:
            database.rate_limit_next -= 1
            return refused(429, "rate_limited", "You have been rate limited.")
        return None

    def paged(items: list[dict[str, Any]], start: str | None, size: int) -> dict[str, Any]:
        offset = int(start or 0)
        size = min(size, page_size_cap)
        more = offset + size < len(items)
        return {
            "object": "list",
            "results": items[offset : offset + size],
            "has_more": more,
            "next_cursor": str(offset + size) if more else None,
        }

    @app.post("/v1/data_sources/{data_source_id}/query")
    async def query(
        data_source_id: str,
        request: Request,
        authorization: str | None = Header(None),
        notion_version: str | None = Header(None),
    ) -> JSONResponse:
        if (error := check(authorization, notion_version)) is not None:
            return error
        if data_source_id != database.data_source_id:
            return refused(404, "object_not_found", "Could not find data_source.")
        body = await request.json()
        pages = list(database.pages.values())
        return JSONResponse(paged(pages, body.get("start_cursor"), body.get("page_size", 100)))

    @app.get("/v1/blocks/{block_id}/children")
    def children(
        block_id: str,
        start_cursor: str | None = None,
        page_size: int = 100,
        authorization: str | None = Header(None),
        notion_version: str | None = Header(None),
    ) -> JSONResponse:
        if (error := check(authorization, notion_version)) is not None:
            return error
        if block_id not in database.blocks:
            return refused(404, "object_not_found", "Could not find block.")
        return JSONResponse(paged(database.blocks[block_id], start_cursor, page_size))

    return app
