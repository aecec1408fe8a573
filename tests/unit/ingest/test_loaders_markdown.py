"""Markdown loader: front matter, titles, ids, urls, link cleanup, code blocks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from askwiki.documents import Document
from askwiki.ingest.loaders import LoaderOptions, SourceFile, load
from askwiki.ingest.loaders.markdown import clean_markdown

OPTIONS = LoaderOptions(max_file_bytes=1024 * 1024, pdf_timeout_s=30.0)


def load_page(
    tmp_path: Path,
    text: str,
    name: str = "rag/overview.md",
    url_base: str | None = None,
) -> Document:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    options = LoaderOptions(OPTIONS.max_file_bytes, OPTIONS.pdf_timeout_s, url_base)
    (item,) = load(SourceFile(path, tmp_path, from_folder=True), options)
    assert isinstance(item, Document), item
    return item


@pytest.mark.parametrize(
    ("text", "name", "title"),
    [
        ("---\ntitle: From front matter\n---\n# Heading\n\nBody.", "a.md", "From front matter"),
        ("# First H1\n\nBody.\n\n# Second H1\n", "a.md", "First H1"),
        ("Intro.\n\n## Section\n\n# Late H1 {#late}\n\nBody.", "a.md", "Late H1"),
        ("# [Linked](x.md) title\n\nBody.", "a.md", "Linked title"),
        ("Body without heading.", "Page Title 3f2a9c0e1b7d4a5f8c6e2d1b0a9f8e7d.md", "Page Title"),
        ("Body without heading.", "plain-name.md", "plain-name"),
        ("```\n# code comment\n```\nBody.", "code-first.md", "code-first"),
        ("Setext title\n============\n\nBody.", "a.md", "Setext title"),
    ],
)
def test_title_front_matter_then_h1_then_notion_name_then_stem(
    tmp_path: Path, text: str, name: str, title: str
) -> None:
    assert load_page(tmp_path, text, name).title == title


@pytest.mark.parametrize(
    ("text", "doc_id"),
    [
        ("---\nid: rag-overview\n---\nBody.", "rag-overview"),
        ("---\nid: 42\n---\nBody.", "42"),
        ("---\nid: ''\n---\nBody.", "rag/overview.md"),
        ("Body.", "rag/overview.md"),
    ],
)
def test_doc_id_is_declared_id_else_relative_path(tmp_path: Path, text: str, doc_id: str) -> None:
    assert load_page(tmp_path, text).doc_id == doc_id


@pytest.mark.parametrize(
    ("text", "name", "url_base", "url"),
    [
        (
            "---\nurl: https://w.example/x\n---\nBody.",
            "rag/overview.md",
            "https://b/",
            "https://w.example/x",
        ),
        (
            "Body.",
            "rag/overview.md",
            "https://wiki.example.com/",
            "https://wiki.example.com/rag/overview",
        ),
        (
            "Body.",
            "rag/overview.md",
            "https://wiki.example.com",
            "https://wiki.example.com/rag/overview",
        ),
        (
            "---\nid: rag-overview\n---\nBody.",
            "rag/overview.md",
            "https://w",
            "https://w/rag-overview",
        ),
        ("Body.", "rag/overview.md", None, None),
    ],
)
def test_url_is_declared_else_built_from_url_base(
    tmp_path: Path, text: str, name: str, url_base: str | None, url: str | None
) -> None:
    assert load_page(tmp_path, text, name, url_base).url == url


def test_other_scalar_front_matter_becomes_string_metadata(tmp_path: Path) -> None:
    text = (
        "---\ntitle: T\nid: t\nurl: https://x\ntags: [rag, 检索]\nauthor: Ann\n"
        "version: 3\ndraft: false\nupdated: 2024-05-20\nnested: {a: 1}\nnothing:\n---\nBody."
    )
    assert load_page(tmp_path, text).metadata == {
        "tags": "rag, 检索",
        "author": "Ann",
        "version": "3",
        "draft": "false",
        "updated": "2024-05-20",
    }


def test_broken_front_matter_is_kept_as_text_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "---\ntitle: [unclosed\n---\n# Real Title\n\nBody."
    with caplog.at_level(logging.WARNING, logger="askwiki.ingest.loaders.markdown"):
        document = load_page(tmp_path, text)
    assert document.title == "Real Title"
    assert document.text == "---\ntitle: [unclosed\n---\n\nBody."
    assert "front matter is not valid YAML" in caplog.text


def test_leading_rule_without_yaml_mapping_is_not_front_matter(tmp_path: Path) -> None:
    document = load_page(tmp_path, "---\nJust a line between rules.\n---\nBody.")
    assert document.metadata == {} and "Just a line between rules." in document.text


def test_h1_equal_to_the_title_is_dropped(tmp_path: Path) -> None:
    document = load_page(tmp_path, "---\ntitle: Same\n---\n# Same\n\nBody.\n\n## Part\n\nMore.")
    assert document.text == "Body.\n\n## Part\n\nMore."


def test_h1_different_from_the_title_is_kept(tmp_path: Path) -> None:
    document = load_page(tmp_path, "---\ntitle: Short\n---\n# Longer heading\n\nBody.")
    assert document.text == "# Longer heading\n\nBody."


def test_feishu_export_with_bom_takes_title_from_first_h1(tmp_path: Path) -> None:
    text = "\ufeff# 混合检索实践\n\n> 本文档导出自飞书云文档\n\n混合检索同时使用 BM25 和向量检索。\n\n## 为什么需要\n\n原因。"
    document = load_page(tmp_path, text, "retrieval/混合检索实践.md", "https://w")
    assert document.title == "混合检索实践"
    assert document.doc_id == "retrieval/混合检索实践.md"
    assert document.url == "https://w/retrieval/混合检索实践"
    assert document.text.startswith("> 本文档导出自飞书云文档")


def test_utf8_bom_before_front_matter_is_stripped(tmp_path: Path) -> None:
    document = load_page(tmp_path, "\ufeff---\ntitle: 带 BOM 的页面\n---\n正文。")
    assert (document.title, document.text) == ("带 BOM 的页面", "正文。")


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("See [the docs](../docs.md#setup) now.", "See the docs now."),
        ('A [titled](https://x.org "Title") link.', "A titled link."),
        ("A [paren](https://en.wikipedia.org/wiki/Foo_(bar)) link.", "A paren link."),
        ("Ref [link][1] here.\n\n[1]: https://x.org", "Ref link here."),
        ("See [[Page]].", "See Page."),
        ("See [[Page#Sec|alias]].", "See alias."),
        ("See [[Page#Sec]].", "See Page › Sec."),
        ("See [[Page#Sec#Sub]].", "See Page › Sec › Sub."),
        ("See [[#Local section]].", "See Local section."),
        ("See [[Page#^block1]].", "See Page."),
        ("| [[Page\\|alias]] | x |", "| alias | x |"),
        ("Keep <!-- hidden\nnote --> this.", "Keep  this."),
        ("Footnote[^1].\n\n[^1]: The note.", "Footnote[^1].\n\n[^1]: The note."),
        ("| a | b |\n| --- | --- |\n| 1 | 2 |", "| a | b |\n| --- | --- |\n| 1 | 2 |"),
        ("- one\n- two\n  - nested", "- one\n- two\n  - nested"),
        ("Para.\n\n\n\n\nNext.", "Para.\n\nNext."),
        ("Sub heading\n-----------\nText.", "## Sub heading\n\nText."),
        ("- item\n---\nText.", "- item\n---\nText."),
    ],
)
def test_markdown_cleanup(markdown: str, expected: str) -> None:
    assert clean_markdown(markdown) == expected


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        (
            "![RAG pipeline: retriever feeds the generator](x.png)",
            "RAG pipeline: retriever feeds the generator",
        ),
        (
            "流程如下：![检索器把段落交给生成器](img/rag.png)。",
            "流程如下：检索器把段落交给生成器。",
        ),
        ("Badge [![build status](b.svg)](https://ci) here.", "Badge build status here."),
        ("Ref ![vector index layout][fig1] here.", "Ref vector index layout here."),
        ("Embed ![[diagram.png|HNSW layers, top to bottom]].", "Embed HNSW layers, top to bottom."),
        ("Html <img src='a.png' alt='知识蒸馏：教师与学生'>.", "Html 知识蒸馏：教师与学生."),
        ('Html <img alt="Q &amp; A flow" src=a.png>.', "Html Q & A flow."),
        # Alone on its line, alt text that starts with "#" must not become a heading.
        ("![# of users per day](chart.png)\nText.", " # of users per day\nText."),
    ],
)
def test_descriptive_alt_text_is_kept_as_text(markdown: str, expected: str) -> None:
    assert clean_markdown(markdown) == expected


@pytest.mark.parametrize(
    "image",
    [
        "![](x.png)",
        "![image](x.png)",
        "![IMG](x.png)",
        "![Screenshot](x.png)",
        "![screenshot 2](x.png)",
        "![image-20230405123456789](x.png)",
        "![Pasted image 20230405](x.png)",
        "![图片](x.png)",
        "![截图1](x.png)",
        "![圖片](x.png)",
        "![foo.png](foo.png)",
        "![Screenshot 2023-04-05 at 10.00.00.png](s.png)",
        "![123](x.png)",
        "![2023-04-05](x.png)",
        "![logo][1]",
        "![[diagram.png]]",
        "![[diagram.png|100x145]]",
        "<img src='a.png'>",
        "<img src='a.png' alt=''>",
        "<img src='a.png' alt=图片>",
    ],
)
def test_placeholder_alt_text_is_dropped(image: str) -> None:
    assert clean_markdown(f"Before {image} after.") == "Before  after."


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("```bash\n# install\npip install x\n```", "```bash\n # install\npip install x\n```"),
        ("~~~\n## not a heading\n~~~\n## Real", "~~~\n ## not a heading\n~~~\n## Real"),
        ("````\n```\n# inner\n```\n````\n# Out", "````\n```\n # inner\n```\n````\n# Out"),
        ("```\n[link](x) <!-- c -->\n```", "```\n[link](x) <!-- c -->\n```"),
        ("```\n# unclosed fence\ncode", "```\n # unclosed fence\ncode"),
    ],
)
def test_code_blocks_are_verbatim_but_their_hash_lines_are_not_headings(
    markdown: str, expected: str
) -> None:
    assert clean_markdown(markdown) == expected


def test_headings_keep_explicit_anchors_for_the_splitter(tmp_path: Path) -> None:
    document = load_page(tmp_path, "# Title\n\n## Setup {#install}\n\nSteps.")
    assert document.text == "## Setup {#install}\n\nSteps."


def test_notion_export_loads_with_clean_title_and_path_id(tmp_path: Path) -> None:
    name = "models/Fine-tuning vs Distillation 3f2a9c0e1b7d4a5f8c6e2d1b0a9f8e7d.md"
    text = "# Fine-tuning vs Distillation\n\nTags: 训练\nOwner: 模型组\n\n## 微调\n\n[[LoRA and QLoRA|LoRA]] 很常用。"
    document = load_page(tmp_path, text, name)
    assert document.title == "Fine-tuning vs Distillation"
    assert document.doc_id == name
    assert document.text == "Tags: 训练\nOwner: 模型组\n\n## 微调\n\nLoRA 很常用。"
    assert (document.format, len(document.parts), document.parts[0].page) == ("markdown", 1, None)
