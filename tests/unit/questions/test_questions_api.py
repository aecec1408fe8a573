"""``/api/questions``, ``/api/questions/{id}``, feedback and ``/api/gaps`` over HTTP."""

from __future__ import annotations

import pytest

from askwiki.testing.fake_llm import FakeLLM
from tests.support.answer_keys import ANSWER_KEYS
from tests.unit.questions.conftest import Client, SteeredModel, unit

# What the log adds to the answer /api/ask returned.
STORED_KEYS = ANSWER_KEYS | {"asked_at", "url", "error", "up", "down"}


def test_stored_answer_is_the_ask_answer_plus_log_fields(client: Client) -> None:
    c = client()
    asked = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()

    stored = c.get(f"/api/questions/{asked['id']}").json()

    assert set(stored) == STORED_KEYS
    for key in set(asked) - {"related"}:
        assert stored[key] == asked[key], key
    assert stored["url"] == f"/q/{asked['id']}/who-introduced-lora"
    assert (stored["up"], stored["down"], stored["error"]) == (0, 0, None)


def test_a_no_page_answer_keeps_its_closest_pages_in_the_log_and_on_its_page(
    client: Client,
) -> None:
    c = client(min_dense_score=0.999)
    asked = c.post("/api/ask", json={"question": "BM25 parameters k1"}).json()
    assert asked["status"] == "no_answer" and asked["closest"]

    stored = c.get(f"/api/questions/{asked['id']}").json()
    page = c.get(f"/q/{asked['id']}", params={"lang": "en"}).text

    assert stored["closest"] == asked["closest"] and stored["sources"] == []
    assert "Closest pages" in page and "none passed the relevance check" in page
    assert 'class="ai-notice"' not in page  # a fixed sentence, not generated
    closest_section = page.split('class="references closest"')[1].split("</section>")[0]
    for near in asked["closest"]:
        assert near["title"] in closest_section and near["excerpt"][:40] in closest_section


def test_gaps_name_the_nearest_page_of_unanswered_questions(client: Client) -> None:
    c = client(min_dense_score=0.999, public_gaps=True)
    for question in ["BM25 parameters k1", "bm25 parameters k1"]:
        assert c.post("/api/ask", json={"question": question}).json()["status"] == "no_answer"

    gaps = c.get("/api/gaps").json()["gaps"]
    page = c.get("/gaps", params={"lang": "en"}).text

    assert gaps[0]["count"] == 2
    assert gaps[0]["nearest_page"] == {"doc_id": "retrieval/bm25.md", "title": "BM25", "url": None}
    assert "Nearest page: BM25" in page


def test_unknown_question_is_404(client: Client) -> None:
    response = client().get("/api/questions/doesnotexist")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_list_and_search_past_questions(client: Client) -> None:
    c = client()
    for question in ["Who introduced LoRA?", "What is BM25?", "who introduced lora", "LoRA rank?"]:
        c.post("/api/ask", json={"question": question})

    everything = c.get("/api/questions").json()
    lora = c.get("/api/questions", params={"q": "lora"}).json()
    second_page = c.get("/api/questions", params={"limit": 2, "offset": 2}).json()

    assert everything["total"] == 3  # the repeat is counted on its original
    assert [i["question"] for i in everything["items"]] == [
        "LoRA rank?",
        "What is BM25?",
        "Who introduced LoRA?",
    ]
    assert everything["items"][2]["asks"] == 2
    assert [i["question"] for i in lora["items"]] == ["LoRA rank?", "Who introduced LoRA?"]
    assert [i["question"] for i in second_page["items"]] == ["Who introduced LoRA?"]
    assert all(i["url"].startswith("/q/") for i in everything["items"])


def test_feedback_is_stored_and_totals_returned(client: Client) -> None:
    c = client()
    answer_id = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()["id"]

    up = c.post(f"/api/questions/{answer_id}/feedback", json={"vote": "up"})
    down = c.post(
        f"/api/questions/{answer_id}/feedback", json={"vote": "down", "comment": "Too short"}
    )

    assert up.json() == {"id": answer_id, "up": 1, "down": 0}
    assert down.json() == {"id": answer_id, "up": 1, "down": 1}
    stored = c.get(f"/api/questions/{answer_id}").json()
    assert (stored["up"], stored["down"]) == (1, 1)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"vote": "sideways"}, 422),
        ({}, 422),
        ({"vote": "up", "comment": "x" * 2001}, 422),
    ],
)
def test_bad_feedback_is_rejected(client: Client, body: dict, status: int) -> None:
    c = client()
    answer_id = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()["id"]
    assert c.post(f"/api/questions/{answer_id}/feedback", json=body).status_code == status


def test_feedback_on_unknown_question_is_404(client: Client) -> None:
    response = client().post("/api/questions/nope/feedback", json={"vote": "up"})
    assert response.status_code == 404


def test_downvoted_answer_is_answered_afresh(client: Client) -> None:
    llm = FakeLLM(["LoRA was introduced by Hu et al. in 2021 [1]."])
    c = client(llm)
    first = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()
    c.post(f"/api/questions/{first['id']}/feedback", json={"vote": "down"})

    again = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()

    assert again["cached"] is False and len(llm.calls) == 2


def test_gaps_group_unanswered_and_downvoted_questions(
    client: Client, steered: SteeredModel
) -> None:
    steered.steer["How do I bake bread?"] = unit(1, 0.02)
    steered.steer["Bread baking at home"] = unit(1, 0.05)
    steered.steer["how do i bake bread"] = unit(1, 0.02)  # a real model: near-identical
    steered.steer["Best soup recipe?"] = unit(0, 1)
    # Nothing is relevant: every answer is no_answer.
    c = client(min_dense_score=0.999, public_gaps=True)
    for question in ["How do I bake bread?", "Bread baking at home", "how do i bake bread"]:
        assert c.post("/api/ask", json={"question": question}).json()["status"] == "no_answer"
    c.post("/api/ask", json={"question": "Best soup recipe?"})

    gaps = c.get("/api/gaps", params={"min_similarity": 0.9}).json()["gaps"]

    assert [(g["count"], g["no_answer"]) for g in gaps] == [(3, 3), (1, 1)]
    bread, soup = gaps
    assert bread["question"] in ("How do I bake bread?", "how do i bake bread")
    assert {e["question"] for e in bread["examples"]} == {
        "how do i bake bread",
        "Bread baking at home",
    }
    assert soup["question"] == "Best soup recipe?" and soup["last_asked"]
    assert all(e["url"].startswith("/q/") for e in bread["examples"])


def test_gaps_include_answers_readers_voted_down(client: Client) -> None:
    c = client(public_gaps=True)
    liked = c.post("/api/ask", json={"question": "Who introduced LoRA?"}).json()["id"]
    disliked = c.post("/api/ask", json={"question": "What is BM25?"}).json()["id"]
    c.post(f"/api/questions/{liked}/feedback", json={"vote": "up"})
    c.post(f"/api/questions/{disliked}/feedback", json={"vote": "down"})

    gaps = c.get("/api/gaps").json()["gaps"]

    assert [(g["question"], g["downvoted"], g["no_answer"]) for g in gaps] == [
        ("What is BM25?", 1, 0)
    ]
