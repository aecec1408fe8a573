"""``GET /widget.js``: the embeddable chat widget, and ``GET /widget/demo`` to try it."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse, Response

from askwiki.server.i18n import widget_strings

logger = logging.getLogger(__name__)
router = APIRouter(tags=["widget"])

STATIC = Path(__file__).resolve().parent.parent / "static"
WIDGET = STATIC / "widget.js"
DEMO = STATIC / "widget-demo.html"
CACHE_CONTROL = "public, max-age=3600"
WIDGET_TEXT_SLOT = b"/*ASKWIKI_WIDGET_TEXT*/null"


@dataclass(frozen=True)
class Asset:
    """A file's bytes, its gzip encoding and a strong ETag for each."""

    body: bytes
    gzipped: bytes
    etag: str
    gzip_etag: str


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> Asset:
    body = path.read_bytes()
    if path == WIDGET:
        text = json.dumps(widget_strings(), ensure_ascii=False).encode("utf-8")
        body = body.replace(WIDGET_TEXT_SLOT, text)
    digest = hashlib.sha256(body).hexdigest()[:20]
    # mtime=0 keeps the gzip bytes (and so their ETag) identical across restarts.
    gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    logger.info("Loaded %s (%d bytes, %d gzipped)", path.name, len(body), len(gzipped))
    return Asset(body, gzipped, f'"{digest}"', f'"{digest}-gz"')


def load_asset(path: Path) -> Asset:
    """The file as served; re-read when it changes on disk."""
    return _load(path, path.stat().st_mtime_ns)


def etag_matches(if_none_match: str | None, etags: tuple[str, ...]) -> bool:
    """Whether ``If-None-Match`` names one of ``etags`` (weak comparison, as RFC 9110 says)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    listed = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return any(tag in listed for tag in etags)


# HEAD stays out of the schema: one documented operation, and no duplicate operation id.
@router.head("/widget.js", include_in_schema=False)
@router.get(
    "/widget.js",
    response_class=Response,
    responses={200: {"content": {"application/javascript": {}}}, 304: {"description": "Unchanged"}},
)
def widget_js(
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """The widget script for `<script src=".../widget.js" async></script>`; cached for an hour."""
    asset = load_asset(WIDGET)
    use_gzip = "gzip" in (accept_encoding or "").lower()
    etag = asset.gzip_etag if use_gzip else asset.etag
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if etag_matches(if_none_match, (asset.etag, asset.gzip_etag)):
        return Response(status_code=304, headers=headers)
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(
        asset.gzipped if use_gzip else asset.body,
        media_type="application/javascript; charset=utf-8",
        headers=headers,
    )


@router.get("/widget/demo", response_class=HTMLResponse, include_in_schema=False)
def widget_demo() -> HTMLResponse:
    """A page embedding the widget, to try it (and its options) by hand."""
    return HTMLResponse(load_asset(DEMO).body, headers={"Cache-Control": "no-cache"})
