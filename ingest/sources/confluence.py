"""``confluence`` sources: one space of a Confluence (Server/Data Center or Cloud) through
atlassian-python-api.

Every sync lists the space's pages with their version (number and last-modified time;
``rest/api/content?spaceKey=&type=page&expand=version``); pages with a new version are
read with their storage-format body and converted to Markdown headings, pages gone from
the space are deleted. ``root`` is the space key; ``env`` names the variables holding
``username`` and ``token`` (an API token or password; a personal access token alone
when ``username`` is not given).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from atlassian import Confluence

from askwiki.errors import SourceConfigError, SourceError
from askwiki.ingest.loaders.html import html_to_markdown
from askwiki.ingest.sources.base import Changes, Fetched, SourceConfig, changes_by_edit_time
from askwiki.ingest.sources.pages import markdown_document

logger = logging.getLogger(__name__)
PAGE_SIZE = 50


class ConfluenceSource:
    """Pages of the space ``root`` on the Confluence at ``address``; keys are page ids."""

    def __init__(self, config: SourceConfig) -> None:
        if not config.root:
            raise SourceConfigError(f"Source {config.name!r}: set root to the space key")
        self.config = config
        auth: dict[str, Any] = {}
        if "username" in config.env:
            auth = {"username": config.secret("username"), "password": config.secret("token")}
        elif "token" in config.env:
            auth = {"token": config.secret("token")}
        self._client = Confluence(  # type: ignore[no-untyped-call]
            url=config.address,
            cloud=bool(config.options.get("cloud", False)),
            backoff_and_retry=True,  # 429 and 503 answers are retried with backoff
            **auth,
        )
        self._base = (config.url_base or config.address).rstrip("/")

    def changes(self, cursor: str | None) -> Changes:
        listing: dict[str, str] = {}
        start = 0
        while True:
            batch = self._call(
                self._client.get_all_pages_from_space_raw,
                space=self.config.root,
                start=start,
                limit=PAGE_SIZE,
                expand="version",
            )
            results = batch.get("results", []) or []
            for page in results:
                version = page.get("version") or {}
                if self.config.wanted(str(page.get("title", ""))):
                    listing[str(page["id"])] = f"{version.get('number')}@{version.get('when')}"
            start += len(results)
            if len(results) < PAGE_SIZE or not (batch.get("_links") or {}).get("next"):
                break
        return changes_by_edit_time(listing, cursor)

    def fetch(self, keys: Iterable[str]) -> Iterator[Fetched]:
        for key in keys:
            try:
                page = self._call(self._client.get_page_by_id, key, expand="body.storage,version")
            except SourceError as exc:
                yield key, str(exc)
                continue
            body = ((page.get("body") or {}).get("storage") or {}).get("value", "")
            webui = (page.get("_links") or {}).get("webui")
            url = f"{self._base}{webui}" if webui else f"{self._base}/pages/{key}"
            title = str(page.get("title") or key)
            yield key, markdown_document(self.config, key, title, html_to_markdown(body), url)

    def close(self) -> None:
        self._client.close()

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            result = method(*args, **kwargs)
        except Exception as exc:  # requests and atlassian errors alike
            raise SourceError(
                f"Confluence {self.config.address} failed for {self.config.name!r}: {exc}"
            ) from exc
        if not isinstance(result, dict):
            raise SourceError(f"Confluence {self.config.address} answered {result!r}")
        return result
