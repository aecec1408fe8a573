"""Editors over HTTP: hide, delete, curate, the audit log and private knowledge gaps."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from askwiki.answering.types import Source
from askwiki.settings import Settings
from askwiki.testing.fake_llm import FakeLLM
from tests.unit.questions.conftest import Client, SteeredModel, unit

TOKEN = "editor-token-" + "x" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LORA = "LoRA was introduced by Hu et al. in 2021 [1]."
CURATED = "LoRA (Hu et al., 2021) trains two low-rank matrices [1]; the rank is 4 to 64 [2]."


def _ask(c: TestClient, question: str, **body: object) -> dict:  # type: ignore[type-arg]
    response = c.post("/api/ask", json={"question": question, **body})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _public_text(c: TestClient) -> str:
    """Every public list a reader can see, as one string."""
    return "".join(
        [
            c.get("/").text,
            c.get("/questions").text,
            c.get("/api/questions").text,
        ]
    )


def test_a_hidden_question_vanishes_from_every_public_surface(
    client: Client, steered: SteeredModel
) -> None:
    steered.steer["Who introduced LoRA?"] = unit(1, 0)
    steered.steer["What rank does LoRA use?"] = unit(1, 0.3)
    llm = FakeLLM([LORA])
    c = client(llm, admin_token=TOKEN, min_dense_score=-1.0)
    secret = _ask(c, "Who introduced LoRA?")
    other = _ask(c, "What rank does LoRA use?")
    assert "Who introduced LoRA?" in _public_text(c)
    assert [r["id"] for r in other["related"]] == [secret["id"]]

    response = c.patch(f"/api/admin/questions/{secret['id']}", json={"hidden": True}, headers=AUTH)

    assert response.status_code == 200 and response.json()["hidden"] is True
    assert "Who introduced LoRA?" not in _public_text(c)
    assert c.get(f"/q/{secret['id']}").status_code == 410
    assert c.get(f"/api/questions/{secret['id']}").status_code == 410
    assert c.get(f"/api/questions/{secret['id']}").json()["error"] == "gone"
    vote = c.post(f"/api/questions/{secret['id']}/feedback", json={"vote": "up"})
    assert vote.status_code == 410
    # "Others are asking" on pages and in the widget's suggestions (the answer's related).
    assert secret["id"] not in c.get(f"/q/{other['id']}").text
    assert _ask(c, "What rank does LoRA use?", fresh=True)["related"] == []
    # Its answer is not reused: the same question is answered afresh (and stays hidden).
    calls = len(llm.calls)
    again = _ask(c, "Who introduced LoRA?")
    assert again["cached"] is False and len(llm.calls) == calls + 1
    assert c.get(f"/q/{again['id']}").status_code == 410


def test_showing_a_hidden_question_again_restores_it(client: Client) -> None:
    c = client(admin_token=TOKEN)
    asked = _ask(c, "Who introduced LoRA?")
    c.patch(f"/api/admin/questions/{asked['id']}", json={"hidden": True}, headers=AUTH)

    c.patch(f"/api/admin/questions/{asked['id']}", json={"hidden": False}, headers=AUTH)

    assert c.get(f"/q/{asked['id']}").status_code == 200
    assert "Who introduced LoRA?" in _public_text(c)


def test_a_deleted_question_is_gone_for_good(client: Client) -> None:
    c = client(admin_token=TOKEN)
    asked = _ask(c, "Who introduced LoRA?")
    repeat = _ask(c, "who introduced lora")
    assert repeat["cached_from"] == asked["id"]

    response = c.delete(f"/api/admin/questions/{asked['id']}", headers=AUTH)

    assert response.json() == {"id": asked["id"], "deleted": 2}
    for gone in (asked["id"], repeat["id"]):
        assert c.get(f"/q/{gone}").status_code == 404
        assert c.get(f"/api/admin/questions/{gone}", headers=AUTH).status_code == 404
    assert "Who introduced LoRA?" not in _public_text(c)
    assert c.delete(f"/api/admin/questions/{asked['id']}", headers=AUTH).status_code == 404


def test_editors_list_questions_with_filters(client: Client) -> None:
    c = client(admin_token=TOKEN)
    shown = _ask(c, "Who introduced LoRA?")
    hidden = _ask(c, "What is BM25?")
    c.post(f"/api/questions/{shown['id']}/feedback", json={"vote": "down"})
    c.patch(f"/api/admin/questions/{hidden['id']}", json={"hidden": True}, headers=AUTH)

    def ids(**params: object) -> list[str]:
        body = c.get("/api/admin/questions", params=params, headers=AUTH).json()
        return [item["id"] for item in body["items"]]

    assert ids() == [hidden["id"], shown["id"]]
    assert ids(hidden=True) == [hidden["id"]] and ids(hidden=False) == [shown["id"]]
    assert ids(votes="down") == [shown["id"]] and ids(q="bm25") == [hidden["id"]]
    assert ids(status="no_answer") == []
    first = c.get("/api/admin/questions", headers=AUTH).json()["items"][1]
    assert (first["down"], first["hidden"], first["curated"]) == (1, False, False)


def test_a_curated_answer_is_served_to_a_paraphrase_marked_reviewed(
    client: Client, steered: SteeredModel
) -> None:
    steered.steer["How does LoRA work?"] = unit(1, 0)
    steered.steer["How does LoRA work in practice?"] = unit(1, 0.1)  # cosine 0.995
    llm = FakeLLM([LORA])
    c = client(llm, admin_token=TOKEN)
    original = _ask(c, "How does LoRA work?")
    sources = [{"doc_id": "models/lora.md"}, {"doc_id": "models/lora.md"}]

    put = c.put(
        f"/api/admin/questions/{original['id']}/curated",
        json={"answer": CURATED, "sources": sources},
        headers=AUTH,
    )

    assert put.status_code == 200, put.text
    curated = put.json()
    assert curated["reviewed_by"] == "admin token" and curated["stale_sources"] == []
    assert [(s["n"], s["title"], s["cited"]) for s in curated["sources"]] == [
        (1, "LoRA", True),
        (2, "LoRA", True),
    ]
    calls = len(llm.calls)
    served = _ask(c, "How does LoRA work in practice?")
    assert (served["curated"], served["reviewed_by"]) == (True, "admin token")
    assert served["answer"] == CURATED and served["cached_from"] == original["id"]
    assert len(llm.calls) == calls  # no model call
    streamed = c.post(
        "/api/ask", json={"question": "How does LoRA work in practice?", "stream": True}
    ).text
    assert '"curated": true' in streamed or '"curated":true' in streamed
    # Its page and the original's say "reviewed by an editor" instead of the AI notice.
    for question_id in (served["id"], original["id"]):
        page = c.get(f"/q/{question_id}", params={"lang": "en"}).text
        assert "reviewed by an editor" in page and 'class="ai-notice"' not in page
        assert "two low-rank matrices" in page
    stored = c.get(f"/api/questions/{original['id']}").json()
    assert stored["curated"] is True and stored["answer"] == CURATED
    # The editor still sees the AI's answer, to start from.
    detail = c.get(f"/api/admin/questions/{original['id']}", headers=AUTH).json()
    assert (
        detail["question"]["answer"] == original["answer"]
        and detail["curated"]["answer"] == CURATED
    )


def test_a_follow_up_goes_through_retrieval_not_the_curated_answer(client: Client) -> None:
    llm = FakeLLM([LORA])
    c = client(llm, admin_token=TOKEN)
    original = _ask(c, "Who introduced LoRA?")
    c.put(f"/api/admin/questions/{original['id']}/curated", json={"answer": CURATED}, headers=AUTH)
    calls = len(llm.calls)

    history = [
        {"role": "user", "content": "Tell me about LoRA"},
        {"role": "assistant", "content": "LoRA is a fine-tuning method."},
    ]
    follow_up = _ask(c, "Who introduced LoRA?", history=history)

    assert follow_up["curated"] is False and len(llm.calls) > calls


def test_curating_without_sources_keeps_the_ai_answers_sources(client: Client) -> None:
    c = client(admin_token=TOKEN)
    original = _ask(c, "Who introduced LoRA?")

    curated = c.put(
        f"/api/admin/questions/{original['id']}/curated",
        json={"answer": "Hu et al. [1]"},
        headers=AUTH,
    ).json()

    assert [s["id"] for s in curated["sources"]] == [s["id"] for s in original["sources"]]


def test_a_source_page_gone_from_the_index_is_flagged_not_shown(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    c = client(admin_token=TOKEN)
    original = _ask(c, "Who introduced LoRA?")
    lora = original["sources"][0]
    gone = Source(2, "old#0", "old/page.md", "Old page", "Old", None, "gone", 1.0, cited=True)
    store = c.app.state.questions  # type: ignore[attr-defined]
    kept = Source(**{**lora, "n": 1})
    store.put_curated(original["id"], "Hu et al. [1], see also [2].", [kept, gone], "alice")

    detail = c.get(f"/api/admin/questions/{original['id']}", headers=AUTH).json()
    with caplog.at_level(logging.WARNING, logger="askwiki.questions.editors"):
        served = _ask(c, "who introduced lora")

    assert [s["doc_id"] for s in detail["curated"]["stale_sources"]] == ["old/page.md"]
    assert [s["doc_id"] for s in served["sources"]] == [lora["doc_id"]]
    assert "old/page.md" in caplog.text and "no longer in the index" in caplog.text
    page = c.get(f"/q/{original['id']}").text
    assert "Old page" not in page


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"answer": "x", "sources": [{"doc_id": "no/such.md"}]}, 422, "invalid_curation"),
        ({"answer": "x", "sources": [{"doc_id": "models/lora.md", "chunk_id": "no"}]}, 422, None),
        ({"answer": "   "}, 422, "invalid_request"),
        ({"answer": "x", "extra": 1}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
    ],
)
def test_bad_curated_answers_are_refused_clearly(
    client: Client, body: dict[str, object], status: int, error: str | None
) -> None:
    c = client(admin_token=TOKEN)
    original = _ask(c, "Who introduced LoRA?")

    response = c.put(f"/api/admin/questions/{original['id']}/curated", json=body, headers=AUTH)

    assert response.status_code == status
    if error:
        assert response.json()["error"] == error
    assert c.get(f"/api/admin/questions/{original['id']}", headers=AUTH).json()["curated"] is None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/admin/questions/nope", None),
        ("PATCH", "/api/admin/questions/nope", {"hidden": True}),
        ("DELETE", "/api/admin/questions/nope", None),
        ("PUT", "/api/admin/questions/nope/curated", {"answer": "x"}),
        ("DELETE", "/api/admin/questions/nope/curated", None),
    ],
)
def test_unknown_questions_are_404(
    client: Client, method: str, path: str, body: dict[str, object] | None
) -> None:
    c = client(admin_token=TOKEN)

    response = c.request(method, path, json=body, headers=AUTH)

    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_a_patch_without_hidden_is_422(client: Client) -> None:
    c = client(admin_token=TOKEN)
    asked = _ask(c, "Who introduced LoRA?")
    for body in ({}, {"hidden": "maybe"}, {"hidden": True, "question": "x"}):
        response = c.patch(f"/api/admin/questions/{asked['id']}", json=body, headers=AUTH)
        assert response.status_code == 422, body


@pytest.mark.parametrize(
    ("settings", "headers", "status"),
    [
        ({}, AUTH, 403),  # admin API off
        ({"admin_token": TOKEN}, {}, 401),
        ({"admin_token": TOKEN}, {"Authorization": "Bearer wrong"}, 401),
    ],
)
def test_editor_routes_need_the_admin_token(
    client: Client, settings: dict[str, str], headers: dict[str, str], status: int
) -> None:
    c = client(**settings)
    asked = _ask(c, "Who introduced LoRA?")

    for method, path in [
        ("GET", "/api/admin/questions"),
        ("PATCH", f"/api/admin/questions/{asked['id']}"),
        ("DELETE", f"/api/admin/questions/{asked['id']}"),
        ("PUT", f"/api/admin/questions/{asked['id']}/curated"),
        ("GET", "/api/admin/audit"),
        ("GET", "/api/admin/gaps.csv"),
    ]:
        response = c.request(method, path, json={"hidden": True, "answer": "x"}, headers=headers)
        assert response.status_code == status, (method, path)
    assert c.get(f"/q/{asked['id']}").status_code == 200  # nothing happened


def test_the_audit_log_names_each_editors_token(client: Client) -> None:
    alice, bob = "alice-" + "a" * 24, "bob-" + "b" * 24
    c = client(admin_tokens=f"alice:{alice}, bob:{bob}")
    asked = _ask(c, "Who introduced LoRA?")
    path = f"/api/admin/questions/{asked['id']}"

    c.patch(path, json={"hidden": True}, headers={"Authorization": f"Bearer {alice}"})
    c.put(path + "/curated", json={"answer": "Hu"}, headers={"Authorization": f"Bearer {bob}"})
    c.delete(path + "/curated", headers={"Authorization": f"Bearer {bob}"})
    c.delete(path, headers={"Authorization": f"Bearer {alice}"})
    audit = c.get("/api/admin/audit", headers={"Authorization": f"Bearer {bob}"}).json()

    assert [(e["actor"], e["action"], e["target"]) for e in audit["entries"]] == [
        ("alice", "delete", asked["id"]),
        ("bob", "uncurate", asked["id"]),
        ("bob", "curate", asked["id"]),
        ("alice", "hide", asked["id"]),
    ]
    assert all(e["at"] for e in audit["entries"])


@pytest.mark.parametrize(
    "value", ["alice", "alice:", ":token", "alice:one,alice:two", "admin token:x"]
)
def test_malformed_named_admin_tokens_are_refused_at_start(value: str) -> None:
    with pytest.raises(ValidationError, match="ASKWIKI_ADMIN_TOKENS"):
        Settings(_env_file=None, admin_token="t" * 24, admin_tokens=value)  # type: ignore[call-arg]


def test_knowledge_gaps_need_the_admin_token_by_default(client: Client) -> None:
    c = client(admin_token=TOKEN, min_dense_score=0.999)
    _ask(c, "Soup recipe?")

    assert c.get("/api/gaps").status_code == 401
    assert c.get("/gaps").status_code == 401 and "for editors" in c.get("/gaps?lang=en").text
    assert 'href="/gaps' not in c.get("/").text  # no link to a page readers cannot open
    gaps = c.get("/api/gaps", headers=AUTH).json()["gaps"]
    assert [g["question"] for g in gaps] == ["Soup recipe?"]
    assert gaps[0]["curate_url"] == f"/api/admin/questions/{gaps[0]['question_id']}/curated"
    page = c.get("/gaps", headers=AUTH, params={"lang": "en"}).text
    assert "Write a curated answer" in page and f"/admin/questions/{gaps[0]['question_id']}" in page


def test_public_gaps_need_no_token(client: Client) -> None:
    c = client(public_gaps=True, min_dense_score=0.999)
    _ask(c, "Soup recipe?")

    assert c.get("/api/gaps").status_code == 200 and c.get("/gaps").status_code == 200
    assert 'href="/gaps' in c.get("/").text


def test_gaps_export_as_csv_with_formulas_defused(client: Client) -> None:
    c = client(admin_token=TOKEN, min_dense_score=0.999)
    _ask(c, '=HYPERLINK("http://evil") soup?')
    _ask(c, "BM25 parameters k1?")

    response = c.get("/api/admin/gaps.csv", headers=AUTH)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))
    by_question = {row["question"]: row for row in rows}
    assert set(by_question) == {'\'=HYPERLINK("http://evil") soup?', "BM25 parameters k1?"}
    bm25 = by_question["BM25 parameters k1?"]
    assert bm25["count"] == "1" and bm25["nearest_page"] == "BM25"
    assert bm25["curate_url"] == f"/api/admin/questions/{bm25['question_id']}/curated"


def test_a_curated_question_leaves_the_gaps(client: Client) -> None:
    c = client(admin_token=TOKEN, min_dense_score=0.999)
    soup = _ask(c, "Soup recipe?")
    c.put(
        f"/api/admin/questions/{soup['id']}/curated",
        json={"answer": "Ask the canteen."},
        headers=AUTH,
    )

    assert c.get("/api/gaps", headers=AUTH).json()["gaps"] == []


def test_openapi_documents_the_editor_routes(client: Client) -> None:
    paths = client().get("/openapi.json").json()["paths"]

    assert set(paths["/api/admin/questions/{question_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/admin/questions/{question_id}/curated"]) == {"put", "delete"}
    assert "/api/admin/questions" in paths and "/api/admin/audit" in paths
    assert "/api/admin/gaps.csv" in paths
    patch = paths["/api/admin/questions/{question_id}"]["patch"]
    assert {"404", "422", "401"} <= set(patch["responses"])
