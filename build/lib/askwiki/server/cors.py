"""CORS for the widget's host sites: an explicit allow-list, or ``*`` as a deliberate choice."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from askwiki.settings import Settings

logger = logging.getLogger(__name__)

ALLOW_HEADERS = ["Content-Type", "Accept", "X-Askwiki-Session"]


def cors_origins(settings: Settings) -> list[str]:
    """The origins to allow: ``["*"]`` when ``*`` is listed, else the valid listed origins.

    A browser sends ``Origin: scheme://host[:port]`` and CORS compares it exactly, so an
    entry with a path (``https://a.example/blog``) would never match: warn and drop it.
    """
    origins = settings.origins
    if "*" in origins:
        if len(origins) > 1:
            logger.warning("ASKWIKI_ALLOWED_ORIGINS contains '*', so its other entries are ignored")
        return ["*"]
    valid = []
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme in ("http", "https") and parts.netloc and not parts.path:
            valid.append(f"{parts.scheme}://{parts.netloc.lower()}")
        else:
            logger.warning(
                "Ignoring %r in ASKWIKI_ALLOWED_ORIGINS: an origin is scheme://host[:port], "
                "e.g. https://docs.example.com",
                origin,
            )
    return valid


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Let the listed origins call the API from a browser (the widget on their pages)."""
    origins = cors_origins(settings)
    if not origins:
        logger.info(
            "ASKWIKI_ALLOWED_ORIGINS is empty: the widget works only on pages served by askwiki"
        )
        return
    if origins == ["*"]:
        logger.warning(
            "ASKWIKI_ALLOWED_ORIGINS=*: any website may call this API from its visitors' "
            "browsers (without credentials); list your sites instead to restrict it"
        )
    else:
        logger.info("CORS allows %s", ", ".join(origins))
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        # Never with "*": the widget sends no cookies, and "*" plus credentials is unsafe.
        allow_credentials=False,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=ALLOW_HEADERS,
        expose_headers=["Retry-After"],
        max_age=600,
    )
