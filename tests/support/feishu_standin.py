"""A stand-in for the few Feishu/Lark Open API endpoints the ``feishu`` source uses.

Written from the official references (open.feishu.cn/document): tenant_access_token/
internal, wiki/v2 spaces/:space_id/nodes (paged by ``page_token``, children by
``parent_node_token``) and docx/v1 documents/:id/blocks. Feishu itself cannot be
reached from the test machines. ``rate_limit_next`` makes the next calls answer with
code 99991400 (the API's frequency limit) to exercise the backoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

APP_ID, APP_SECRET, TOKEN = "cli_test_app", "test-secret", "t-standin-token"


@dataclass
class FeishuWiki:
    """Nodes (token -> node dict) and documents (obj_token -> blocks) of one space."""

    space_id: str = "7000000000000000001"
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rate_limit_next: int = 0
    calls: list[str] = field(default_factory=list)
    _clock: int = 1_700_000_000

    def put(self, token: str, title: str, sections: dict[str, str], parent: str = "") -> None:
        """Create or edit a docx node: a page block, one heading2 + text per section."""
        self._clock += 60
        obj = f"doc_{token}"
        blocks: list[dict[str, Any]] = [
            {"block_id": obj, "block_type": 1, "page": _text(title), "children": []}
        ]
        for n, (heading, body) in enumerate(sections.items()):
            blocks.append({"block_id": f"{obj}_h{n}", "block_type": 4, "heading2": _text(heading)})
            blocks.append({"block_id": f"{obj}_t{n}", "block_type": 2, "text": _text(body)})
        self.documents[obj] = blocks
        old = self.nodes.get(token, {})
        self.nodes[token] = {
            "space_id": self.space_id,
            "node_token": token,
            "obj_token": obj,
            "obj_type": "docx",
            "parent_node_token": parent,
            "node_type": "origin",
            "has_child": False,
            "title": title,
            "obj_create_time": old.get("obj_create_time", str(self._clock)),
            "obj_edit_time": str(self._clock),
        }
        if parent:
            self.nodes[parent]["has_child"] = True

    def remove(self, token: str) -> None:
        node = self.nodes.pop(token)
        self.documents.pop(node["obj_token"], None)


def _text(content: str) -> dict[str, Any]:
    return {"elements": [{"text_run": {"content": content}}], "style": {}}


def feishu_app(wiki: FeishuWiki, page_size_cap: int = 2) -> FastAPI:
    """The stand-in; node lists are cut into pages of ``page_size_cap`` to test paging."""
    app = FastAPI()

    def refused(code: int, msg: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"code": code, "msg": msg}, status_code=status)

    def check(authorization: str | None, what: str) -> JSONResponse | None:
        wiki.calls.append(what)
        if authorization != f"Bearer {TOKEN}":
            return refused(99991663, "Invalid access token for authorization", 401)
        if wiki.rate_limit_next > 0:
            wiki.rate_limit_next -= 1
            return refused(99991400, "request trigger frequency limit", 400)
        return None

    @app.post("/open-apis/auth/v3/tenant_access_token/internal")
    async def token(request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("app_id") != APP_ID or body.get("app_secret") != APP_SECRET:
            return refused(10014, "app secret invalid")
        return JSONResponse({"code": 0, "msg": "ok", "tenant_access_token": TOKEN, "expire": 7200})

    @app.get("/open-apis/wiki/v2/spaces/{space_id}/nodes")
    def nodes(
        space_id: str,
        page_size: int = 50,
        page_token: str = "",
        parent_node_token: str = "",
        authorization: str | None = Header(None),
    ) -> JSONResponse:
        if (error := check(authorization, "nodes")) is not None:
            return error
        if space_id != wiki.space_id:
            return refused(131005, "space not found", 404)
        items = [n for n in wiki.nodes.values() if n["parent_node_token"] == parent_node_token]
        start = int(page_token or 0)
        size = min(page_size, page_size_cap)
        page = items[start : start + size]
        more = start + size < len(items)
        data = {"items": page, "has_more": more, "page_token": str(start + size) if more else ""}
        return JSONResponse({"code": 0, "msg": "success", "data": data})

    @app.get("/open-apis/docx/v1/documents/{document_id}/blocks")
    def blocks(
        document_id: str,
        page_size: int = 500,
        page_token: str = "",
        authorization: str | None = Header(None),
    ) -> JSONResponse:
        if (error := check(authorization, f"blocks {document_id}")) is not None:
            return error
        if document_id not in wiki.documents:
            return refused(1770002, "not found", 404)
        data = {"items": wiki.documents[document_id], "has_more": False, "page_token": ""}
        return JSONResponse({"code": 0, "msg": "success", "data": data})

    return app
