"""``feishu`` sources: a Feishu (飞书) or Lark wiki space through the official lark-oapi SDK.

Every sync walks the space's node tree (``wiki/v2/spaces/:space_id/nodes``) and compares
each node's ``obj_edit_time`` with the last sync; new or edited ``docx`` documents are
read as blocks (``docx/v1/documents/:id/blocks``) and converted to Markdown headings,
nodes gone from the tree are deleted. The app id and secret come from the environment
variables named in ``env`` (``app_id``, ``app_secret``). Rate-limited answers (HTTP 429
or code 99991400) are retried with exponential backoff.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import lark_oapi as lark
from lark_oapi.api.docx.v1 import ListDocumentBlockRequest
from lark_oapi.api.wiki.v2 import ListSpaceNodeRequest

from askwiki.errors import SourceError
from askwiki.ingest.sources.base import Changes, Fetched, SourceConfig, changes_by_edit_time
from askwiki.ingest.sources.feishu_blocks import blocks_to_markdown
from askwiki.ingest.sources.pages import markdown_document

logger = logging.getLogger(__name__)
DOMAINS = {"feishu": lark.FEISHU_DOMAIN, "lark": lark.LARK_DOMAIN}
PAGE_URLS = {"feishu": "https://feishu.cn/wiki", "lark": "https://larksuite.com/wiki"}
RATE_LIMITED = 99991400
RETRIES = 5
BACKOFF_S = 1.0


class FeishuSource:
    """One wiki space (``address`` = space id); keys are node tokens."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        domain = str(config.options.get("domain", "feishu"))
        self._client = (
            lark.Client.builder()
            .app_id(config.secret("app_id"))
            .app_secret(config.secret("app_secret"))
            .domain(DOMAINS.get(domain, domain))
            .log_level(lark.LogLevel.WARNING)
            .build()
        )
        self._page_url = (config.url_base or PAGE_URLS.get(domain, domain + "/wiki")).rstrip("/")
        self._nodes: dict[str, dict[str, Any]] = {}
        self.backoff_s = BACKOFF_S

    def changes(self, cursor: str | None) -> Changes:
        self._nodes = {n["node_token"]: n for n in self._walk(self.config.root or None)}
        listing = {
            token: str(node.get("obj_edit_time", ""))
            for token, node in self._nodes.items()
            if node.get("obj_type") == "docx" and self.config.wanted(str(node.get("title", "")))
        }
        return changes_by_edit_time(listing, cursor)

    def fetch(self, keys: Iterable[str]) -> Iterator[Fetched]:
        for key in keys:
            node = self._nodes.get(key)
            if node is None:
                yield key, "not in the space's node tree any more"
                continue
            try:
                blocks = list(self._blocks(str(node["obj_token"])))
            except SourceError as exc:
                yield key, str(exc)
                continue
            title, body = blocks_to_markdown(blocks)
            yield key, markdown_document(
                self.config, key, title or str(node.get("title") or key), body,
                f"{self._page_url}/{key}",
            )  # fmt: skip

    def close(self) -> None:
        self._nodes = {}

    def _walk(self, parent: str | None) -> Iterator[dict[str, Any]]:
        page_token = ""
        while True:
            builder = ListSpaceNodeRequest.builder().space_id(self.config.address).page_size(50)
            if parent:
                builder = builder.parent_node_token(parent)
            if page_token:
                builder = builder.page_token(page_token)
            data = self._call(self._client.wiki.v2.space_node.list, builder.build())
            for node in data.get("items", []) or []:
                yield node
                if node.get("has_child"):
                    yield from self._walk(node["node_token"])
            page_token = data.get("page_token") or ""
            if not data.get("has_more") or not page_token:
                return

    def _blocks(self, document_id: str) -> Iterator[dict[str, Any]]:
        page_token = ""
        while True:
            builder = ListDocumentBlockRequest.builder().document_id(document_id).page_size(500)
            if page_token:
                builder = builder.page_token(page_token)
            data = self._call(self._client.docx.v1.document_block.list, builder.build())
            yield from data.get("items", []) or []
            page_token = data.get("page_token") or ""
            if not data.get("has_more") or not page_token:
                return

    def _call(self, method: Any, request: Any) -> dict[str, Any]:
        """One SDK call; rate limits are retried with backoff, other errors raise."""
        for attempt in range(RETRIES):
            try:
                response = method(request)
            except Exception as exc:  # the SDK raises its own types (e.g. a refused token)
                raise SourceError(
                    f"Feishu/Lark API call {request.uri} failed for {self.config.name!r}: {exc}; "
                    "check the app id and secret variables and the domain"
                ) from exc
            status = response.raw.status_code if response.raw is not None else 0
            if (response.code == RATE_LIMITED or status == 429) and attempt + 1 < RETRIES:
                delay = self.backoff_s * 2**attempt
                logger.info("%s: rate limited, retrying in %.1f s", self.config.name, delay)
                time.sleep(delay)
                continue
            if not response.success():
                raise SourceError(
                    f"Feishu/Lark API refused {request.uri} for {self.config.name!r}: "
                    f"code {response.code}: {response.msg}"
                )
            body = json.loads(response.raw.content)
            data: dict[str, Any] = body.get("data") or {}
            return data
        raise SourceError(f"Feishu/Lark API kept rate-limiting {request.uri}")
