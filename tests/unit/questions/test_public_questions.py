"""What readers see of each other's questions: masked personal data, and the public switch."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from askwiki.questions import QuestionRecord
from askwiki.questions.public import public_record
from tests.unit.questions.conftest import Client, make_answer

PHONE_QUESTION = "Who introduced LoRA? Call me on 13812345678"
MAIL_QUESTION = "What is LoRA rank? Mail zhang.san@example.com"


def _ask(c: object, question: str) -> dict[str, object]:
    response = c.post("/api/ask", json={"question": question})  # type: ignore[attr-defined]
    assert response.status_code == 200
    return dict(response.json())


def test_lists_pages_and_apis_mask_what_readers_wrote(client: Client) -> None:
    c = client()
    phone = _ask(c, PHONE_QUESTION)
    mail = _ask(c, MAIL_QUESTION)

    listed = c.get("/api/questions").json()["items"]
    stored = c.get(f"/api/questions/{phone['id']}").json()
    surfaces = {
        "home": c.get("/", params={"lang": "en"}).text,
        "list": c.get("/questions", params={"lang": "en"}).text,
        "page": c.get(f"/q/{phone['id']}", params={"lang": "en"}).text,
        "api list": str(listed),
        "api stored": str(stored),
        "others are asking": str(mail["related"]),
    }

    for name, text in surfaces.items():
        assert "13812345678" not in text and "zhang.san@" not in text, name
    assert "*******5678" in surfaces["page"] and "*******5678" in surfaces["others are asking"]
    assert "z***@example.com" in surfaces["list"]
    assert stored["question"] == "Who introduced LoRA? Call me on *******5678"
    assert "5678" not in stored["url"].replace("5678", "", 1)  # the slug carries the mask only
    # The log keeps what was asked, for editors.
    assert c.app.state.questions.get(phone["id"]).answer.question == PHONE_QUESTION  # type: ignore[attr-defined]


def test_a_stored_answer_is_masked_and_the_original_kept() -> None:
    answer = make_answer(
        "身份证11010519900307451X丢了怎么办",
        answer="请联系 li@corp.example.cn 或拨打 010-12345678。",
        standalone_question="身份证11010519900307451X丢了怎么办",
    )
    record = QuestionRecord(answer=answer, asked_at="2025-06-01T10:00:00+00:00", normalized="x")

    shown = public_record(record)

    assert shown.answer.question == "身份证**************451X丢了怎么办"
    assert shown.answer.standalone_question == shown.answer.question
    assert shown.answer.answer == "请联系 l***@corp.example.cn 或拨打 ***-****5678。"
    assert record.answer.question.startswith("身份证11010519900307451X")


def test_question_pages_redirect_to_a_masked_slug(client: Client) -> None:
    c = client()
    response = c.post("/ask", data={"question": PHONE_QUESTION}, follow_redirects=False)
    assert response.status_code == 303
    assert "13812345678" not in response.headers["location"]


def test_questions_not_public_are_listed_nowhere_but_asking_works(client: Client) -> None:
    c = client(public_questions=False)
    first = _ask(c, "Who introduced LoRA?")
    second = _ask(c, "What is LoRA rank?")

    home = c.get("/", params={"lang": "en"}).text
    form = c.post("/ask", data={"question": "LoRA rank?", "lang": "en"}, follow_redirects=False)

    assert second["answer"] and second["related"] == []
    assert "Who introduced LoRA?" not in home and 'href="/questions' not in home
    for path in (
        "/questions",
        f"/q/{first['id']}",
        "/api/questions",
        f"/api/questions/{first['id']}",
    ):
        assert c.get(path).status_code == 404, path
    # No page to redirect to: the asker reads the answer on the form's response.
    assert form.status_code == 200 and "LoRA was introduced by Hu et al." in form.text
    assert "Who introduced LoRA?" not in form.text


def test_feedback_form_without_public_pages_shows_the_answer_again(client: Client) -> None:
    c = client(public_questions=False)
    answer_id = _ask(c, "Who introduced LoRA?")["id"]
    response = c.post(f"/q/{answer_id}/feedback", data={"vote": "up"}, follow_redirects=False)
    assert response.status_code == 200 and "LoRA was introduced" in response.text
    assert c.app.state.questions.get(answer_id).up == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("log_questions", [False, True])
def test_question_text_reaches_info_logs_only_when_configured(
    client: Client, caplog: pytest.LogCaptureFixture, log_questions: bool
) -> None:
    c = client(log_questions=log_questions)
    question = "Who introduced LoRA? zebrafish-marker-phrase"
    with caplog.at_level(logging.DEBUG):
        _ask(c, question)
        _ask(c, question)  # the cached repeat logs too
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("zebrafish-marker-phrase" in m for m in info) is log_questions


def test_cached_answer_written_for_another_reader_is_masked(client: Client) -> None:
    c = client()
    first = _ask(c, "Who introduced LoRA?")
    stored = c.app.state.questions  # type: ignore[attr-defined]
    original = stored.get(first["id"])
    # An answer that repeated the first reader's details.
    leaked = replace(original.answer, id="leaky0000000001", answer="Ask 13812345678 [1].")
    stored.save(
        leaked,
        asked_at=original.asked_at,
        embedding=original.embedding,
        embedding_model=original.embedding_model,
    )

    repeat = _ask(c, "Who introduced LoRA?")

    assert repeat["cached"] and repeat["cached_from"] == "leaky0000000001"
    assert repeat["answer"] == "Ask *******5678 [1]."
