from __future__ import annotations

import json
import time
from pathlib import Path

from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index, page
from tests.unit.server.conftest import ClientFactory


def test_chat_completion_carries_answer_references_and_sources(make_client: ClientFactory) -> None:
    client = make_client(FakeLLM(["LoRA was introduced by Hu et al. in 2021 [1]."]))
    body = client.post(
        "/v1/chat/completions",
        json={
            "model": "askwiki",
            "messages": [{"role": "user", "content": "Who introduced LoRA?"}],
        },
    ).json()
    content = body["choices"][0]["message"]["content"]
    cited = [s for s in body["sources"] if s["cited"]]
    assert body["object"] == "chat.completion" and cited
    assert "\n\nSources:\n" in content
    for source in cited:
        assert f"[{source['n']}] {source['section']}" in content
    assert body["askwiki"]["answer"] in content


def test_chat_completion_without_a_relevant_page_lists_the_closest_pages(
    make_client: ClientFactory,
) -> None:
    client = make_client(FakeLLM(["should not be called"]), min_dense_score=0.999)
    body = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "BM25 parameters k1"}]},
    ).json()
    content = body["choices"][0]["message"]["content"]
    closest = body["askwiki"]["closest"]
    assert body["askwiki"]["status"] == "no_answer" and body["sources"] == [] and closest
    assert (
        "Sources:" not in content and "\n\nClosest pages (none of them answers this):\n" in content
    )
    for near in closest:
        assert f"[{near['n']}] {near['section']}" in content


def test_chat_completion_references_speak_the_answer_language(
    make_client: ClientFactory,
) -> None:
    client = make_client(FakeLLM(["知识蒸馏由 Hinton 等人在 2015 年提出 [1]。"]))
    body = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "知识蒸馏是谁提出的？"}]},
    ).json()
    content = body["choices"][0]["message"]["content"]
    assert "\n\n参考来源：\n[1] " in content and "Sources:" not in content


def test_chat_completion_stream_ends_with_sources_and_done(make_client: ClientFactory) -> None:
    client = make_client(FakeLLM(["LoRA was introduced by Hu et al. in 2021 [1]."]))
    response = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Who introduced LoRA?"}], "stream": True},
    )
    lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop" and final["sources"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text.startswith("LoRA was introduced") and "Sources:" in text


def test_chat_completion_uses_earlier_turns_as_history(make_client: ClientFactory) -> None:
    llm = FakeLLM(["What rank does LoRA use?", "Between 4 and 64 [1]."])
    client = make_client(llm)
    messages = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "What is LoRA?"},
        {"role": "assistant", "content": "A fine-tuning method."},
        {"role": "user", "content": "What rank does it use?"},
    ]
    body = client.post("/v1/chat/completions", json={"messages": messages}).json()
    assert body["askwiki"]["status"] == "answered"
    assert "What is LoRA?" in llm.calls[0].messages[-1].content


def test_new_index_version_is_served_without_restart(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client()
    before = client.get("/api/ready").json()["index"]["version"]
    pages = [*WIKI_PAGES, page("new.md", "Quokka", "Quokkas live on Rottnest Island near Perth.")]
    after = build_index(tmp_path / "indexes" / "default", pages, fake_embedder())
    deadline = time.monotonic() + 5
    while client.get("/api/ready").json()["index"]["version"] != after:
        assert time.monotonic() < deadline, "new version not picked up"
        time.sleep(0.1)
    assert before != after
    hits = client.get("/api/search", params={"q": "quokka rottnest"}).json()["results"]
    assert hits[0]["doc_id"] == "new.md"
