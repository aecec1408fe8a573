"""Wikitext and Feishu blocks -> the Markdown the splitter reads: literal cases."""

from __future__ import annotations

import pytest

from askwiki.ingest.sources.feishu_blocks import blocks_to_markdown
from askwiki.ingest.sources.wikitext import wikitext_to_markdown


@pytest.mark.parametrize(
    ("wikitext", "markdown"),
    [
        ("== Getting started ==\nText.", "## Getting started {#Getting_started}\n\nText.\n"),
        ("== A ==\nx\n== A ==\ny", "## A {#A}\n\nx\n\n## A {#A_2}\n\ny\n"),
        ("=== [[Deep|Deeper]] ''level'' ===\nz", "### Deeper level {#Deeper_level}\n\nz\n"),
        ("See [[Other page|that page]] and [[Plain]].", "See that page and Plain.\n"),
        ("[https://example.com the site] here", "the site here\n"),
        ("Before {{Infobox|a={{nested|b}}|c=d}}after", "Before after\n"),
        ("'''Bold''' and ''italic''", "Bold and italic\n"),
        ("* one\n** two\n# first", "- one\n  - two\n1. first\n"),
        ("Text<ref>a citation</ref> end<!-- hidden -->", "Text end\n"),
        ("[[File:x.png|thumb|cap]]Kept[[Category:Foo]]", "Kept\n"),
        (
            '{| class="wikitable"\n|+ Prices\n! Item !! Cost\n|-\n| style="x" | Tea || 3\n|}',
            "Prices\nItem | Cost\nTea | 3\n",
        ),
        ("a<br/>b &amp; c", "a b & c\n"),
        ("__NOTOC__\nBody", "Body\n"),
    ],
)
def test_wikitext_to_markdown(wikitext: str, markdown: str) -> None:
    assert wikitext_to_markdown(wikitext) == markdown


def _text(kind: int, field: str, content: str, block_id: str) -> dict[str, object]:
    return {
        "block_id": block_id,
        "block_type": kind,
        field: {"elements": [{"text_run": {"content": content}}]},
    }


def test_feishu_blocks_to_markdown_headings_lists_code_and_table() -> None:
    blocks = [
        {**_text(1, "page", "AGI 入门", "page"), "children": ["h", "t", "b", "o", "c", "tbl"]},
        _text(3, "heading1", "概念", "h"),
        _text(2, "text", "通用人工智能。", "t"),
        _text(12, "bullet", "要点", "b"),
        _text(13, "ordered", "步骤", "o"),
        _text(14, "code", "print(1)", "c"),
        {
            "block_id": "tbl",
            "block_type": 31,
            "table": {"cells": ["c1", "c2", "c3", "c4"], "property": {"column_size": 2}},
        },
        {"block_id": "c1", "block_type": 32, "children": ["x1"]},
        _text(2, "text", "模型", "x1"),
        {"block_id": "c2", "block_type": 32, "children": ["x2"]},
        _text(2, "text", "参数", "x2"),
        {"block_id": "c3", "block_type": 32, "children": ["x3"]},
        _text(2, "text", "Qwen", "x3"),
        {"block_id": "c4", "block_type": 32, "children": []},
        _text(11, "heading9", "Deep", "h9"),
    ]
    title, body = blocks_to_markdown(blocks)
    assert title == "AGI 入门"
    assert body == (
        "# 概念\n\n通用人工智能。\n\n- 要点\n1. 步骤\n```\nprint(1)\n```\n\n\n"
        "模型 | 参数\nQwen\n\n\n###### Deep\n"
    )
