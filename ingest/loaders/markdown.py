"""Markdown pages (plain, Obsidian, Notion and Feishu/Lark exports) -> ``Document``.

The result keeps ``#`` headings for the splitter and turns links into their visible text,
images into their alt text when it describes them (``alt_text.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import yaml

from askwiki.documents import SECTION_SEPARATOR, Document, DocumentPart
from askwiki.errors import DocumentError
from askwiki.ingest.loaders.alt_text import descriptive_alt
from askwiki.ingest.loaders.files import escape_heading_lines, read_text
from askwiki.ingest.loaders.source import (
    LoaderOptions,
    SourceFile,
    declared_id,
    document_url,
    metadata_from,
    scalar_text,
    title_from_filename,
)

logger = logging.getLogger(__name__)

_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\n(?P<yaml>.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE
)
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_IMAGE = re.compile(
    r"!\[(?P<alt>[^\]]*)\](?:\([^)]*\)|\[[^\]]*\])"
    r"|!\[\[(?P<embed>[^\]]*)\]\]"
    r"|<img\b(?P<attributes>[^>]*)>",
    re.IGNORECASE,
)
_ALT_ATTRIBUTE = re.compile(
    r"""\balt\s*=\s*(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>[^\s"'>]+))""",
    re.IGNORECASE,
)
_WIKILINK = re.compile(
    r"\[\[(?P<page>[^\[\]|#]*)(?:#(?P<section>[^\[\]|]*))?(?:\|(?P<alias>[^\[\]]*))?\]\]"
)
_TARGET = r"(?:<[^>]*>|(?:[^()\s]|\([^()\s]*\))*)(?:\s+(?:\"[^\"]*\"|'[^']*'))?"
_LINK = re.compile(rf"\[(?P<text>[^\[\]]*)\]\(\s*{_TARGET}\s*\)")
_REF_LINK = re.compile(r"\[(?P<text>[^\[\]]+)\]\[[^\[\]]*\]")
_REF_DEFINITION = re.compile(r"^[ ]{0,3}\[[^\]^][^\]]*\]:[ \t]+\S.*$\n?", re.MULTILINE)
_H1 = re.compile(r"^#[ \t]+(?P<text>.+?)(?:[ \t]+\{#[^}\s]+\})?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^[ ]{0,3}(=+|-+)[ \t]*$")
_NOT_SETEXT_TEXT = re.compile(r"^\s*(?:[-*+>|#]|\d+[.)]\s|$)")


def load_markdown(source: SourceFile, options: LoaderOptions) -> Document:
    """One Markdown file as a document; raises ``DocumentError`` with the skip reason."""
    raw = read_text(source.path, options.max_file_bytes)
    front, body = split_front_matter(raw, str(source.path))
    body = clean_markdown(body)
    title = scalar_text(front.get("title")) or first_h1(body) or title_from_filename(source.path)
    body = drop_title_heading(body, title)
    if not body.strip():
        raise DocumentError("empty: no text besides front matter and title")
    doc_id = declared_id(front.get("id")) or source.relative_id
    return Document(
        doc_id=doc_id,
        title=title,
        parts=(DocumentPart(body),),
        source=str(source.path),
        format="markdown",
        url=document_url(doc_id, front.get("url"), options.url_base),
        metadata=metadata_from(front),
    )


class _AliasError(yaml.YAMLError):
    """A YAML alias in front matter: refused, the file is skipped with this reason."""


class _FrontMatterLoader(yaml.SafeLoader):
    """``SafeLoader`` without aliases: ``*ref`` lets a few hundred bytes expand into
    billions of list items when the metadata is turned into text (a YAML bomb), and
    front matter never needs them."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _AliasError(
                f"front matter uses a YAML alias (*{event.anchor}) near line "
                f"{event.start_mark.line + 1}; aliases are refused (YAML bomb?), write the "
                "values out"
            )
        return super().compose_node(parent, index)


def split_front_matter(text: str, source: str) -> tuple[dict[str, object], str]:
    """YAML front matter (between ``---`` lines at the very start) and the rest.

    A block that is not valid YAML is left in the text as if there were no front
    matter, with a warning: a typo in the metadata must not drop the page.
    """
    text = text.removeprefix("\ufeff")
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    try:
        values = yaml.load(match.group("yaml"), Loader=_FrontMatterLoader)  # a SafeLoader
    except _AliasError as exc:
        raise DocumentError(str(exc)) from exc
    except yaml.YAMLError as exc:
        logger.warning("%s: front matter is not valid YAML, indexing it as text (%s)", source, exc)
        return {}, text
    if values is None:
        return {}, text[match.end() :]
    if not isinstance(values, dict):
        # `---` lines around plain text are thematic breaks, not metadata.
        logger.debug("%s: leading --- block is not a YAML mapping; kept as text", source)
        return {}, text
    return {str(key): value for key, value in values.items()}, text[match.end() :]


def clean_markdown(text: str) -> str:
    """Text for indexing: comments and link targets gone, images as their descriptive alt
    text (or gone), headings as ``#`` lines.

    Code blocks are kept verbatim except that their ``#`` lines are indented, so a shell
    comment never becomes a section heading.
    """
    pieces: list[str] = []
    for is_code, block in _blocks(text):
        pieces.append(escape_heading_lines(block) if is_code else _clean_prose(block))
    cleaned = "".join(pieces)
    cleaned = re.sub(r"[ \t]+$", "", cleaned, flags=re.MULTILINE)
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip("\n")


def _blocks(text: str) -> Iterator[tuple[bool, str]]:
    """Alternating prose and fenced-code runs (fence lines belong to the code run)."""
    current: list[str] = []
    fence: str | None = None
    for line in re.findall(r"[^\n]*\n|[^\n]+$", text):
        match = _FENCE.match(line)
        if fence is None and match:
            if current:
                yield False, "".join(current)
            current, fence = [line], match.group(1)
        elif fence is not None and match and match.group(1)[0] == fence[0]:
            if len(match.group(1)) >= len(fence) and not line.strip()[len(match.group(1)) :]:
                current.append(line)
                yield True, "".join(current)
                current, fence = [], None
            else:
                current.append(line)
        else:
            current.append(line)
    if current:
        yield fence is not None, "".join(current)


def _clean_prose(text: str) -> str:
    text = _COMMENT.sub("", text)
    text = _IMAGE.sub(_image_text, text)
    text = _WIKILINK.sub(_wikilink_text, text)
    text = _REF_DEFINITION.sub("", text)
    # Applied twice so that a link whose text is itself a link label ends as plain text.
    for _ in range(2):
        text = _LINK.sub(lambda m: m.group("text"), text)
        text = _REF_LINK.sub(lambda m: m.group("text"), text)
    return _setext_to_atx(text)


def _image_text(match: re.Match[str]) -> str:
    """An image's alt text when it describes the image, else nothing."""
    if match.group("embed") is not None:
        # Obsidian's ![[file.png|alias]]: the alias is alt text or a size ("100x145"), and
        # the file name alone describes nothing.
        alts = match.group("embed").split("|")[1:]
    elif match.group("attributes") is not None:
        found = _ALT_ATTRIBUTE.search(match.group("attributes"))
        alts = [found["double"] or found["single"] or found["bare"] or ""] if found else []
    else:
        alts = [match.group("alt")]
    text = " ".join(alt for alt in map(descriptive_alt, alts) if alt)
    # An image alone on its line whose alt starts with "#" ("# of users") is no heading.
    return escape_heading_lines(text)


def _wikilink_text(match: re.Match[str]) -> str:
    """``[[Page]]`` -> Page, ``[[Page#Sec|alias]]`` -> alias, ``[[Page#Sec]]`` -> Page › Sec."""
    # Inside tables Obsidian escapes the pipe: [[Page\|alias]].
    page = match.group("page").strip().removesuffix("\\").strip()
    section = (match.group("section") or "").strip()
    alias = (match.group("alias") or "").strip()
    if alias:
        return alias
    names = [page] if page else []
    if section and not section.startswith("^"):  # ^block-id references have no readable name
        names.extend(s.strip() for s in section.split("#") if s.strip())
    return SECTION_SEPARATOR.join(names)


def _setext_to_atx(text: str) -> str:
    """``Title`` over ``=====`` (or ``-----``) becomes ``# Title`` (``## Title``)."""
    lines = text.split("\n")
    for index in range(1, len(lines)):
        underline = _SETEXT.match(lines[index])
        previous = lines[index - 1]
        if underline is None or _NOT_SETEXT_TEXT.match(previous):
            continue
        if index >= 2 and lines[index - 2].strip():
            continue  # a paragraph's last line; only one-line headings are converted
        level = "#" if underline.group(1)[0] == "=" else "##"
        lines[index - 1] = f"{level} {previous.strip()}"
        lines[index] = ""
    return "\n".join(lines)


def first_h1(text: str) -> str | None:
    """Text of the first ``# `` heading outside code blocks."""
    found = _first_h1_line(text)
    return found[1] if found else None


def drop_title_heading(text: str, title: str) -> str:
    """Remove the first H1 when it repeats the title (the splitter prefixes the title)."""
    found = _first_h1_line(text)
    if found is None or found[1] != title.strip():
        return text
    lines = text.split("\n")
    del lines[found[0]]
    return "\n".join(lines).strip("\n")


def _first_h1_line(text: str) -> tuple[int, str] | None:
    number = 0
    for is_code, block in _blocks(text):
        if not is_code:
            for offset, line in enumerate(block.split("\n")):
                match = _H1.match(line)
                if match:
                    return number + offset, match.group("text").strip()
        number += block.count("\n")
    return None
