"""/metrics: Prometheus text, only with the admin token."""

from __future__ import annotations

from askwiki.testing.fake_llm import FakeLLM
from tests.unit.server.conftest import ClientFactory

TOKEN = "m" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_metrics_need_the_admin_token(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert make_client().get("/metrics", headers=AUTH).status_code == 403


def test_metrics_count_requests_answers_cache_hits_refusals_and_the_version(
    make_client: ClientFactory,
) -> None:
    client = make_client(admin_token=TOKEN, rate_limit_per_minute=2)
    for _ in range(3):
        client.post("/api/ask", json={"question": "Who introduced LoRA?"})
    client.get("/q/nothere-x")

    text = client.get("/metrics", headers=AUTH).text

    assert 'askwiki_http_requests_total{route="/api/ask",status="200"} 2.0' in text
    assert 'askwiki_http_requests_total{route="/api/ask",status="429"} 1.0' in text
    assert 'askwiki_answers_total{cached="no",status="answered"} 1.0' in text
    assert 'askwiki_answers_total{cached="yes",status="answered"} 1.0' in text
    assert 'askwiki_rate_limited_total{budget="ip-ask"} 1.0' in text
    assert "askwiki_retrieval_seconds_count 1.0" in text
    assert "askwiki_time_to_first_token_seconds_count 1.0" in text
    assert 'askwiki_index_version_info{index="default",version="' in text


def test_llm_errors_are_counted(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN, llm=FakeLLM(fail_with="down"))

    assert client.post("/api/ask", json={"question": "Who introduced LoRA?"}).status_code == 503

    assert "askwiki_llm_errors_total 1.0" in client.get("/metrics", headers=AUTH).text
