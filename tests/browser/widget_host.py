"""A third-party "host site" for the widget's browser tests, served from its own origin.

``host_app(pages)`` serves the HTML in ``pages`` (filled in after askwiki's URL is known),
plus a scripted fake askwiki under ``/fake/`` (widget.js and a canned SSE ``/api/ask``)
for behaviour the real server does not produce on demand, such as related questions.
``site_factory`` and ``page_factory`` back the ``widget_site`` and ``new_page`` fixtures
of ``tests/browser/conftest.py``; the rest are helpers for driving the widget.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from askwiki.server.routes.widget import WIDGET, load_asset
from askwiki.testing.fake_llm import FakeLLM

LORA_ANSWER = (
    "LoRA was introduced by Hu et al. in 2021 [1]. It freezes the pretrained weights "
    "and trains two low-rank matrices [1]."
)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# What a page needs from the shadow root; Playwright locators pierce it, evaluate() does not.
LAST_ANSWER_JS = """() => {
  const root = document.querySelector('askwiki-widget').shadowRoot;
  const bots = root.querySelectorAll('.msg.bot:not(.greeting)');
  const last = bots[bots.length - 1];
  return last ? {state: last.dataset.state || '', text: last.querySelector('.body').textContent}
              : null;
}"""
FOCUSED_JS = """() => {
  const host = document.querySelector('askwiki-widget');
  if (document.activeElement !== host) return document.activeElement.tagName;
  const el = host.shadowRoot.activeElement;
  return el ? (el.id || el.className) : null;
}"""
NEW_GLOBALS_JS = """() => Object.keys(window).filter(
  k => !window.__globalsBefore.includes(k) && k !== '__globalsBefore')"""

ARTICLE = """
<h1>Host site</h1>
<div class="article"><p>An article on a site that embeds the askwiki widget.
It has its own styles, which must not leak into the widget.</p></div>
"""


def host_page(
    script_src: str,
    *,
    css: str = "body { font: 18px Georgia, serif; }",
    data: dict[str, str] | None = None,
) -> str:
    """A host page embedding ``<script src=... data-...>`` like a site owner would."""
    attrs = "".join(f' data-{k}="{html.escape(v)}"' for k, v in (data or {}).items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host site</title><style>{css}</style></head>
<body>{ARTICLE}
<script>window.__globalsBefore = Object.keys(window);</script>
<script src="{html.escape(script_src)}"{attrs} async></script>
</body></html>"""


def sse(event: str, data: Any) -> str:
    return f"event: {event}\r\ndata: {json.dumps(data, ensure_ascii=False)}\r\n\r\n"


FAKE_SOURCE = {
    "n": 1,
    "id": "faq.md#0",
    "doc_id": "faq.md",
    "title": "FAQ",
    "section": "FAQ › Getting started",
    "url": "https://wiki.example.com/faq",
    "excerpt": "Start with the quick start page.",
    "score": 0.9,
    "cited": True,
    "page": None,
}
FAKE_RELATED = [
    {
        "id": "q1",
        "question": "How do I install it?",
        "asked_at": "2025-01-01T00:00:00+00:00",
        "answer_snippet": "Run make setup.",
        "url": "/q/q1/how-do-i-install-it",
    },
    {
        "id": "q2",
        "question": "Where are the docs?",
        "asked_at": "2025-01-02T00:00:00+00:00",
        "answer_snippet": "In the wiki.",
        "url": "/q/q2/where-are-the-docs",
    },
]


def host_app(pages: dict[str, str], received: list[dict[str, Any]]) -> Starlette:
    """The host site; ``received`` collects the JSON bodies posted to the fake ``/api/ask``."""

    async def page(request: Request) -> Response:
        body = pages.get(request.url.path)
        return HTMLResponse(body) if body is not None else Response(status_code=404)

    async def widget_js(request: Request) -> Response:
        return Response(load_asset(WIDGET).body, media_type="application/javascript")

    async def fake_ask(request: Request) -> Response:
        body = await request.json()
        received.append({**body, "session": request.headers.get("x-askwiki-session")})
        answer = f"Answer to {body['question']}: start with the quick start [1]."

        async def events() -> AsyncIterator[str]:
            yield sse("sources", {"sources": [FAKE_SOURCE]})
            # Split one event across writes, as proxies and TCP may do.
            first = sse("token", {"text": "Answer "})
            yield first[:9]
            await asyncio.sleep(0.05)
            yield first[9:]
            yield sse("token", {"text": answer[len("Answer ") :]})
            done = {
                "id": f"a{len(received)}",
                "question": body["question"],
                "answer": answer,
                "language": "en",
                "sources": [FAKE_SOURCE],
                "status": "answered",
                "related": FAKE_RELATED,
            }
            yield sse("done", done)

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/fake/widget.js", widget_js),
            Route("/fake/api/ask", fake_ask, methods=["POST"]),
            Route("/{path:path}", page),
        ]
    )


@dataclass
class Site:
    """Base URLs of the host site and of askwiki; ``received`` is what the fake got."""

    host: str
    askwiki: str
    received: list[dict[str, Any]] = field(default_factory=list)


SiteFactory = Callable[..., Site]


def site_factory(live_server: Callable[[Any], str], browser_app: Callable[..., Any]) -> SiteFactory:
    """``make(llm, css=..., data=..., **settings)``: host page on one origin, askwiki on another.

    askwiki allows the host's origin unless ``allowed_origins`` is given. The host serves
    ``/`` (real askwiki) and ``/fake`` (the scripted fake under its own origin).
    """

    def make(
        llm: FakeLLM | None = None,
        *,
        css: str = "body { font: 18px Georgia, serif; }",
        data: dict[str, str] | None = None,
        **settings: Any,
    ) -> Site:
        pages: dict[str, str] = {}
        received: list[dict[str, Any]] = []
        host = live_server(host_app(pages, received))
        settings.setdefault("allowed_origins", host)
        askwiki = live_server(browser_app(llm or FakeLLM([LORA_ANSWER], delay_s=0.04), **settings))
        pages["/"] = host_page(f"{askwiki}/widget.js", css=css, data=data)
        pages["/fake"] = host_page(f"{host}/fake/widget.js", css=css, data=data)
        return Site(host, askwiki, received)

    return make


def page_factory(browser: Any) -> Iterator[Callable[..., Any]]:
    """``make(viewport=DESKTOP, **context_options)`` -> a page; console messages on ``.console``."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] = DESKTOP, **options: Any) -> Any:
        context = browser.new_context(viewport=viewport, **options)
        contexts.append(context)
        tab = context.new_page()
        tab.console = []
        tab.on("console", lambda msg: tab.console.append((msg.type, msg.text)))
        tab.set_default_timeout(15_000)
        return tab

    yield make
    for context in contexts:
        context.close()


def open_widget(tab: Any, url: str) -> Any:
    """Load ``url``, click the launcher and return the widget's locator."""
    tab.goto(url)
    widget = tab.locator("askwiki-widget")
    widget.locator(".launcher").click()
    widget.locator(".panel").wait_for(state="visible")
    return widget


def ask(tab: Any, widget: Any, question: str) -> None:
    widget.locator("textarea").fill(question)
    widget.locator("textarea").press("Enter")


def wait_answer(tab: Any, states: tuple[str, ...] = ("done",)) -> dict[str, str]:
    """Wait until the latest answer reaches one of ``states``; its state and text."""
    tab.wait_for_function(
        f"() => {{ const a = ({LAST_ANSWER_JS})(); return a && {list(states)!r}.includes(a.state); }}"
    )
    result: dict[str, str] = tab.evaluate(LAST_ANSWER_JS)
    return result
