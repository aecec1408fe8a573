"""The editors' page ``/admin`` in a real headless Chromium: sign-in, hiding, curating, CSRF.

Hiding runs on the fake embedder; curating needs the real one (a paraphrase has to mean
the same to the answer cache's test).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.server.app import create_app
from askwiki.settings import Settings
from askwiki.testing.fake_llm import FakeLLM
from tests.browser.conftest import LiveServer
from tests.browser.widget_host import PHONE, SiteFactory, ask, open_widget, wait_answer
from tests.support.admin import TOKEN
from tests.support.index_builder import WIKI_PAGES, build_index

pytestmark = [pytest.mark.browser, pytest.mark.integration]

HIDDEN = "Who introduced LoRA?"
KEPT = "What is BM25?"
CURATED = "LoRA was introduced by Edward Hu and colleagues at Microsoft in 2021 [1]."


def sign_in(tab: Any, base_url: str, token: str) -> None:
    tab.goto(base_url + "/admin")
    tab.fill("#admin-token", token)
    tab.click("form.stack-form button[type=submit]")


def test_sign_in_fails_with_a_wrong_token_and_works_with_the_right_one(
    widget_site: SiteFactory, new_page: Callable[..., Any], screenshot_dir: Path
) -> None:
    site = widget_site(admin_token=TOKEN)
    tab = new_page(viewport=PHONE)

    sign_in(tab, site.askwiki, "not-the-token")
    assert tab.locator("[role=alert]").inner_text() == "That token is not right."
    assert tab.locator("form[action='/admin/logout']").count() == 0

    sign_in(tab, site.askwiki, TOKEN)
    tab.locator("form[action='/admin/logout']").wait_for()
    cookie = next(c for c in tab.context.cookies() if c["name"] == "askwiki_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    tab.screenshot(path=str(screenshot_dir / "admin-phone-signed-in.png"), full_page=True)
    width = tab.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the admin page is wider than a phone: {width}"


def test_a_hidden_question_vanishes_from_lists_related_and_widget_suggestions(
    widget_site: SiteFactory, new_page: Callable[..., Any], screenshot_dir: Path
) -> None:
    site = widget_site(admin_token=TOKEN)
    with httpx.Client(base_url=site.askwiki, timeout=30) as api:
        hidden_id = api.post("/api/ask", json={"question": HIDDEN}).json()["id"]
        kept_id = api.post("/api/ask", json={"question": KEPT}).json()["id"]
    tab = new_page()
    tab.goto(site.askwiki + "/")
    assert HIDDEN in tab.locator(".question-list").first.inner_text()

    sign_in(tab, site.askwiki, TOKEN)
    row = tab.locator(".admin-list li", has_text=HIDDEN)
    row.locator("button", has_text="Hide").click()
    tab.locator(".admin-list li", has_text=HIDDEN).locator(".badge.warn").wait_for()
    tab.screenshot(path=str(screenshot_dir / "admin-hidden.png"), full_page=True)

    tab.goto(site.askwiki + "/")
    assert HIDDEN not in tab.locator("main").inner_text()
    tab.goto(site.askwiki + "/questions")
    assert (
        HIDDEN not in tab.locator("main").inner_text() and KEPT in tab.locator("main").inner_text()
    )
    tab.goto(f"{site.askwiki}/q/{kept_id}")
    assert HIDDEN not in tab.locator("main").inner_text()  # "Others are asking"
    assert tab.goto(f"{site.askwiki}/q/{hidden_id}").status in (404, 410)

    widget = open_widget(tab, site.host + "/")
    ask(tab, widget, "What is LoRA rank?")
    wait_answer(tab)
    suggestions = widget.locator(".related .suggest").all_inner_texts()
    assert KEPT in suggestions and HIDDEN not in suggestions


def test_a_form_post_without_the_csrf_token_is_refused(
    widget_site: SiteFactory, new_page: Callable[..., Any]
) -> None:
    site = widget_site(admin_token=TOKEN)
    with httpx.Client(base_url=site.askwiki, timeout=30) as api:
        question_id = api.post("/api/ask", json={"question": HIDDEN}).json()["id"]
    tab = new_page()
    sign_in(tab, site.askwiki, TOKEN)
    tab.locator("form[action='/admin/logout']").wait_for()

    # The signed-in browser posts a form that lost its token (as a forged page's would).
    # The submit navigates later: wait for that navigation, not the already-loaded page.
    with tab.expect_navigation():
        tab.evaluate(
            """id => { const f = document.querySelector(`form[action^="/admin/questions/${id}/hidden"]`);
                       f.querySelector('input[name=csrf]').remove(); f.submit(); }""",
            question_id,
        )
    assert "Refused" in tab.locator("h1").inner_text()
    tab.goto(f"{site.askwiki}/q/{question_id}")
    assert tab.locator("h1.question").inner_text() == HIDDEN  # still public


@pytest.fixture(scope="module")
def real_embedder() -> Embedder:
    return load_embedder(Settings(_env_file=None), defer=False)  # type: ignore[call-arg]


def test_a_curated_answer_reaches_the_next_reader_of_a_paraphrase_marked_reviewed(
    live_server: LiveServer,
    browser: Any,
    real_embedder: Embedder,
    tmp_path: Path,
    screenshot_dir: Path,
) -> None:
    build_index(tmp_path / "indexes" / "default", WIKI_PAGES, real_embedder)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        index_dir=tmp_path / "indexes",
        data_dir=tmp_path / "data",
        admin_token=TOKEN,
        index_poll_s=0.5,
    )
    llm = FakeLLM(["LoRA was introduced by Hu et al. in 2021 [1]."], delay_s=0.01)
    base_url = live_server(create_app(settings, embedder=real_embedder, llm_factory=lambda: llm))
    with httpx.Client(base_url=base_url, timeout=60) as api:
        question_id = api.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()["id"]
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        sign_in(tab, base_url, TOKEN)
        tab.goto(f"{base_url}/admin/questions/{question_id}")
        draft = tab.locator("#curated-text")
        assert "Hu et al." in draft.input_value()  # the AI's answer to start from
        assert "models/lora.md" in tab.locator("#curated-pages").input_value()
        draft.fill(CURATED)
        tab.click("form[action^='/admin/questions/'][action*='/curated'] button[type=submit]")
        tab.wait_for_url(f"{base_url}/admin/questions/{question_id}*")
        assert "admin token" in tab.locator(".admin-question").inner_text()

        tab.goto(base_url + "/")
        tab.fill("#input-live-home", "Who was it that introduced LoRA?")
        tab.click("form.ask-form button[type=submit]")
        tab.locator("#live-home article.qa").wait_for(timeout=20_000)
        text = tab.locator("#live-home").inner_text()
        assert "Edward Hu" in text and "reviewed by an editor" in text.lower()
        assert tab.locator("#live-home .ai-notice").count() == 0
        tab.screenshot(path=str(screenshot_dir / "admin-curated-served.png"), full_page=True)
    finally:
        tab.close()
