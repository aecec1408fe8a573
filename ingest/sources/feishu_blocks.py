"""Feishu/Lark docx blocks (the ``docx/v1/documents/:id/blocks`` list) -> Markdown.

Block types from the docx API reference: 1 page, 2 text, 3-11 heading1-9, 12 bullet,
13 ordered, 14 code, 15 quote, 17 todo, 19 callout, 22 divider, 31 table, 32 table cell.
Tables become one line per row with cells joined by `` | ``; blocks inside a table cell
or a callout are rendered with it; images, files and embeds are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PAGE, TEXT, BULLET, ORDERED, CODE, QUOTE, TODO, TABLE, TABLE_CELL = 1, 2, 12, 13, 14, 15, 17, 31, 32
HEADINGS = {3 + n: n + 1 for n in range(9)}  # block_type -> heading level
_FIELDS = {
    PAGE: "page",
    TEXT: "text",
    BULLET: "bullet",
    ORDERED: "ordered",
    CODE: "code",
    QUOTE: "quote",
    TODO: "todo",
    **{t: f"heading{level}" for t, level in HEADINGS.items()},
}


def blocks_to_markdown(blocks: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """The page title and its body as Markdown (headings deeper than 6 become level 6)."""
    by_id = {str(b.get("block_id")): b for b in blocks}
    inside_table = {
        child
        for b in blocks
        if b.get("block_type") == TABLE_CELL
        for child in _descendants(b, by_id)
    }
    title = ""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("block_type")
        if str(block.get("block_id")) in inside_table:
            continue
        if kind == PAGE:
            title = block_text(block)
        elif kind in HEADINGS:
            lines += ["", f"{'#' * min(HEADINGS[kind], 6)} {block_text(block)}", ""]
        elif kind == BULLET:
            lines.append(f"- {block_text(block)}")
        elif kind == ORDERED:
            lines.append(f"1. {block_text(block)}")
        elif kind == TODO:
            lines.append(f"- {block_text(block)}")
        elif kind == QUOTE:
            lines += [f"> {block_text(block)}", ""]
        elif kind == CODE:
            lines += ["```", block_text(block), "```", ""]
        elif kind == TABLE:
            lines += ["", *_table_rows(block, by_id), ""]
        elif kind == TEXT:
            lines += [block_text(block), ""]
    return title, "\n".join(lines).strip() + "\n"


def block_text(block: Mapping[str, Any]) -> str:
    """The text of a text-like block: its elements' text runs, mentions as their titles."""
    body = block.get(_FIELDS.get(int(block.get("block_type") or 0), "text")) or {}
    parts: list[str] = []
    for element in body.get("elements", []) or []:
        run = element.get("text_run") or {}
        mention = element.get("mention_doc") or {}
        parts.append(str(run.get("content") or mention.get("title") or ""))
    return "".join(parts).strip()


def _descendants(block: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> set[str]:
    found: set[str] = set()
    for child in block.get("children", []) or []:
        found.add(child)
        if child in by_id:
            found |= _descendants(by_id[child], by_id)
    return found


def _table_rows(table: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> list[str]:
    body = table.get("table") or {}
    cells: list[str] = list(body.get("cells") or [])
    columns = int((body.get("property") or {}).get("column_size") or 1)
    rows: list[str] = []
    for start in range(0, len(cells), columns):
        texts = [_cell_text(by_id.get(cell, {}), by_id) for cell in cells[start : start + columns]]
        if any(texts):
            rows.append(" | ".join(texts).rstrip(" |"))  # empty trailing cells add nothing
    return rows


def _cell_text(cell: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> str:
    return " ".join(
        text
        for child in cell.get("children", []) or []
        if (text := block_text(by_id.get(child, {})))
    )
