from __future__ import annotations

import threading

import pytest

from askwiki.server.ratelimit import Budget, RateLimiter, client_ip
from tests.unit.server.conftest import ClientFactory

QUESTION = {"question": "Who introduced LoRA?"}
PER_MINUTE = Budget("ask", 3)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_allows_limit_then_answers_wait_until_oldest_expires() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(3):
        assert limiter.acquire([(PER_MINUTE, "1.2.3.4")]) == 0
        clock.now += 10
    assert limiter.acquire([(PER_MINUTE, "1.2.3.4")]) == pytest.approx(30)
    assert limiter.acquire([(PER_MINUTE, "5.6.7.8")]) == 0
    clock.now += 30
    assert limiter.acquire([(PER_MINUTE, "1.2.3.4")]) == 0


def test_rejected_requests_do_not_count() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(3):
        limiter.acquire([(PER_MINUTE, "ip")])
    for _ in range(10):
        assert limiter.acquire([(PER_MINUTE, "ip")]) > 0
    clock.now += 60
    assert limiter.acquire([(PER_MINUTE, "ip")]) == 0


def test_request_counts_against_no_budget_when_one_refuses() -> None:
    limiter = RateLimiter(clock=Clock())
    session = Budget("session", 1)
    assert limiter.acquire([(PER_MINUTE, "ip"), (session, "s1")]) == 0
    assert limiter.acquire([(PER_MINUTE, "ip"), (session, "s1")]) > 0
    # The refused request above did not use the IP budget: two more fit.
    assert limiter.acquire([(PER_MINUTE, "ip"), (session, "s2")]) == 0
    assert limiter.acquire([(PER_MINUTE, "ip"), (session, "s3")]) == 0
    assert limiter.acquire([(PER_MINUTE, "ip"), (session, "s4")]) > 0


def test_limiter_evicts_idle_keys() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for n in range(100):
        limiter.acquire([(PER_MINUTE, f"10.0.0.{n}")])
    assert len(limiter) == 100
    clock.now += 61
    limiter.acquire([(PER_MINUTE, "10.0.1.1")])
    assert len(limiter) == 1


def test_limiter_caps_the_number_of_keys() -> None:
    limiter = RateLimiter(max_keys=50, clock=Clock())
    for n in range(500):
        limiter.acquire([(PER_MINUTE, f"key-{n}")])
    assert len(limiter) == 50


def test_limiter_is_thread_safe() -> None:
    limiter = RateLimiter()
    budget = Budget("ask", 100)
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(50):
            ok = limiter.acquire([(budget, "ip")]) == 0
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 400
    assert sum(allowed) == 100


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),
        (1, None, "10.0.0.1"),
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (3, "203.0.113.9", "203.0.113.9"),
    ],
)
def test_client_ip_trusts_forwarded_for_only_for_configured_hops(
    hops: int, forwarded: str | None, expected: str
) -> None:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope = {"type": "http", "client": ("10.0.0.1", 5555), "headers": headers}
    assert client_ip(scope, hops) == expected


def test_ask_answers_429_with_retry_after_after_limit_per_ip(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_per_minute=2)
    for n in range(2):
        # Different sessions and forged X-Forwarded-For do not escape the per-IP limit.
        headers = {"X-Askwiki-Session": f"session-{n:04d}", "X-Forwarded-For": f"6.6.6.{n}"}
        assert client.post("/api/ask", json=QUESTION, headers=headers).status_code == 200
    response = client.post("/api/ask", json=QUESTION, headers={"X-Forwarded-For": "7.7.7.7"})
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "rate_limited"
    assert 1 <= body["retry_after"] <= 60
    assert response.headers["retry-after"] == str(body["retry_after"])
    assert "retry in" in body["detail"]


def test_ask_answers_429_after_limit_per_session(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_per_minute=100, session_rate_limit_per_minute=2)
    mine = {"X-Askwiki-Session": "a" * 32}
    for _ in range(2):
        assert client.post("/api/ask", json=QUESTION, headers=mine).status_code == 200
    refused = client.post("/api/ask", json=QUESTION, headers=mine)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    other = {"X-Askwiki-Session": "b" * 32}
    assert client.post("/api/ask", json=QUESTION, headers=other).status_code == 200


def test_openai_endpoint_shares_the_ask_budget(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_per_minute=1)
    assert client.post("/api/ask", json=QUESTION).status_code == 200
    chat = {"model": "askwiki", "messages": [{"role": "user", "content": "What is LoRA?"}]}
    assert client.post("/v1/chat/completions", json=chat).status_code == 429


def test_search_has_a_larger_budget(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_per_minute=1)
    codes = [client.get("/api/search", params={"q": "LoRA"}).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    assert client.get("/api/health").status_code == 200


def test_zero_turns_the_limit_off(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_per_minute=0, session_rate_limit_per_minute=0)
    codes = {client.get("/api/search", params={"q": "LoRA"}).status_code for _ in range(50)}
    assert codes == {200}


def test_rate_limited_response_carries_cors_headers(make_client: ClientFactory) -> None:
    origin = "https://docs.example.com"
    client = make_client(rate_limit_per_minute=1, allowed_origins=origin)
    client.post("/api/ask", json=QUESTION, headers={"Origin": origin})
    response = client.post("/api/ask", json=QUESTION, headers={"Origin": origin})
    assert response.status_code == 429
    assert response.headers["access-control-allow-origin"] == origin
    assert "retry-after" in response.headers["access-control-expose-headers"].lower()


def test_preflight_is_not_counted(make_client: ClientFactory) -> None:
    origin = "https://docs.example.com"
    client = make_client(rate_limit_per_minute=1, allowed_origins=origin)
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    for _ in range(5):
        assert client.options("/api/ask", headers=preflight).status_code == 200
    assert client.post("/api/ask", json=QUESTION).status_code == 200


def test_streamed_answer_passes_through_the_limiter(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_per_minute=5)
    response = client.post("/api/ask", json={**QUESTION, "stream": True})
    assert response.status_code == 200
    assert "event: done" in response.text


def test_html_ask_form_and_link_share_the_ask_budget(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_per_minute=2)
    form = client.post("/ask", data={"question": "Who introduced LoRA?"}, follow_redirects=False)
    link = client.get("/ask", params={"q": "What is BM25?"}, follow_redirects=False)
    assert form.status_code < 400 and link.status_code < 400
    refused = client.get("/ask", params={"q": "What is LoRA?"}, headers={"Accept": "text/html"})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert "retry in" in refused.text and refused.headers["retry-after"]
    assert client.post("/api/ask", json=QUESTION).status_code == 429
