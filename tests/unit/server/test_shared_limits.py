"""Rate limits shared through a real Redis by several app instances (replicas)."""

from __future__ import annotations

import logging
import time

import pytest

from tests.support.services import RedisServer
from tests.unit.server.conftest import ClientFactory

QUESTION = {"question": "Who introduced LoRA?"}
TOKEN = "t" * 32

pytestmark = pytest.mark.integration


def _replicas(make_client: ClientFactory, redis: RedisServer, n: int, **settings: object) -> list:  # type: ignore[type-arg]
    return [
        make_client(
            redis_url=redis.url,
            rate_limit_per_minute=20,
            session_rate_limit_per_minute=0,
            admin_token=TOKEN,
            **settings,
        )
        for _ in range(n)
    ]


def test_a_per_ip_limit_holds_exactly_across_three_replicas(
    make_client: ClientFactory, redis_server: RedisServer
) -> None:
    replicas = _replicas(make_client, redis_server, 3)

    statuses = [replicas[n % 3].post("/api/ask", json=QUESTION).status_code for n in range(33)]

    assert statuses.count(200) == 20 and statuses.count(429) == 13
    assert statuses[:20] == [200] * 20
    refused = replicas[2].post("/api/ask", json=QUESTION)
    assert 1 <= int(refused.headers["retry-after"]) <= 60


@pytest.mark.parametrize(("fail", "status"), [("open", 200), ("closed", 503)])
def test_redis_down_serves_or_refuses_per_setting_and_never_hangs(
    make_client: ClientFactory,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    fail: str,
    status: int,
) -> None:
    (replica,) = _replicas(make_client, redis_server, 1, rate_limit_fail=fail)
    assert replica.post("/api/ask", json=QUESTION).status_code == 200
    redis_server.stop()

    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        responses = [replica.post("/api/ask", json=QUESTION) for _ in range(3)]
    elapsed = time.monotonic() - started

    assert [r.status_code for r in responses] == [status] * 3
    assert elapsed < 10
    assert "Rate limits unavailable" in caplog.text
    metrics = replica.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    outcome = "served" if fail == "open" else "refused"
    assert f'askwiki_rate_limit_backend_errors_total{{outcome="{outcome}"}} 3.0' in metrics


def test_limits_come_back_when_redis_restarts(
    make_client: ClientFactory, redis_server: RedisServer
) -> None:
    (replica,) = _replicas(make_client, redis_server, 1)
    redis_server.stop()
    assert replica.post("/api/ask", json=QUESTION).status_code == 200  # served, fail open
    redis_server.start()  # empty: Redis here keeps nothing on disk

    statuses = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and 429 not in statuses:
        statuses.append(replica.post("/api/ask", json=QUESTION).status_code)

    assert 429 in statuses and statuses.count(200) >= 20
