"""HTML pages -> ``Document``: main content only, h1-h6 as ``#`` lines with their ids."""

from __future__ import annotations

import logging
import re

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

from askwiki.documents import Document, DocumentPart
from askwiki.errors import DocumentError
from askwiki.ingest.loaders.alt_text import descriptive_alt
from askwiki.ingest.loaders.files import escape_heading_lines, read_text
from askwiki.ingest.loaders.markdown import drop_title_heading
from askwiki.ingest.loaders.source import (
    LoaderOptions,
    SourceFile,
    document_url,
    title_from_filename,
)

logger = logging.getLogger(__name__)

BOILERPLATE_TAGS = (
    "script style noscript nav header footer aside form template "
    "button select svg canvas iframe".split()
)
HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}
BLOCK_TAGS = frozenset(
    "address article blockquote body caption center dd details dialog div dl dt fieldset "
    "figcaption figure hgroup hr html li main ol p section summary table tbody tfoot "
    "thead tr ul".split()
)
_EXPLICIT_ANCHOR = re.compile(r"^[^}\s]+$")
# "Reranking - AI Notes Wiki": the page's own name is the h1, the rest is the site name.
_TITLE_SEPARATORS = (" - ", " – ", " — ", " | ", " · ", " :: ")


def load_html(source: SourceFile, options: LoaderOptions) -> Document:
    """One HTML file as a document; raises ``DocumentError`` with the skip reason."""
    raw = read_text(source.path, options.max_file_bytes, html=True)
    soup = BeautifulSoup(raw, "html.parser")
    url = _declared_url(soup)
    page_title = _collapse(soup.title.get_text()) if soup.title else ""
    for element in soup.find_all(BOILERPLATE_TAGS):
        element.decompose()
    for element in soup.find_all(_is_hidden_or_navigation):
        element.decompose()
    container = _content_root(soup)
    h1 = container.find("h1")
    h1_text = _collapse(h1.get_text(" ")) if h1 else ""
    title = _choose_title(page_title, h1_text) or title_from_filename(source.path)
    body = drop_title_heading(_Renderer().render(container), title)
    if not body.strip():
        raise DocumentError("empty: no text in the page body")
    doc_id = source.relative_id
    return Document(
        doc_id=doc_id,
        title=title,
        parts=(DocumentPart(body),),
        source=str(source.path),
        format="html",
        url=document_url(doc_id, url, options.url_base),
    )


def _is_hidden_or_navigation(tag: Tag) -> bool:
    return tag.get("role") == "navigation" or tag.has_attr("hidden")


def _content_root(soup: BeautifulSoup) -> Tag:
    main = soup.find("main")
    if isinstance(main, Tag):
        return main
    articles = soup.find_all("article")
    if len(articles) == 1:
        return articles[0]
    body = soup.find("body")
    return body if isinstance(body, Tag) else soup


def _declared_url(soup: BeautifulSoup) -> str | None:
    meta = soup.find("meta", attrs={"property": "og:url"})
    if isinstance(meta, Tag) and str(meta.get("content") or "").strip():
        return str(meta.get("content")).strip()
    for link in soup.find_all("link", href=True):
        rel: object = link.get("rel") or []
        rels = [str(r) for r in rel] if isinstance(rel, list) else str(rel).split()
        if "canonical" in (r.lower() for r in rels):
            return str(link["href"]).strip() or None
    return None


def _choose_title(page_title: str, h1_text: str) -> str:
    if page_title and h1_text and page_title != h1_text:
        for separator in _TITLE_SEPARATORS:
            if page_title.startswith(h1_text + separator):
                return h1_text
    return page_title or h1_text


def _collapse(text: str) -> str:
    return " ".join(text.split())


class _Renderer:
    """Walks the content tree and writes paragraphs, list items, table rows and headings."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, str]] = []  # (kind, text)
        self.lines: list[list[str]] = [[]]
        self.prefix = ""
        self.list_depth = 0

    def render(self, root: Tag) -> str:
        self._walk(root)
        self._flush()
        out: list[str] = []
        previous = ""
        for kind, text in self.blocks:
            if out:
                # List items and table rows of one list/table stay on consecutive lines.
                out.append("\n" if kind == previous and kind in ("item", "row") else "\n\n")
            out.append(text)
            previous = kind
        return "".join(out).strip()

    def _walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA
                continue
            if isinstance(child, NavigableString):
                self.lines[-1].append(str(child))
            elif isinstance(child, Tag):
                self._element(child)

    def _element(self, tag: Tag) -> None:
        name = tag.name.lower()
        if name in HEADING_LEVELS:
            self._heading(tag, HEADING_LEVELS[name])
        elif name == "br":
            self.lines.append([])
        elif name == "img":
            # As in Markdown (``alt_text``): a description is content, a placeholder noise.
            alt = descriptive_alt(str(tag.get("alt") or ""))
            if alt:
                self.lines[-1].append(f" {alt} ")
        elif name == "pre":
            self._flush()
            text = tag.get_text().strip("\n")
            if text.strip():
                self.blocks.append(("pre", escape_heading_lines(text.rstrip())))
        elif name == "tr":
            self._flush()
            cells = [
                _collapse(c.get_text(" ")) for c in tag.find_all(["td", "th"], recursive=False)
            ]
            if any(cells):
                self.blocks.append(("row", "| " + " | ".join(cells) + " |"))
        elif name == "li":
            self._flush()
            self.prefix = "  " * max(self.list_depth - 1, 0) + "- "
            self._walk(tag)
            self._flush()
            self.prefix = ""
        elif name in ("ul", "ol"):
            self._flush()
            self.list_depth += 1
            self._walk(tag)
            self.list_depth -= 1
        elif name in BLOCK_TAGS:
            self._flush()
            self._walk(tag)
            self._flush()
        else:
            self._walk(tag)

    def _heading(self, tag: Tag, level: int) -> None:
        self._flush()
        text = _collapse(tag.get_text(" "))
        if not text:
            return
        anchor = tag.get("id") or _first_descendant_id(tag)
        suffix = (
            f" {{#{anchor}}}" if isinstance(anchor, str) and _EXPLICIT_ANCHOR.match(anchor) else ""
        )
        self.blocks.append(("heading", f"{'#' * level} {text}{suffix}"))

    def _flush(self) -> None:
        lines = [_collapse("".join(pieces)) for pieces in self.lines]
        text = "\n".join(line for line in lines if line)
        if text:
            kind = "text"
            if self.prefix:  # the first text of a list item carries its bullet
                text, kind, self.prefix = self.prefix + text, "item", ""
            self.blocks.append((kind, escape_heading_lines(text)))
        self.lines = [[]]


def _first_descendant_id(tag: Tag) -> str | None:
    """MediaWiki and others put the anchor on an inner span: ``<h2><span id=...>``."""
    inner = tag.find(id=True)
    if isinstance(inner, Tag):
        value = inner.get("id")
        return value if isinstance(value, str) else None
    return None


def html_to_markdown(markup: str) -> str:
    """An HTML fragment (a Confluence page body, say) as text with ``#`` headings."""
    soup = BeautifulSoup(markup, "html.parser")
    for element in soup.find_all(BOILERPLATE_TAGS):
        element.decompose()
    return _Renderer().render(soup)
