"""``mediawiki`` sources: pages of chosen namespaces through the MediaWiki Action API.

The first sync lists every page (``list=allpages``, redirects left out); later ones read
``list=recentchanges`` since the cursor (the newest change already applied): edits, new
pages, deletions, restores and moves. Every title a change touches is looked up again,
so whatever happened in between, the index ends up as the wiki is now: a page that is
missing or a redirect (a move leaves one behind) is deleted, any other is fetched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from askwiki.errors import SourceError
from askwiki.ingest.sources.base import Changes, Fetched, SourceConfig
from askwiki.ingest.sources.pages import markdown_document
from askwiki.ingest.sources.wikitext import wikitext_to_markdown

logger = logging.getLogger(__name__)
BATCH = 50  # titles per query: the API's limit for ordinary clients
TIMEOUT_S = 30.0
RETRIES = 3
USER_AGENT = "askwiki-sync/1 (https://github.com/askwiki)"


class MediaWikiSource:
    """A MediaWiki at ``address`` (its ``api.php``); the cursor is a change timestamp."""

    def __init__(self, config: SourceConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._client = httpx.Client(
            timeout=TIMEOUT_S, headers={"User-Agent": USER_AGENT}, transport=transport
        )
        namespaces = config.options.get("namespaces", [0])
        self._namespaces = [int(n) for n in namespaces]
        self._article_url: str | None = None

    def changes(self, cursor: str | None) -> Changes:
        newest = self._newest_change()
        if cursor is not None and cursor < (self._oldest_change() or cursor):
            # Older changes were purged ($wgRCMaxAge): the gap can only be closed by a full sync.
            logger.warning(
                "%s: changes since %s are no longer kept; full sync", self.config.name, cursor
            )
            cursor = None
        if cursor is None:
            titles = [t for ns in self._namespaces for t in self._all_pages(ns)]
            return Changes.everything(newest, titles)
        touched: list[str] = []
        for change in self._changes_since(cursor):
            touched.append(change["title"])
            target = (change.get("logparams") or {}).get("target_title")
            if change.get("type") == "log" and target:
                touched.append(target)
            newest = max(newest or "", change["timestamp"])
        present, gone = self._resolve(list(dict.fromkeys(touched)))
        return Changes(cursor=newest or cursor, fetch=present, deleted=gone)

    def fetch(self, keys: Iterable[str]) -> Iterator[Fetched]:
        titles = list(keys)
        for start in range(0, len(titles), BATCH):
            batch = titles[start : start + BATCH]
            try:
                pages = self._pages(batch, prop="revisions", rvprop="content", rvslots="main")
            except SourceError as exc:
                for title in batch:
                    yield title, str(exc)
                continue
            for title in batch:
                page = pages.get(title)
                revisions = (page or {}).get("revisions") or []
                if not revisions:
                    yield title, "missing: the page has no revision (deleted while syncing?)"
                    continue
                wikitext = revisions[0].get("slots", {}).get("main", {}).get("content", "")
                yield (
                    title,
                    markdown_document(
                        self.config, title, title, wikitext_to_markdown(wikitext), self._url(title)
                    ),
                )

    def close(self) -> None:
        self._client.close()

    def _url(self, title: str) -> str:
        if self._article_url is None:
            if self.config.url_base:
                self._article_url = self.config.url_base.rstrip("/") + "/$1"
            else:
                general = self._get(action="query", meta="siteinfo")["query"]["general"]
                server = general["server"]
                self._article_url = (server if "//" in server else "http:" + server) + general[
                    "articlepath"
                ]
        return self._article_url.replace("$1", quote(title.replace(" ", "_"), safe="/:"))

    def _newest_change(self) -> str | None:
        found = self._get(
            action="query", list="recentchanges", rclimit=1, rcprop="timestamp", rcdir="older"
        )["query"]["recentchanges"]
        return found[0]["timestamp"] if found else None

    def _oldest_change(self) -> str | None:
        found = self._get(
            action="query", list="recentchanges", rclimit=1, rcprop="timestamp", rcdir="newer"
        )["query"]["recentchanges"]
        return found[0]["timestamp"] if found else None

    def _all_pages(self, namespace: int) -> Iterator[str]:
        for batch in self._continued(
            "allpages",
            list="allpages",
            apnamespace=namespace,
            aplimit="max",
            apfilterredir="nonredirects",
        ):
            for page in batch:
                if self.config.wanted(page["title"]):
                    yield page["title"]

    def _changes_since(self, cursor: str) -> Iterator[dict[str, Any]]:
        # rcstart is inclusive: changes at the cursor's second are seen again, never lost.
        yield from (
            change
            for batch in self._continued(
                "recentchanges",
                list="recentchanges",
                rcstart=cursor,
                rcdir="newer",
                rclimit="max",
                rcnamespace="|".join(str(n) for n in self._namespaces),
                rcprop="title|timestamp|ids|loginfo",
                rctype="edit|new|log",
            )
            for change in batch
        )

    def _resolve(self, titles: list[str]) -> tuple[list[str], list[str]]:
        """Titles split into pages to fetch and pages gone (missing, redirect, unwanted)."""
        present: list[str] = []
        gone: list[str] = []
        for start in range(0, len(titles), BATCH):
            batch = titles[start : start + BATCH]
            pages = self._pages(batch, prop="info")
            for title in batch:
                page = pages.get(title) or {"missing": True}
                alive = not page.get("missing") and not page.get("redirect")
                wanted = page.get("ns") in self._namespaces and self.config.wanted(title)
                (present if alive and wanted else gone).append(title)
        return present, gone

    def _pages(self, titles: list[str], **params: Any) -> dict[str, dict[str, Any]]:
        """Pages by the title asked for (following the API's normalization of titles)."""
        data = self._get(action="query", titles="|".join(titles), **params)["query"]
        renamed = {n["to"]: n["from"] for n in data.get("normalized", [])}
        return {renamed.get(p["title"], p["title"]): p for p in data.get("pages", [])}

    def _continued(self, key: str, **params: Any) -> Iterator[list[dict[str, Any]]]:
        extra: dict[str, Any] = {}
        while True:
            data = self._get(action="query", **params, **extra)
            yield data.get("query", {}).get(key, [])
            if "continue" not in data:
                return
            extra = data["continue"]

    def _get(self, **params: Any) -> dict[str, Any]:
        params.update(format="json", formatversion=2)
        for attempt in range(RETRIES):
            try:
                response = self._client.get(self.config.address, params=params)
                if response.status_code in (429, 503) and attempt + 1 < RETRIES:
                    time.sleep(float(response.headers.get("Retry-After", 2**attempt)))
                    continue
                response.raise_for_status()
                data: dict[str, Any] = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                if attempt + 1 < RETRIES:
                    time.sleep(2**attempt)
                    continue
                raise SourceError(f"MediaWiki API {self.config.address} failed: {exc}") from exc
            if "error" in data:
                error = data["error"]
                raise SourceError(
                    f"MediaWiki API {self.config.address} refused {params.get('list') or params.get('prop')}: "
                    f"{error.get('code')}: {error.get('info')}"
                )
            return data
        raise SourceError(f"MediaWiki API {self.config.address} kept failing")
