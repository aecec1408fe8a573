from __future__ import annotations

import gzip
import json
import logging
import re

import pytest

from askwiki.server.i18n import STRINGS, widget_strings
from askwiki.server.routes.widget import WIDGET, WIDGET_TEXT_SLOT, etag_matches
from tests.unit.server.conftest import ClientFactory

HOST = "https://docs.example.com"
OTHER = "https://evil.example.net"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type,x-askwiki-session",
}


def served_widget() -> bytes:
    """widget.js as it must be served: the file with the strings table filled in."""
    body = WIDGET.read_bytes()
    assert body.count(WIDGET_TEXT_SLOT) == 1
    table = json.dumps(widget_strings(), ensure_ascii=False).encode("utf-8")
    return body.replace(WIDGET_TEXT_SLOT, table)


def test_widget_js_carries_the_pages_strings_table(make_client: ClientFactory) -> None:
    body = make_client().get("/widget.js").content.decode("utf-8")
    assert WIDGET_TEXT_SLOT.decode() not in body
    for language in ("zh", "en"):  # the AI notice is the pages' own, word for word
        assert STRINGS["ai_notice"][language] in body
        assert STRINGS["others_asking"][language] in body
    assert "Too many questions, retry in {seconds} s." in body


def test_widget_js_is_served_with_caching_headers(make_client: ClientFactory) -> None:
    response = make_client().get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert re.fullmatch(r'"[0-9a-f]{20}"', response.headers["etag"])
    assert "content-encoding" not in response.headers
    assert response.content == served_widget()


def test_widget_js_is_gzipped_when_accepted(make_client: ClientFactory) -> None:
    client = make_client()
    plain = client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    packed = client.get("/widget.js", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.content == served_widget()  # httpx decodes it
    assert packed.headers["etag"] != plain.headers["etag"]


@pytest.mark.parametrize("weak", ["", "W/"])
def test_widget_js_answers_304_to_its_etag(make_client: ClientFactory, weak: str) -> None:
    client = make_client()
    etag = client.get("/widget.js").headers["etag"]
    again = client.get("/widget.js", headers={"If-None-Match": f'"other", {weak}{etag}'})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=3600"


def test_widget_js_answers_200_to_a_stale_etag(make_client: ClientFactory) -> None:
    response = make_client().get("/widget.js", headers={"If-None-Match": '"stale"'})
    assert response.status_code == 200
    assert response.content == served_widget()


def test_widget_js_supports_head(make_client: ClientFactory) -> None:
    response = make_client().head("/widget.js")
    assert response.status_code == 200
    assert response.headers["etag"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("*", True),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ('"abcd"', False),
    ],
)
def test_etag_matches(header: str | None, expected: bool) -> None:
    assert etag_matches(header, ('"abc"', '"abc-gz"')) is expected


def test_widget_demo_page_embeds_the_script(make_client: ClientFactory) -> None:
    response = make_client().get("/widget/demo")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "../widget.js" in response.text


def test_widget_js_never_parses_strings_as_html() -> None:
    source = WIDGET.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, sink


def test_widget_js_gzipped_is_under_25_kb() -> None:
    size = len(gzip.compress(served_widget(), compresslevel=9))
    assert size < 25_000, size


def test_preflight_from_allowed_origin_is_accepted(make_client: ClientFactory) -> None:
    client = make_client(allowed_origins=f"{HOST}/, https://other.example.org")
    response = client.options("/api/ask", headers={"Origin": HOST, **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == HOST
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "content-type" in allowed and "x-askwiki-session" in allowed
    assert "access-control-allow-credentials" not in response.headers


def test_preflight_from_unlisted_origin_is_refused(make_client: ClientFactory) -> None:
    client = make_client(allowed_origins=HOST)
    response = client.options("/api/ask", headers={"Origin": OTHER, **PREFLIGHT})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_simple_request_gets_cors_headers_only_for_allowed_origin(
    make_client: ClientFactory,
) -> None:
    client = make_client(allowed_origins=HOST)
    question = {"question": "Who introduced LoRA?"}
    allowed = client.post("/api/ask", json=question, headers={"Origin": HOST})
    assert allowed.headers["access-control-allow-origin"] == HOST
    assert "retry-after" in allowed.headers["access-control-expose-headers"].lower()
    refused = client.post("/api/ask", json=question, headers={"Origin": OTHER})
    assert "access-control-allow-origin" not in refused.headers


def test_no_allowed_origins_means_no_cors_headers(make_client: ClientFactory) -> None:
    client = make_client()
    response = client.options("/api/ask", headers={"Origin": HOST, **PREFLIGHT})
    assert "access-control-allow-origin" not in response.headers


def test_star_allows_any_origin_without_credentials_and_warns(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="askwiki.server.cors"):
        client = make_client(allowed_origins="*")
    assert "ASKWIKI_ALLOWED_ORIGINS=*" in caplog.text
    preflight = client.options("/api/ask", headers={"Origin": OTHER, **PREFLIGHT})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", OTHER)
    assert "access-control-allow-credentials" not in preflight.headers
    simple = client.get("/api/health", headers={"Origin": OTHER})
    assert simple.headers["access-control-allow-origin"] == "*"


def test_origin_with_a_path_is_ignored_with_a_warning(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="askwiki.server.cors"):
        client = make_client(allowed_origins=f"{HOST}/blog")
    assert "scheme://host[:port]" in caplog.text
    response = client.options("/api/ask", headers={"Origin": HOST, **PREFLIGHT})
    assert "access-control-allow-origin" not in response.headers
