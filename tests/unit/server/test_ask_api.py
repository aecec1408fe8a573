from __future__ import annotations

import json

from askwiki.testing.fake_llm import FakeLLM
from tests.support.answer_keys import ANSWER_KEYS
from tests.unit.server.conftest import ClientFactory

SOURCE_KEYS = {
    "n",
    "id",
    "doc_id",
    "title",
    "section",
    "url",
    "excerpt",
    "score",
    "cited",
    "page",
    "chunk_ids",
}


def parse_sse(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_ask_returns_answer_with_numbered_sources(make_client: ClientFactory) -> None:
    client = make_client()
    response = client.post("/api/ask", json={"question": "Who introduced LoRA?", "top_k": 3})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ANSWER_KEYS
    assert body["language"] == "en" and body["status"] == "answered"
    assert [s["n"] for s in body["sources"]] == list(range(1, len(body["sources"]) + 1))
    assert all(set(s) == SOURCE_KEYS for s in body["sources"])
    assert set(body["timings"]) >= {"retrieve_ms", "generate_ms", "total_ms"}


def test_citation_markers_are_checked_against_sources(make_client: ClientFactory) -> None:
    llm = FakeLLM(
        ["LoRA was introduced by Hu et al. in 2021 [9]. It freezes the pretrained weights."]
    )
    body = make_client(llm).post("/api/ask", json={"question": "What is LoRA?"}).json()
    lora = next(s for s in body["sources"] if s["doc_id"] == "models/lora.md")
    assert "[9]" not in body["answer"]
    assert f"[{lora['n']}]" in body["answer"]
    assert lora["cited"] is True
    assert body["corrections"] >= 1


def test_stream_sends_sources_tokens_then_done_equal_to_json(make_client: ClientFactory) -> None:
    client = make_client()
    response = client.post("/api/ask", json={"question": "Who introduced LoRA?", "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    events = parse_sse(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "sources" and kinds[-1] == "done" and "token" in kinds
    done = events[-1][1]
    assert set(done) == ANSWER_KEYS
    assert [s["id"] for s in done["sources"]] == [s["id"] for s in events[0][1]["sources"]]
    streamed = "".join(data["text"] for kind, data in events if kind == "token")
    assert streamed.startswith("LoRA was introduced")


def test_accept_header_selects_streaming(make_client: ClientFactory) -> None:
    response = make_client().post(
        "/api/ask", json={"question": "LoRA?"}, headers={"Accept": "text/event-stream"}
    )
    assert parse_sse(response.text)[-1][0] == "done"


def test_ask_llm_down_returns_503_naming_backend(make_client: ClientFactory) -> None:
    client = make_client(FakeLLM(fail_with="connection refused at 127.0.0.1:9", healthy=False))
    for payload in ({"question": "What is LoRA?"}, {"question": "What is LoRA?", "stream": True}):
        response = client.post("/api/ask", json=payload)
        assert response.status_code == 503
        body = response.json()
        assert body["error"] == "llm_unavailable" and body["backend"] == "fake"
        assert "unavailable" in body["detail"]


def test_llm_failing_mid_stream_sends_error_event(make_client: ClientFactory) -> None:
    client = make_client(
        FakeLLM(["LoRA was introduced by Hu et al."], fail_with="model crashed", fail_after=2)
    )
    response = client.post("/api/ask", json={"question": "What is LoRA?", "stream": True})
    events = parse_sse(response.text)
    assert [k for k, _ in events][:1] == ["sources"]
    kind, data = events[-1]
    assert kind == "error" and data["status"] == 503 and "model crashed" in data["detail"]


def test_extractive_fallback_returns_passages_marked_not_generated(
    make_client: ClientFactory,
) -> None:
    client = make_client(FakeLLM(fail_with="down", healthy=False), fallback="extractive")
    body = client.post("/api/ask", json={"question": "What is LoRA?"}).json()
    assert body["status"] == "extractive" and body["generated"] is False
    assert "[1]" in body["answer"] and all(s["cited"] for s in body["sources"])


def test_nothing_relevant_gives_no_page_answer_in_question_language(
    make_client: ClientFactory,
) -> None:
    llm = FakeLLM(["should not be called"])
    client = make_client(llm, min_dense_score=0.999)
    english = client.post("/api/ask", json={"question": "How do I bake bread?"}).json()
    chinese = client.post("/api/ask", json={"question": "怎么做红烧肉？"}).json()
    assert english["status"] == chinese["status"] == "no_answer"
    assert "no page" in english["answer"] and "没有" in chinese["answer"]
    assert english["sources"] == [] and llm.calls == []


def test_no_page_answer_lists_the_closest_pages_but_cites_none(
    make_client: ClientFactory,
) -> None:
    client = make_client(FakeLLM(["should not be called"]), min_dense_score=0.999)
    body = client.post("/api/ask", json={"question": "BM25 parameters k1 saturation"}).json()
    assert body["status"] == "no_answer" and body["sources"] == []
    closest = body["closest"]
    assert closest[0]["doc_id"] == "retrieval/bm25.md"
    assert len({c["doc_id"] for c in closest}) == len(closest) <= 3
    assert [c["n"] for c in closest] == list(range(1, len(closest) + 1))
    assert not any(c["cited"] for c in closest) and all(c["excerpt"] for c in closest)
    assert "[1]" not in body["answer"]


def test_an_answered_question_lists_no_closest_pages(make_client: ClientFactory) -> None:
    reply = "BM25 has two parameters: k1 controls term frequency saturation [1]."
    client = make_client(FakeLLM([reply]), min_dense_score=-1.0)
    body = client.post("/api/ask", json={"question": "BM25 parameters k1"}).json()
    assert body["status"] == "answered" and body["sources"] and body["closest"] == []


def test_follow_up_is_rewritten_before_retrieval(make_client: ClientFactory) -> None:
    llm = FakeLLM(["What rank does LoRA use?", "The rank r is usually between 4 and 64 [1]."])
    history = [
        {"role": "user", "content": "What is LoRA?"},
        {"role": "assistant", "content": "LoRA trains low-rank matrices."},
    ]
    body = (
        make_client(llm)
        .post("/api/ask", json={"question": "What rank does it use?", "history": history})
        .json()
    )
    assert body["standalone_question"] == "What rank does LoRA use?"
    assert "What is LoRA?" in llm.calls[0].messages[-1].content


def test_question_too_long_is_422(make_client: ClientFactory) -> None:
    client = make_client(max_question_chars=20)
    response = client.post("/api/ask", json={"question": "x" * 21})
    assert response.status_code == 422
    assert "ASKWIKI_MAX_QUESTION_CHARS" in response.text


def test_search_text_over_the_question_limit_is_422(make_client: ClientFactory) -> None:
    client = make_client(max_question_chars=20)
    response = client.get("/api/search", params={"q": "x" * 21})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "q"]
    assert "ASKWIKI_MAX_QUESTION_CHARS" in response.text
    assert client.get("/api/search", params={"q": "x" * 20}).status_code == 200


def test_malformed_json_is_422(make_client: ClientFactory) -> None:
    response = make_client().post(
        "/api/ask", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


def test_search_returns_passages_without_llm(make_client: ClientFactory) -> None:
    llm = FakeLLM(["unused"])
    body = make_client(llm).get("/api/search", params={"q": "BM25 k1 b parameters", "k": 2}).json()
    assert body["results"][0]["doc_id"] == "retrieval/bm25.md"
    assert len(body["results"]) <= 2 and llm.calls == []


def test_ready_reports_index_and_llm(make_client: ClientFactory) -> None:
    assert make_client().get("/api/ready").json()["ready"] is True
    down = make_client(FakeLLM(healthy=False)).get("/api/ready")
    assert down.status_code == 503 and down.json()["llm"]["ok"] is False


def test_missing_index_is_not_ready_and_ask_is_503(make_client: ClientFactory) -> None:
    client = make_client(index="absent")
    assert client.get("/api/health").json() == {"status": "ok"}
    assert client.get("/api/ready").status_code == 503
    response = client.post("/api/ask", json={"question": "What is LoRA?"})
    assert response.status_code == 503 and "askwiki ingest" in response.json()["detail"]


def test_question_is_embedded_once_per_ask(make_client: ClientFactory) -> None:
    client = make_client()
    model = client.app.state.embedder._model  # type: ignore[attr-defined]
    client.post("/api/ask", json={"question": "How many LoRA ranks are typical?", "fresh": True})
    assert model.encoded.count("query: How many LoRA ranks are typical?") == 1


def test_citation_check_embeds_the_answer_not_the_sources(make_client: ClientFactory) -> None:
    client = make_client(FakeLLM(["LoRA was introduced by Hu et al. in 2021 [1]."]))
    model = client.app.state.embedder._model  # type: ignore[attr-defined]
    model.encoded.clear()
    body = client.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
    assert body["sources"] and body["sources"][0]["cited"]
    passages = [text for text in model.encoded if text.startswith("passage: ")]
    # Once for the citation check, once for grounding; never a source.
    assert set(passages) == {"passage: LoRA was introduced by Hu et al. in 2021 ."}
