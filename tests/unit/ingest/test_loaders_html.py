"""HTML loader: boilerplate removal, content root, headings with ids, title, url."""

from __future__ import annotations

from pathlib import Path

import pytest

from askwiki.documents import Document
from askwiki.ingest.loaders import LoaderOptions, SourceFile, load

OPTIONS = LoaderOptions(max_file_bytes=1024 * 1024, pdf_timeout_s=30.0)


def load_html(
    tmp_path: Path, html: str, name: str = "docs/page.html", url_base: str | None = None
) -> Document:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    options = LoaderOptions(OPTIONS.max_file_bytes, OPTIONS.pdf_timeout_s, url_base)
    (item,) = load(SourceFile(path, tmp_path, from_folder=True), options)
    assert isinstance(item, Document), item
    return item


PAGE = """<!DOCTYPE html>
<html><head>
<title>Reranking - AI Notes Wiki</title>
<link rel="canonical" href="https://wiki.example.com/retrieval/reranking">
<style>.x { color: red } /* STYLE */</style>
<script>var SCRIPT = 1;</script>
</head><body>
<header>HEADER</header>
<nav>NAV <a href="/">Home</a></nav>
<div role="navigation">ROLE-NAV</div>
<div class="cookie">COOKIE outside main</div>
<main>
  <article>
    <h1>Reranking</h1>
    <p>Reranking is the
       second   stage.<!-- COMMENT --></p>
    <h2 id="cross">Cross-encoders</h2>
    <p>Line one<br>line two</p>
    <aside>ASIDE</aside>
    <form><label>FORM</label><input></form>
    <noscript>NOSCRIPT</noscript>
    <template><p>TEMPLATE</p></template>
    <ol><li>First</li><li>Second <b>bold</b></li></ol>
    <h3><span class="mw-headline" id="inner-id">Inner id</span></h3>
    <pre># not a heading
    indented code</pre>
    <table>
      <tr><th>Model</th><th>Lang</th></tr>
      <tr><td>bge</td><td>zh, en</td></tr>
    </table>
    <p># 1 is not a heading either</p>
  </article>
</main>
<footer>FOOTER</footer>
</body></html>
"""


def test_html_keeps_content_and_drops_boilerplate(tmp_path: Path) -> None:
    document = load_html(tmp_path, PAGE)
    assert document.text == (
        "Reranking is the second stage.\n\n"
        "## Cross-encoders {#cross}\n\n"
        "Line one\nline two\n\n"
        "- First\n- Second bold\n\n"
        "### Inner id {#inner-id}\n\n"
        " # not a heading\n    indented code\n\n"
        "| Model | Lang |\n| bge | zh, en |\n\n"
        " # 1 is not a heading either"
    )
    for marker in ("HEADER", "NAV", "COOKIE", "FOOTER", "STYLE", "SCRIPT", "COMMENT", "ASIDE"):
        assert marker not in document.text
    for marker in ("FORM", "NOSCRIPT", "TEMPLATE", "ROLE-NAV"):
        assert marker not in document.text


def test_html_title_drops_site_suffix_when_h1_names_the_page(tmp_path: Path) -> None:
    document = load_html(tmp_path, PAGE)
    assert document.title == "Reranking"
    assert not document.text.startswith("# Reranking")


@pytest.mark.parametrize(
    ("html", "title"),
    [
        ("<title>Page title</title><body><h1>Other</h1><p>x</p></body>", "Page title"),
        ("<body><h1>Only <em>H1</em></h1><p>x</p></body>", "Only H1"),
        ("<body><p>No title at all.</p></body>", "page"),
        ("<title>  Spaced\n  title </title><p>x</p>", "Spaced title"),
    ],
)
def test_html_title_from_title_tag_else_h1_else_stem(tmp_path: Path, html: str, title: str) -> None:
    assert load_html(tmp_path, html).title == title


@pytest.mark.parametrize(
    ("head", "url_base", "url"),
    [
        ('<meta property="og:url" content="https://og.example/p">', None, "https://og.example/p"),
        ('<link rel="canonical" href="https://c.example/p">', "https://b", "https://c.example/p"),
        (
            '<link rel="alternate canonical" href="https://c.example/q">',
            None,
            "https://c.example/q",
        ),
        ("", "https://wiki.example.com/", "https://wiki.example.com/docs/page"),
        ("", None, None),
    ],
)
def test_html_url_from_og_url_or_canonical_else_url_base(
    tmp_path: Path, head: str, url_base: str | None, url: str | None
) -> None:
    html = f"<html><head>{head}</head><body><p>Text.</p></body></html>"
    assert load_html(tmp_path, html, url_base=url_base).url == url


def test_html_without_main_uses_body_and_single_article(tmp_path: Path) -> None:
    body_only = load_html(tmp_path, "<body><div>Outside</div><p>Body text.</p></body>")
    assert body_only.text == "Outside\n\nBody text."
    article = load_html(
        tmp_path, "<body><div>Teaser</div><article><p>Article text.</p></article></body>", "b.html"
    )
    assert article.text == "Article text."


@pytest.mark.parametrize(
    ("alt", "kept"),
    [
        ("RAG pipeline: the retriever feeds the generator", True),
        ("检索增强生成流程：检索器把段落交给生成模型", True),
        ("image", False),
        ("截图", False),
        ("Screenshot 2", False),
        ("diagram-final.png", False),
        ("", False),
    ],
)
def test_html_keeps_descriptive_image_alt_text(tmp_path: Path, alt: str, kept: bool) -> None:
    html = f'<main><p>Before <img src="x.png" alt="{alt}"> after.</p></main>'
    text = load_html(tmp_path, html).text
    assert text == (f"Before {alt} after." if kept else "Before after.")


def test_html_nested_lists_keep_their_items(tmp_path: Path) -> None:
    html = "<ul><li>Parent<ul><li>Child</li></ul></li><li><p>Para item</p></li></ul>"
    assert load_html(tmp_path, html).text == "- Parent\n  - Child\n- Para item"


def test_html_in_gb18030_with_declared_charset_loads(tmp_path: Path) -> None:
    path = tmp_path / "zh.html"
    html = '<html><head><meta charset="gb2312"><title>向量检索</title></head><body><p>余弦相似度。</p></body></html>'
    path.write_bytes(html.encode("gb18030"))
    (item,) = load(SourceFile(path, tmp_path, from_folder=True), OPTIONS)
    assert isinstance(item, Document)
    assert (item.title, item.text, item.format) == ("向量检索", "余弦相似度。", "html")


def test_html_in_declared_legacy_charset_loads(tmp_path: Path) -> None:
    path = tmp_path / "latin.html"
    html = '<meta charset="windows-1252"><p>Café crème</p>'
    path.write_bytes(html.encode("cp1252"))
    (item,) = load(SourceFile(path, tmp_path, from_folder=True), OPTIONS)
    assert isinstance(item, Document) and item.text == "Café crème"
