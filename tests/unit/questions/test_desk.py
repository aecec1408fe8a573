"""The answer cache and the question log behind every endpoint (TestClient, fakes)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from pathlib import Path

import pytest

from askwiki.embedding.embedder import Embedder
from askwiki.questions.desk import CLOSED_EARLY
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index, page
from tests.unit.questions.conftest import Client, SteeredModel, unit

LORA = "LoRA was introduced by Hu et al. in 2021 [1]."


def stored_rows(tmp_path: Path) -> list[tuple[str, str, str | None, str | None]]:
    with sqlite3.connect(tmp_path / "data" / "questions.sqlite") as conn:
        return conn.execute(
            "SELECT question, status, error, cached_from FROM questions ORDER BY asked_at, rowid"
        ).fetchall()


def sse_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_every_endpoint_stores_its_answer(client: Client) -> None:
    c = client(FakeLLM([LORA]))
    asked = {
        "json": c.post("/api/ask", json={"question": "Q one?"}).json()["id"],
        "sse": sse_events(c.post("/api/ask", json={"question": "Q two?", "stream": True}).text)[-1][
            1
        ]["id"],
        "openai": c.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "Q three?"}]}
        ).json()["askwiki"]["answer_id"],
    }
    streamed = c.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Q four?"}], "stream": True},
    ).text
    final = json.loads(
        [line for line in streamed.splitlines() if line.startswith("data: {")][-1][6:]
    )
    asked["openai-stream"] = final["askwiki"]["answer_id"]

    for kind, answer_id in asked.items():
        stored = c.get(f"/api/questions/{answer_id}").json()
        assert stored["status"] == "answered", kind
        assert stored["answer"].startswith("LoRA was introduced"), kind
        assert stored["sources"] and stored["model"] == "fake:fake-llm", kind


def test_normalised_repeat_returns_cached_answer_with_its_date(client: Client) -> None:
    llm = FakeLLM([LORA, "A second, different answer [1]."])
    c = client(llm)
    first = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
    time.sleep(1.1)  # so the repeat's own ask time differs from the answer's date
    repeat = c.post("/api/ask", json={"question": "  who introduced LoRA"}).json()

    assert first["cached"] is False and first["cached_from"] is None
    assert repeat["cached"] is True and repeat["cached_from"] == first["id"]
    assert repeat["id"] != first["id"] and repeat["question"] == "  who introduced LoRA".strip()
    assert repeat["answer"] == first["answer"] and repeat["created_at"] == first["created_at"]
    assert repeat["sources"] == first["sources"]
    assert len(llm.calls) == 1
    page = c.get(f"/api/questions/{repeat['id']}").json()
    assert page["cached_from"] == first["id"] and page["asked_at"] > page["created_at"]


def test_near_duplicate_by_embedding_returns_cached_answer(
    client: Client, steered: SteeredModel
) -> None:
    steered.steer["How does LoRA work?"] = unit(1, 0)
    steered.steer["Explain how LoRA works"] = unit(1, 0.1)  # cosine 0.995
    steered.steer["How does LoRA work with BM25?"] = unit(1, 1)  # cosine 0.71
    llm = FakeLLM([LORA])
    c = client(llm, cache_similarity=0.95)

    first = c.post("/api/ask", json={"question": "How does LoRA work?"}).json()
    near = c.post("/api/ask", json={"question": "Explain how LoRA works"}).json()
    far = c.post("/api/ask", json={"question": "How does LoRA work with BM25?"}).json()

    assert near["cached"] is True and near["cached_from"] == first["id"]
    assert far["cached"] is False
    assert len(llm.calls) == 2


def test_similar_embedding_of_another_question_is_not_served(
    client: Client, steered: SteeredModel
) -> None:
    # Real multilingual-e5-small scores: 0.97 for these two, 0.98 for the Chinese pair.
    steered.steer["Who introduced LoRA?"] = unit(1, 0)
    steered.steer["What is LoRA?"] = unit(1, 0.2)
    steered.steer["知识蒸馏是谁提出的？"] = unit(0, 1)
    steered.steer["什么是知识蒸馏？"] = unit(0.15, 1)
    c = client(cache_similarity=0.95)
    for first, second in [
        ("Who introduced LoRA?", "What is LoRA?"),
        ("知识蒸馏是谁提出的？", "什么是知识蒸馏？"),
    ]:
        c.post("/api/ask", json={"question": first})
        assert c.post("/api/ask", json={"question": second}).json()["cached"] is False


def test_near_duplicate_in_the_other_language_is_not_served(
    client: Client, steered: SteeredModel
) -> None:
    steered.steer["What is knowledge distillation?"] = unit(1, 0)
    steered.steer["什么是知识蒸馏？"] = unit(1, 0)
    c = client()
    c.post("/api/ask", json={"question": "What is knowledge distillation?"})
    assert c.post("/api/ask", json={"question": "什么是知识蒸馏？"}).json()["cached"] is False


def test_cached_answer_streams_sources_text_and_done(client: Client) -> None:
    c = client()
    first = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
    events = sse_events(
        c.post("/api/ask", json={"question": "who introduced lora", "stream": True}).text
    )

    assert [kind for kind, _ in events] == ["sources", "token", "done"]
    assert events[1][1]["text"] == first["answer"]
    assert events[2][1]["cached"] is True and events[2][1]["cached_from"] == first["id"]


@pytest.mark.parametrize(
    "second",
    [
        {"question": "Who introduced LoRA?", "fresh": True},
        {
            "question": "Who introduced LoRA?",
            "history": [
                {"role": "user", "content": "Tell me about fine-tuning"},
                {"role": "assistant", "content": "Sure."},
            ],
        },
    ],
    ids=["fresh", "follow-up"],
)
def test_fresh_and_follow_ups_bypass_the_cache(client: Client, second: dict) -> None:
    llm = FakeLLM(["Who introduced LoRA?", LORA])
    c = client(llm)
    c.post("/api/ask", json={"question": "Who introduced LoRA?"})
    again = c.post("/api/ask", json=second).json()

    assert again["cached"] is False and again["cached_from"] is None
    assert len(llm.calls) >= 2


def test_new_index_version_invalidates_the_cache(
    client: Client, steered: SteeredModel, tmp_path: Path
) -> None:
    llm = FakeLLM([LORA])
    c = client(llm)
    before = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
    pages = [*WIKI_PAGES, page("new.md", "Quokka", "Quokkas live on Rottnest Island.")]
    version = build_index(
        tmp_path / "indexes" / "default", pages, Embedder("fake-embedding", steered)
    )
    deadline = time.monotonic() + 5
    while c.get("/api/ready").json()["index"].get("version") != version:
        assert time.monotonic() < deadline, "new version not picked up"
        time.sleep(0.1)

    after = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
    again = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()

    assert before["index_version"] != version
    assert after["cached"] is False and after["index_version"] == version
    assert again["cached"] is True and again["cached_from"] == after["id"]
    assert len(llm.calls) == 2


def test_llm_down_stores_failed_ask_before_the_503(client: Client, tmp_path: Path) -> None:
    c = client(FakeLLM(fail_with="connection refused at 127.0.0.1:9", healthy=False))
    for payload in ({"question": "What is LoRA?"}, {"question": "Rank?", "stream": True}):
        assert c.post("/api/ask", json=payload).status_code == 503
    assert (
        c.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "BM25?"}]}
        ).status_code
        == 503
    )

    rows = stored_rows(tmp_path)
    assert [(q, s) for q, s, _, _ in rows] == [
        ("What is LoRA?", "failed"),
        ("Rank?", "failed"),
        ("BM25?", "failed"),
    ]
    assert all("unavailable" in (error or "") for _, _, error, _ in rows)


def test_llm_failing_mid_stream_stores_failed_not_half_an_answer(
    client: Client, tmp_path: Path
) -> None:
    c = client(FakeLLM([LORA], fail_with="model crashed", fail_after=2))
    events = sse_events(c.post("/api/ask", json={"question": "LoRA?", "stream": True}).text)

    assert events[-1][0] == "error"
    with sqlite3.connect(tmp_path / "data" / "questions.sqlite") as conn:
        status, error, answer, sources = conn.execute(
            "SELECT status, error, answer,"
            " (SELECT COUNT(*) FROM sources WHERE question_id = questions.id) FROM questions"
        ).fetchone()
    assert (status, error, answer) == ("failed", "model crashed", "")
    assert sources == len(events[0][1]["sources"])


def test_stream_closed_before_the_end_is_stored_as_failed(client: Client, tmp_path: Path) -> None:
    c = client(FakeLLM([LORA]))
    events = c.app.state.answers.stream("Who introduced LoRA?")
    assert next(events).kind == "sources"
    events.close()

    assert stored_rows(tmp_path) == [("Who introduced LoRA?", "failed", CLOSED_EARLY, None)]


def test_related_questions_are_others_with_dates_snippets_and_urls(client: Client) -> None:
    c = client(FakeLLM([LORA]))
    first = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
    c.post("/api/ask", json={"question": "who introduced lora?"})  # a cached repeat
    second = c.post("/api/ask", json={"question": "What is BM25?"}).json()
    done = sse_events(
        c.post("/api/ask", json={"question": "什么是知识蒸馏？", "stream": True}).text
    )[-1][1]

    assert first["related"] == []
    assert [r["id"] for r in second["related"]] == [first["id"]]
    related = {r["question"]: r for r in done["related"]}
    assert set(related) == {"Who introduced LoRA?", "What is BM25?"}
    for item in done["related"]:
        assert set(item) == {"id", "question", "asked_at", "answer_snippet", "url"}
        assert item["asked_at"][:4].isdigit() and item["answer_snippet"].startswith("LoRA")
        assert item["url"].startswith(f"/q/{item['id']}/")


def test_public_url_makes_related_urls_absolute(client: Client) -> None:
    c = client(public_url="https://ask.example.org/")
    c.post("/api/ask", json={"question": "Who introduced LoRA?"})
    related = c.post("/api/ask", json={"question": "What is BM25?"}).json()["related"]
    assert related[0]["url"].startswith("https://ask.example.org/q/")


def test_the_prompt_states_today_and_answers_are_only_reused_the_same_day(client: Client) -> None:
    llm = FakeLLM([LORA, "Again, LoRA is by Hu et al. [1]."])
    c = client(llm)
    desk = c.app.state.answers  # type: ignore[attr-defined]
    desk.today = lambda: dt.date.today()
    first = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
    today = dt.date.today().isoformat()
    assert f"Today's date: {today}" in llm.calls[0].messages[-1].content

    desk.today = lambda: dt.date.today() + dt.timedelta(days=1)
    next_day = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
    assert next_day["cached"] is False and len(llm.calls) == 2
    assert first["cached"] is False
