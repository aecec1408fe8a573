"""Shared browser-test fixtures: a live server on loopback and Debian's headless Chromium.

    def test_page(live_server, browser, browser_app, screenshot_dir):
        base_url = live_server(browser_app(FakeLLM(["..."], delay_s=0.02)))
        page = browser.new_page()
        page.goto(base_url + "/")

``live_server(app)`` runs any ASGI app with uvicorn in a thread on a free 127.0.0.1 port
(lifespan included) and returns its base URL; servers stop at the end of the test.
``browser`` is one Chromium per session, launched from ``/usr/bin/chromium`` (``make
browser`` installs it; nothing is downloaded). Tests are skipped when it is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index
from tests.support.wiki_app import LORA_ANSWER, wiki_app

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output"
CHROMIUM = os.environ.get("ASKWIKI_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

LiveServer = Callable[[Any], str]
AppFactory = Callable[..., Any]


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def live_server() -> Iterator[LiveServer]:
    """``live_server(app) -> base_url``: serve an app on loopback until the test ends."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> str:
        server, thread, url = _serve(app)
        running.append((server, thread))
        return url

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser_app(tmp_path: Path) -> AppFactory:
    """``browser_app(llm=None, **settings)`` -> the askwiki app over the 3-page test wiki."""
    embedder = fake_embedder()
    build_index(tmp_path / "indexes" / "default", WIKI_PAGES, embedder)

    def make(llm: FakeLLM | None = None, **overrides: Any) -> Any:
        backend = llm or FakeLLM([LORA_ANSWER], delay_s=0.03)
        return wiki_app(tmp_path, embedder, backend, **{"index_poll_s": 0.5, **overrides})

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the session, driven by Playwright."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} is missing; run 'make browser' (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshot_dir() -> Path:
    """``test-output/`` at the repository root (created), where screenshots are kept."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# Widget tests (test_widget_*.py); imported lazily so the other tests need none of it.
@pytest.fixture
def widget_site(live_server: LiveServer, browser_app: AppFactory) -> Any:
    """``widget_site(llm, css=..., data=..., **settings)`` -> a host page on another origin."""
    from tests.browser.widget_host import site_factory

    return site_factory(live_server, browser_app)


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """``new_page(viewport=DESKTOP, **context_options)`` -> a page in a fresh context."""
    from tests.browser.widget_host import page_factory

    yield from page_factory(browser)
