"""Retries of one request (the same ``X-Request-ID``) are one ask: answered and stored once.

Two apps over the same data folder stand in for two replicas behind nginx.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from askwiki.questions.store import QuestionRecord
from askwiki.testing.fake_llm import FakeLLM
from tests.unit.questions.conftest import Client
from tests.unit.questions.test_desk import LORA, sse_events

Ask = Callable[[TestClient, str, dict[str, str]], str]


def _json(c: TestClient, question: str, headers: dict[str, str]) -> str:
    response = c.post("/api/ask", json={"question": question}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _sse(c: TestClient, question: str, headers: dict[str, str]) -> str:
    body = c.post("/api/ask", json={"question": question, "stream": True}, headers=headers).text
    kind, done = sse_events(body)[-1]
    assert kind == "done", body
    return str(done["id"])


def _openai(c: TestClient, question: str, headers: dict[str, str]) -> str:
    payload = {"messages": [{"role": "user", "content": question}]}
    return str(
        c.post("/v1/chat/completions", json=payload, headers=headers).json()["askwiki"]["answer_id"]
    )


def _openai_stream(c: TestClient, question: str, headers: dict[str, str]) -> str:
    payload = {"messages": [{"role": "user", "content": question}], "stream": True}
    body = c.post("/v1/chat/completions", json=payload, headers=headers).text
    final = json.loads([line for line in body.splitlines() if line.startswith("data: {")][-1][6:])
    return str(final["askwiki"]["answer_id"])


def _form(c: TestClient, question: str, headers: dict[str, str]) -> str:
    response = c.post("/ask", data={"question": question}, headers=headers, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/")[2]


ENDPOINTS: dict[str, Ask] = {
    "json": _json,
    "sse": _sse,
    "openai": _openai,
    "openai-stream": _openai_stream,
    "form": _form,
}


def stored(tmp_path: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(tmp_path / "data" / "questions.sqlite") as conn:
        return conn.execute("SELECT id, status, request_id FROM questions ORDER BY seq").fetchall()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_retry_on_another_replica_gets_the_stored_answer_and_stores_nothing(
    client: Client, tmp_path: Path, endpoint: str
) -> None:
    first_llm, second_llm = FakeLLM([LORA]), FakeLLM(["Another answer [1]."])
    first, second = client(first_llm), client(second_llm)
    ask = ENDPOINTS[endpoint]
    headers = {"X-Request-ID": "0f3c9a"}

    answered = ask(first, "Who introduced LoRA?", headers)
    retried = ask(second, "Who introduced LoRA?", headers)

    assert retried == answered
    assert stored(tmp_path) == [(answered, "answered", "0f3c9a")]
    assert len(first_llm.calls) == 1 and second_llm.calls == []
    assert second.get(f"/api/questions/{retried}").json()["answer"].startswith("LoRA was")


def test_asks_without_a_request_id_are_each_stored(client: Client, tmp_path: Path) -> None:
    c = client(FakeLLM([LORA]))
    ids = [_json(c, "Who introduced LoRA?", {}) for _ in range(2)]

    assert ids[0] != ids[1]
    assert [(status, rid) for _, status, rid in stored(tmp_path)] == [
        ("answered", None),
        ("answered", None),  # the cached repeat, logged as its own ask
    ]


def test_of_two_attempts_answering_at_once_only_the_first_stored_is_kept(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = client(FakeLLM([LORA])), client(FakeLLM(["Another answer [1]."]))
    answered = _json(first, "Who introduced LoRA?", {"X-Request-ID": "r1"})

    # The second attempt looked before the first had stored its answer.
    def not_stored_yet(_request_id: str) -> QuestionRecord | None:
        return None

    monkeypatch.setattr(second.app.state.answers.store, "find_request", not_stored_yet)

    late = second.post(
        "/api/ask", json={"question": "Who introduced LoRA?"}, headers={"X-Request-ID": "r1"}
    ).json()

    assert late["id"] == answered and late["answer"] == LORA
    assert stored(tmp_path) == [(answered, "answered", "r1")]


def test_a_request_id_reused_for_another_question_does_not_return_the_first_answer(
    client: Client, tmp_path: Path
) -> None:
    c = client(FakeLLM([LORA, "BM25 ranks by term frequency [1]."]))
    first = _json(c, "Who introduced LoRA?", {"X-Request-ID": "r1"})
    other = c.post("/api/ask", json={"question": "What is BM25?"}, headers={"X-Request-ID": "r1"})

    assert other.json()["question"] == "What is BM25?" and other.json()["id"] != first
    assert [rid for _, _, rid in stored(tmp_path)] == ["r1", None]


def test_a_failed_attempt_does_not_hold_the_id_its_successful_retry_needs(
    client: Client, tmp_path: Path
) -> None:
    down = client(FakeLLM(fail_with="connection refused", healthy=False))
    up = client(FakeLLM([LORA]))
    headers = {"X-Request-ID": "r1"}

    assert down.post("/api/ask", json={"question": "LoRA?"}, headers=headers).status_code == 503
    answered = _json(up, "LoRA?", headers)
    again = _json(down, "LoRA?", headers)  # a late retry on the broken replica

    assert again == answered
    assert [(status, rid) for _, status, rid in stored(tmp_path)] == [
        ("failed", None),
        ("answered", "r1"),
    ]


@pytest.mark.parametrize("bad", ["", "x" * 129, "id with spaces", "a/b"])
def test_a_malformed_request_id_is_refused_with_the_header_named(
    client: Client, tmp_path: Path, bad: str
) -> None:
    c = client(FakeLLM([LORA]))
    response = c.post("/api/ask", json={"question": "LoRA?"}, headers={"X-Request-ID": bad})

    assert response.status_code == 422
    assert "X-Request-ID" in response.text
    assert not (tmp_path / "data" / "questions.sqlite").exists() or stored(tmp_path) == []
