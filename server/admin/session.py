"""Sessions and CSRF tokens of the admin web page (``/admin``).

Signing in exchanges an admin token for a session cookie: a random session id, the
token's name (the audit log's "who") and an expiry, signed with a key derived from the
admin tokens (changing a token signs everyone out; every replica with the same tokens
accepts the cookie). The
cookie is HttpOnly, SameSite=Strict, limited to ``/admin`` and Secure over https.

Every form carries a CSRF token. Forms of a session carry one bound to its id; the
sign-in form, before there is a session, uses a double-submit cookie. A post without the
right token is refused with 403 before anything else happens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response

from askwiki.settings import Settings

SESSION_COOKIE = "askwiki_admin"
LOGIN_COOKIE = "askwiki_admin_login"
COOKIE_PATH = "/admin"
SESSION_SECONDS = 8 * 3600
LOGIN_SECONDS = 3600
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class AdminSession:
    """A signed-in editor: who, until when, and the CSRF token of their forms."""

    session_id: str
    actor: str
    expires: int
    csrf: str


def _key(settings: Settings) -> bytes | None:
    tokens = settings.named_admin_tokens()
    if not tokens:
        return None
    secret = json.dumps(sorted(tokens.items())).encode("utf-8")
    return hmac.new(secret, b"askwiki admin web session v1", hashlib.sha256).digest()


def _sign(key: bytes, data: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode()


def _csrf_of(key: bytes, session_id: str) -> str:
    return _sign(key, b"csrf:" + session_id.encode())[:43]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(
    request: Request, response: Response, settings: Settings, actor: str, now: float | None = None
) -> AdminSession:
    """Sign ``actor`` in: set the session cookie on ``response``."""
    key = _key(settings)
    assert key is not None, "no admin token: nobody can sign in"
    session_id = secrets.token_urlsafe(18)
    expires = int((now or time.time()) + SESSION_SECONDS)
    payload = json.dumps({"sid": session_id, "actor": actor, "exp": expires}).encode()
    value = base64.urlsafe_b64encode(payload).decode() + "." + _sign(key, payload)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return AdminSession(session_id, actor, expires, _csrf_of(key, session_id))


def end_session(request: Request, response: Response) -> None:
    """Sign out: the browser forgets the cookie."""
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_secure(request)
    )


def current_session(
    request: Request, settings: Settings, now: float | None = None
) -> AdminSession | None:
    """The session the request's cookie proves, or None (absent, forged, expired)."""
    key = _key(settings)
    value = request.cookies.get(SESSION_COOKIE)
    if key is None or not value or "." not in value:
        return None
    encoded, signature = value.rsplit(".", 1)
    try:
        payload = base64.urlsafe_b64decode(encoded.encode())
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _sign(key, payload)):
        return None
    try:
        data = json.loads(payload)
        session_id, actor, expires = str(data["sid"]), str(data["actor"]), int(data["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires <= (now or time.time()):
        return None
    return AdminSession(session_id, actor, expires, _csrf_of(key, session_id))


def csrf_matches(session: AdminSession, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(session.csrf, given or "")


def login_csrf(request: Request) -> str:
    """The sign-in form's token: the browser's login cookie, or a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def set_login_csrf(request: Request, response: Response, token: str) -> None:
    """Set the sign-in form's token as a cookie too (double submit)."""
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def login_csrf_matches(request: Request, given: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_COOKIE)
    return bool(cookie) and bool(given) and hmac.compare_digest(cookie or "", given or "")
