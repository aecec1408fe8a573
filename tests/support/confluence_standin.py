"""A stand-in for the Confluence REST API endpoints the ``confluence`` source uses.

Written from the Confluence Server/Data Center REST reference: ``GET /rest/api/content``
(``spaceKey``, ``type``, ``start``, ``limit``, ``expand``; a ``_links.next`` while more
remain) and ``GET /rest/api/content/{id}`` (``expand=body.storage,version``), with HTTP
Basic authentication. Confluence itself cannot be reached from the test machines.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

USER, TOKEN = "bot@example.com", "confluence-test-token"


@dataclass
class ConfluenceSpace:
    key: str = "ENG"
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    _clock: int = 0

    def put(self, page_id: str, title: str, storage: str) -> None:
        """Create or edit a page: a new version number and last-modified time."""
        self._clock += 1
        number = self.pages.get(page_id, {}).get("version", {}).get("number", 0) + 1
        self.pages[page_id] = {
            "id": page_id,
            "type": "page",
            "status": "current",
            "title": title,
            "version": {"number": number, "when": f"2026-12-01T10:{self._clock:02d}:00.000Z"},
            "body": {"storage": {"value": storage, "representation": "storage"}},
            "_links": {"webui": f"/spaces/{self.key}/pages/{page_id}"},
        }


def confluence_app(space: ConfluenceSpace) -> FastAPI:
    app = FastAPI()
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()

    def page_view(page: dict[str, Any], expand: str) -> dict[str, Any]:
        view = {k: v for k, v in page.items() if k != "body"}
        if "body.storage" in expand:
            view["body"] = page["body"]
        return view

    @app.get("/rest/api/content")
    def content(
        spaceKey: str,
        type: str = "page",
        start: int = 0,
        limit: int = 25,
        expand: str = "",
        authorization: str | None = Header(None),
    ) -> JSONResponse:
        if authorization != expected:
            return JSONResponse({"statusCode": 401, "message": "Unauthorized"}, 401)
        if spaceKey != space.key or type != "page":
            return JSONResponse({"results": [], "start": start, "limit": limit, "size": 0})
        pages = list(space.pages.values())[start : start + limit]
        body: dict[str, Any] = {
            "results": [page_view(p, expand) for p in pages],
            "start": start,
            "limit": limit,
            "size": len(pages),
            "_links": {},
        }
        if start + limit < len(space.pages):
            body["_links"]["next"] = f"/rest/api/content?spaceKey={spaceKey}&start={start + limit}"
        return JSONResponse(body)

    @app.get("/rest/api/content/{page_id}")
    def one(
        page_id: str, expand: str = "", authorization: str | None = Header(None)
    ) -> JSONResponse:
        if authorization != expected:
            return JSONResponse({"statusCode": 401, "message": "Unauthorized"}, 401)
        if page_id not in space.pages:
            return JSONResponse({"statusCode": 404, "message": "No content found"}, 404)
        return JSONResponse(page_view(space.pages[page_id], expand))

    return app
