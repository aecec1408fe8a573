"""The editors' page ``/admin``: sign-in, session cookie, CSRF, and what editors can do."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from askwiki.server.admin.session import SESSION_COOKIE
from askwiki.server.ratelimit import SIGN_IN_BUDGET
from tests.support.admin import AUTH, TOKEN, wait_job
from tests.unit.server.conftest import ClientFactory

PHONE_QUESTION = "Who introduced LoRA? Call 13812345678"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, token: str = TOKEN) -> TestClient:
    login = client.get("/admin")
    response = client.post(
        "/admin/login", data={"token": token, "csrf": csrf_of(login.text)}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client


def ask(client: TestClient, question: str = PHONE_QUESTION) -> str:
    return str(client.post("/api/ask", json={"question": question}).json()["id"])


def test_right_token_signs_in_with_a_strict_httponly_cookie(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    login = client.get("/admin")
    assert login.status_code == 200 and 'type="password"' in login.text

    response = client.post(
        "/admin/login", data={"token": TOKEN, "csrf": csrf_of(login.text)}, follow_redirects=False
    )

    assert response.status_code == 303 and response.headers["location"] == "/admin"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get it
    page = client.get("/admin")
    assert 'action="/admin/logout"' in page.text and page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("token", ["wrong", "", TOKEN + "x", TOKEN[:-1]])
def test_wrong_token_is_refused_without_a_session(make_client: ClientFactory, token: str) -> None:
    client = make_client(admin_token=TOKEN)
    login = client.get("/admin")

    response = client.post("/admin/login", data={"token": token, "csrf": csrf_of(login.text)})

    assert response.status_code == 401 and "That token is not right." in response.text
    assert SESSION_COOKIE not in response.cookies
    assert 'type="password"' in client.get("/admin").text


@pytest.mark.parametrize("public_limit", [30, 0])
def test_guessing_tokens_is_rate_limited_even_with_public_limits_off(
    make_client: ClientFactory, public_limit: int
) -> None:
    client = make_client(
        admin_token=TOKEN, rate_limit_per_minute=public_limit, session_rate_limit_per_minute=0
    )
    csrf = csrf_of(client.get("/admin").text)
    statuses = [
        client.post("/admin/login", data={"token": f"guess{n}", "csrf": csrf}).status_code
        for n in range(SIGN_IN_BUDGET.limit)
    ]

    blocked = client.post(
        "/admin/login", data={"token": TOKEN, "csrf": csrf}, headers={"Accept": "text/html"}
    )

    assert statuses == [401] * SIGN_IN_BUDGET.limit
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 60
    assert "Too many sign-in attempts" in blocked.text and SESSION_COOKIE not in blocked.cookies
    assert client.post("/api/ask", json={"question": "Who introduced LoRA?"}).status_code == 200


def test_sign_in_without_the_login_csrf_token_is_403(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    client.get("/admin")
    response = client.post("/admin/login", data={"token": TOKEN, "csrf": "forged"})
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies


def test_a_form_post_without_the_csrf_token_is_403_and_changes_nothing(
    make_client: ClientFactory,
) -> None:
    client = sign_in(make_client(admin_token=TOKEN))
    question_id = ask(client)

    for data in ({}, {"csrf": "forged"}):
        response = client.post(
            f"/admin/questions/{question_id}/hidden", data={**data, "hidden": "1"}
        )
        assert response.status_code == 403
    assert not client.app.state.questions.get(question_id).hidden  # type: ignore[attr-defined]


def test_a_form_post_without_a_session_is_403(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    question_id = ask(client)
    signed_in = sign_in(make_client(admin_token=TOKEN))
    csrf = csrf_of(signed_in.get("/admin").text)
    response = client.post(f"/admin/questions/{question_id}/delete", data={"csrf": csrf})
    assert response.status_code == 403


def test_a_forged_or_tampered_cookie_is_no_session(make_client: ClientFactory) -> None:
    value = sign_in(make_client(admin_token=TOKEN)).cookies.get(SESSION_COOKIE, path="/admin")
    assert value
    payload, signature = value.rsplit(".", 1)
    fresh = make_client(admin_token=TOKEN)
    rotated = make_client(admin_token=TOKEN + "-rotated")

    def page(client: TestClient, cookie: str) -> str:
        return client.get("/admin", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}).text

    assert 'action="/admin/logout"' in page(fresh, value)  # the same token: valid anywhere
    assert 'type="password"' in page(fresh, payload + "." + signature[::-1])
    assert 'type="password"' in page(fresh, "e30." + signature)  # another payload
    assert 'type="password"' in page(rotated, value)  # worthless once the token changes


def test_sign_out_ends_the_session(make_client: ClientFactory) -> None:
    client = sign_in(make_client(admin_token=TOKEN))
    csrf = csrf_of(client.get("/admin").text)
    response = client.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert 'type="password"' in client.get("/admin").text


def test_sign_out_also_ends_copies_of_the_cookie_on_other_replicas(
    make_client: ClientFactory,
) -> None:
    client = sign_in(make_client(admin_token=TOKEN))
    value = client.cookies.get(SESSION_COOKIE, path="/admin")
    other_replica = make_client(admin_token=TOKEN)  # same question log, same tokens

    def page(cookie: str | None) -> str:
        return other_replica.get("/admin", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}).text

    assert 'action="/admin/logout"' in page(value)
    client.post("/admin/logout", data={"csrf": csrf_of(client.get("/admin").text)})

    assert 'type="password"' in page(value)
    assert 'action="/admin/logout"' in sign_in(client).get("/admin").text  # a new session works


def test_admin_page_is_off_without_a_token(make_client: ClientFactory) -> None:
    response = make_client().get("/admin")
    assert response.status_code == 403 and "ASKWIKI_ADMIN_TOKEN" in response.text


def test_editors_see_questions_as_asked_hide_them_and_the_audit_says_who(
    make_client: ClientFactory,
) -> None:
    client = sign_in(make_client(admin_token=TOKEN))
    question_id = ask(client)
    listing = client.get("/admin")
    assert PHONE_QUESTION in listing.text  # unmasked for editors

    response = client.post(
        f"/admin/questions/{question_id}/hidden",
        data={"csrf": csrf_of(listing.text), "hidden": "1"},
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert client.get(f"/q/{question_id}").status_code in (404, 410)
    hidden_only = client.get("/admin", params={"hidden": "1"}).text
    assert PHONE_QUESTION in hidden_only
    assert PHONE_QUESTION not in client.get("/admin", params={"hidden": "0"}).text
    audit = client.get("/admin/audit").text
    assert "admin token" in audit and "hide" in audit and question_id in audit


def test_curating_from_the_form_serves_the_reviewed_answer(make_client: ClientFactory) -> None:
    client = sign_in(make_client(admin_token=TOKEN))
    question_id = ask(client, "Who introduced LoRA?")
    page = client.get(f"/admin/questions/{question_id}")
    assert "LoRA was introduced by Hu et al." in page.text  # the draft starts from the AI's
    assert "models/lora.md" in page.text  # and its sources

    response = client.post(
        f"/admin/questions/{question_id}/curated",
        data={
            "csrf": csrf_of(page.text),
            "answer": "LoRA was introduced by Edward Hu and colleagues in 2021 [1].",
            "pages": "models/lora.md",
        },
        follow_redirects=False,
    )

    assert response.status_code == 303
    curated = client.app.state.questions.get(question_id).curated  # type: ignore[attr-defined]
    assert curated is not None and curated.reviewed_by == "admin token"
    again = client.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
    assert "Edward Hu" in again["answer"]


def test_curating_with_an_unknown_page_says_which(make_client: ClientFactory) -> None:
    client = sign_in(make_client(admin_token=TOKEN))
    question_id = ask(client, "Who introduced LoRA?")
    page = client.get(f"/admin/questions/{question_id}")
    response = client.post(
        f"/admin/questions/{question_id}/curated",
        data={"csrf": csrf_of(page.text), "answer": "Text [1].", "pages": "no/such/page.md"},
    )
    assert response.status_code == 422 and "no/such/page.md" in response.text


def test_removing_a_curated_answer_then_deleting_the_question_from_the_forms(
    make_client: ClientFactory,
) -> None:
    client = sign_in(make_client(admin_token=TOKEN))
    question_id = ask(client, "Who introduced LoRA?")
    csrf = csrf_of(client.get(f"/admin/questions/{question_id}").text)
    client.post(
        f"/admin/questions/{question_id}/curated",
        data={"csrf": csrf, "answer": "Edward Hu [1].", "pages": "models/lora.md"},
    )

    removed = client.post(
        f"/admin/questions/{question_id}/curated/delete",
        data={"csrf": csrf},
        follow_redirects=False,
    )
    deleted = client.post(
        f"/admin/questions/{question_id}/delete", data={"csrf": csrf}, follow_redirects=False
    )

    assert removed.status_code == 303 and removed.headers["location"].endswith(question_id)
    assert deleted.status_code == 303 and deleted.headers["location"] == "/admin"
    assert client.get(f"/q/{question_id}").status_code in (404, 410)
    audit = client.get("/admin/audit").text
    assert "uncurate" in audit and "delete" in audit


@pytest.mark.parametrize("action", ["hidden", "delete", "curated/delete"])
def test_a_form_post_about_an_unknown_question_is_404(
    make_client: ClientFactory, action: str
) -> None:
    client = sign_in(make_client(admin_token=TOKEN))
    csrf = csrf_of(client.get("/admin").text)
    response = client.post(f"/admin/questions/no-such-id/{action}", data={"csrf": csrf})
    assert response.status_code == 404


def test_admin_gaps_link_the_asked_question_to_its_curated_answer_form(
    make_client: ClientFactory,
) -> None:
    client = sign_in(make_client(admin_token=TOKEN, min_dense_score=0.999))
    ids = [ask(client, q) for q in ["How do I bake bread?", "how do I bake bread"]]

    html = client.get("/admin/gaps").text

    # One gap and one example per wording: both asks are the same question.
    assert html.count('class="panel gap"') == 1 and "Asked: 2" in html
    assert "no page: 2" in html and "Nearest page:" in html
    assert any(f'href="/admin/questions/{i}#curate"' in html for i in ids)


def test_upload_from_the_documents_page_runs_an_ingest_job(make_client: ClientFactory) -> None:
    client = sign_in(make_client(admin_token=TOKEN))
    page = client.get("/admin/documents")
    assert "models/lora.md" in page.text
    csrf = csrf_of(page.text)
    files = {"files": ("quokka.md", b"# Quokka\n\nQuokkas live on Rottnest Island.\n")}

    refused = client.post("/admin/documents", files=files)
    response = client.post(f"/admin/documents?csrf={csrf}", files=files, follow_redirects=False)

    assert refused.status_code == 403
    assert response.status_code == 303
    jobs = client.get("/api/admin/jobs", headers=AUTH).json()["items"]
    assert wait_job(client, jobs[0]["id"])["status"] == "succeeded"
    assert "quokka.md" in client.get("/admin/documents").text


def test_admin_pages_speak_chinese(make_client: ClientFactory) -> None:
    client = sign_in(make_client(admin_token=TOKEN))
    assert "退出" in client.get("/admin", params={"lang": "zh"}).text
    assert "登录" in make_client(admin_token=TOKEN).get("/admin?lang=zh").text


def test_a_session_expires_after_its_hours() -> None:
    from starlette.requests import Request
    from starlette.responses import Response

    from askwiki.server.admin.session import SESSION_SECONDS, current_session, start_session
    from askwiki.settings import Settings

    settings = Settings(_env_file=None, admin_token=TOKEN)  # type: ignore[call-arg]
    scope = {"type": "http", "scheme": "https", "server": ("x", 443), "path": "/admin",
             "headers": []}  # fmt: skip
    response = Response()
    session = start_session(Request(scope), response, settings, "admin token", now=1000.0)
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie  # served over https
    value = cookie.split(";")[0].split("=", 1)[1]
    signed_in = Request({**scope, "headers": [(b"cookie", f"askwiki_admin={value}".encode())]})

    assert current_session(signed_in, settings, now=1000.0 + SESSION_SECONDS - 1) == session
    assert current_session(signed_in, settings, now=1000.0 + SESSION_SECONDS) is None
