"""Hostile text in questions, answers and wiki pages is escaped on every HTML surface.

One cross-surface check (the pages' own tests go deeper): a hostile question answered
by a hostile FakeLLM reply from a hostile wiki page, then /, /q/{id}, /questions, /gaps
must contain no script, event handler or javascript: link of theirs; the widget, which
renders in the visitor's browser, must only ever set server text as text.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index, page
from tests.unit.server.conftest import ClientFactory

PAYLOADS = (
    "<script>alert('xss')</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    '<a href="javascript:alert(1)">x</a>',
)
QUESTION = "Quokka facts? " + " ".join(PAYLOADS)
ANSWER = (
    "Quokkas live on Rottnest [1]. <script>alert('answer')</script> "
    "<img src=x onerror=alert(2)> [click](javascript:alert(3)) [also](JaVaScRiPt:alert(4)) "
    '<a href="javascript:alert(5)">raw</a> [1]'
)
HOSTILE_PAGE = page(
    "animals/<script>quokka</script>.md",
    "Quokka <img src=x onerror=alert('title')>",
    "## <script>alert('section')</script>\nQuokka facts: quokkas live on Rottnest. "
    + " ".join(PAYLOADS),
    "javascript:alert('url')",
)
DANGEROUS_URL_ATTRS = ("href", "src", "action", "formaction", "xlink:href", "data")
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:text/html")


class _Audit(HTMLParser):
    """Collects every active-content problem a browser would act on."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            cleaned = "".join((value or "").split()).lower()
            if name in DANGEROUS_URL_ATTRS and cleaned.startswith(DANGEROUS_SCHEMES):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag in ("iframe", "object", "embed", "svg", "img", "base"):
            self.problems.append(f"<{tag}> element")
        if tag == "script":
            src = dict(attrs).get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"<script src={src!r}>")
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script {data.strip()[:40]!r}")


def _problems(html: str) -> list[str]:
    audit = _Audit()
    audit.feed(html)
    audit.close()
    return audit.problems


def test_hostile_question_answer_and_source_are_inert_on_every_page(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    build_index(tmp_path / "indexes" / "default", [*WIKI_PAGES, HOSTILE_PAGE], fake_embedder())
    # The hostile answer is not grounded in its sources: shown anyway, to be rendered.
    client = make_client(FakeLLM([ANSWER]), allow_unsupported_answers=True, public_gaps=True)
    answer = client.post("/api/ask", json={"question": QUESTION}).json()
    assert any(s["doc_id"] == HOSTILE_PAGE.doc_id for s in answer["sources"]), answer["sources"]
    # A down-vote makes it a knowledge gap, so /gaps shows it too.
    client.post(f"/api/questions/{answer['id']}/feedback", json={"vote": "down"})

    surfaces = ["/", f"/q/{answer['id']}", "/questions", "/gaps"]
    for path in surfaces:
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 200, path
        assert _problems(response.text) == [], path
    # The hostile text was shown (escaped), not silently dropped.
    for path in surfaces:
        text = client.get(path).text
        assert "&lt;script&gt;alert(" in text or "&lt;script&gt;" in text, path
    question_page = client.get(f"/q/{answer['id']}").text
    assert "onerror=alert(2)" in question_page  # as visible text
    assert "Rottnest" in question_page


def test_hostile_question_through_the_html_form_is_inert(make_client: ClientFactory) -> None:
    client = make_client(FakeLLM([ANSWER]))
    response = client.post("/ask", data={"question": QUESTION}, follow_redirects=True)
    assert response.status_code == 200
    assert _problems(response.text) == []
    assert "&lt;script&gt;" in response.text


def test_widget_sets_server_text_as_text_only() -> None:
    """The widget renders answers in the visitor's browser; it must never parse them as HTML."""
    from askwiki.server.routes.widget import WIDGET

    source = WIDGET.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, sink


def test_the_audit_itself_catches_active_content() -> None:
    assert _problems("<p onclick=x>hi</p>") == ["<p onclick=...>"]
    assert _problems('<a href=" java\nscript:alert(1)">x</a>')
    assert _problems("<script>alert(1)</script>")
    assert _problems("<img src=x>")
    assert _problems("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>") == []
