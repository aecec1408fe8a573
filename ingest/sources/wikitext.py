"""MediaWiki wikitext -> the Markdown headings the splitter uses.

Sections keep MediaWiki's own anchors (``== Getting started ==`` -> ``#Getting_started``,
repeats ``_2``, ``_3``) so citations link to the right section. Templates are dropped
(their output is not in the wikitext), tables become one line per row with cells joined
by `` | ``, links keep their visible text, files and categories disappear.
"""

from __future__ import annotations

import html
import re

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_REF = re.compile(r"<ref\b[^>/]*/>|<ref\b[^>]*>.*?</ref>", re.DOTALL | re.IGNORECASE)
_DROPPED_BLOCKS = re.compile(
    r"<(gallery|references|math|timeline|score)\b[^>]*>.*?</\1>", re.DOTALL | re.IGNORECASE
)
_MAGIC = re.compile(r"__[A-Z]+__")
_HEADING = re.compile(r"^(={1,6})\s*(.+?)\s*\1\s*$")
_FILE_LINK = re.compile(r"\[\[\s*(?:File|Image|Category|Media)\s*:[^\[\]]*\]\]", re.IGNORECASE)
_INTERNAL = re.compile(r"\[\[([^\[\]|]*)(?:\|([^\[\]]*))?\]\]")
_EXTERNAL = re.compile(r"\[(?:https?:)?//[^\s\]]+(?:\s+([^\]]*))?\]")
_EMPHASIS = re.compile(r"'{2,5}")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_LIST = re.compile(r"^([*#:;]+)\s*")


def wikitext_to_markdown(text: str) -> str:
    """Markdown with ``#`` headings (and ``{#anchor}``) for the splitter."""
    text = _COMMENT.sub("", text)
    text = _REF.sub("", text)
    text = _DROPPED_BLOCKS.sub("", text)
    text = _drop_templates(text)
    text = _MAGIC.sub("", text)
    lines: list[str] = []
    anchors: dict[str, int] = {}
    table: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if table is not None:
            if stripped.startswith("|}"):
                lines.extend(_table_rows(table))
                table = None
            else:
                table.append(stripped)
            continue
        if stripped.startswith("{|"):
            table = []
            continue
        heading = _HEADING.match(stripped)
        if heading:
            title = _inline(heading.group(2)).strip()
            lines += [
                "",
                f"{'#' * len(heading.group(1))} {title} {{#{_anchor(title, anchors)}}}",
                "",
            ]
            continue
        lines.append(_list_item(_inline(line)))
    if table is not None:
        lines.extend(_table_rows(table))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _drop_templates(text: str) -> str:
    """Remove ``{{...}}`` (nested) and ``{{{params}}}``, leaving everything else."""
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        if text.startswith("{{", i):
            depth += 1
            i += 2
        elif depth and text.startswith("}}", i):
            depth -= 1
            i += 2
        else:
            if depth == 0:
                out.append(text[i])
            i += 1
    return "".join(out)


def _inline(text: str) -> str:
    text = _FILE_LINK.sub("", text)
    text = _INTERNAL.sub(lambda m: (m.group(2) or m.group(1).lstrip(":")).strip(), text)
    text = _EXTERNAL.sub(lambda m: m.group(1) or "", text)
    text = _EMPHASIS.sub("", text)
    text = _BREAK.sub(" ", text)
    text = _TAG.sub("", text)
    return html.unescape(text)


def _list_item(line: str) -> str:
    match = _LIST.match(line)
    if not match:
        return line
    marks = match.group(1)
    rest = line[match.end() :]
    if marks[-1] in ";:":
        return rest
    indent = "  " * (len(marks) - 1)
    return f"{indent}{'1.' if marks[-1] == '#' else '-'} {rest}"


def _anchor(title: str, seen: dict[str, int]) -> str:
    """MediaWiki's section id: spaces as underscores; a repeated heading gets ``_2``..."""
    base = re.sub(r"\s+", "_", title.strip()).replace("}", "")
    count = seen.get(base, 0) + 1
    seen[base] = count
    return base if count == 1 else f"{base}_{count}"


def _table_rows(lines: list[str]) -> list[str]:
    """One line per table row, cells joined by `` | ``; captions become their own line."""
    rows: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.startswith("|-"):
            if current:
                rows.append(current)
            current = []
        elif line.startswith("|+"):
            rows.append([_inline(line[2:]).strip()])
        elif line.startswith(("|", "!")):
            for cell in line[1:].replace("!!", "||").split("||"):
                # ``style="..." | content``: the attributes end at the last single bar.
                content = cell.rsplit("|", 1)[-1] if "|" in cell else cell
                current.append(_inline(content).strip())
        elif current:
            current[-1] = f"{current[-1]} {_inline(line).strip()}".strip()
    if current:
        rows.append(current)
    return ["", *(" | ".join(c for c in row if c) for row in rows if any(row)), ""]
