"""Safe HTML from untrusted text: LLM answers and wiki excerpts never bring their own markup.

Answers are Markdown rendered by markdown-it with raw HTML off (``<script>`` shows as
text), images off, and links kept only for http, https, mailto and relative targets
(``javascript:`` and ``data:`` links stay literal text). Each citation marker ``[n]`` of
a known source becomes a link to its reference entry ``#ref-n``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markupsafe import Markup

from askwiki.answering.citations import MARKER

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
# Browsers ignore tabs, newlines and other controls inside a scheme ("java\tscript:").
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]")
_NUMBER = re.compile(r"\d+")


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s), mailto or relative; None for anything else."""
    if not url or not url.strip():
        return None
    cleaned = url.strip()
    scheme = _SCHEME.match(_IGNORED_IN_SCHEME.sub("", cleaned))
    if scheme and scheme.group(1).lower() not in SAFE_SCHEMES:
        return None
    return cleaned


def _validate_link(url: str) -> bool:
    return safe_url(url) is not None


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"]).disable("image")
    md.validateLink = _validate_link  # type: ignore[method-assign]
    default_link_open = cast(RendererHTML, md.renderer).rules.get("link_open")

    def link_open(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        href = str(token.attrGet("href") or "")
        if href and not href.startswith("#"):
            token.attrSet("rel", "nofollow noopener noreferrer")
        if default_link_open is not None:
            return str(default_link_open(tokens, idx, options, env))
        return str(renderer.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


def render_answer(text: str, source_numbers: Collection[int]) -> Markup:
    """The answer Markdown as safe HTML, ``[n]`` markers linked to ``#ref-n``."""
    md = _markdown()
    tokens = md.parse(text)
    for token in tokens:
        if token.type == "inline" and token.children:
            token.children = _link_citations(token.children, set(source_numbers))
    # markdown-it escapes all text and, with html off, passes no markup through.
    return Markup(md.renderer.render(tokens, md.options, {}))


def _link_citations(children: list[Token], numbers: set[int]) -> list[Token]:
    out: list[Token] = []
    depth = 0  # no links inside links
    for child in children:
        depth += child.type == "link_open"
        depth -= child.type == "link_close"
        if child.type != "text" or depth or not MARKER.search(child.content):
            out.append(child)
            continue
        position = 0
        for match in MARKER.finditer(child.content):
            cited = [int(n) for n in _NUMBER.findall(match.group(1)) if int(n) in numbers]
            if not cited:
                continue
            out.append(_text(child.content[position : match.start()]))
            for n in cited:
                link = Token("link_open", "a", 1, attrs={"href": f"#ref-{n}", "class": "cite"})
                out += [link, _text(f"[{n}]"), Token("link_close", "a", -1)]
            position = match.end()
        out.append(_text(child.content[position:]))
    return [t for t in out if t.type != "text" or t.content]


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def section_tail(section: str, title: str) -> str:
    """The heading path without the page title it starts with (shown next to the title)."""
    for separator in (" › ", " > "):
        if section.startswith(title + separator):
            return section[len(title) + len(separator) :]
    return "" if section == title else section


def short_date(iso: str | None) -> str:
    """``2025-06-01`` from an ISO timestamp (the input itself if it does not parse)."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).date().isoformat()
    except ValueError:
        return iso[:10]
