"""``askwiki mcp`` (stdio) builds its desk as ``askwiki serve`` does: the same settings apply.

The stdio transport itself is driven in tests/integration/test_mcp_real.py; here the SDK
server is replaced by one that asks through the tools' access object and returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from askwiki.answering.types import Answer
from askwiki.server.mcp import stdio
from askwiki.server.mcp.tools import WikiAccess
from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index
from tests.support.wiki_app import LORA_ANSWER, wiki_settings

QUESTIONS = ("Who introduced LoRA? zebrafish-marker-phrase", "What is LoRA rank?")


def ask_over_stdio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> list[Answer]:
    embedder = fake_embedder()
    build_index(tmp_path / "indexes" / "default", WIKI_PAGES, embedder)
    settings = wiki_settings(tmp_path, **overrides)
    answers: list[Answer] = []

    class AskingServer:
        def __init__(self, access: Callable[[], WikiAccess]) -> None:
            self.access = access

        def run(self, transport: str) -> None:
            answers.extend(self.access().desk.ask(q) for q in QUESTIONS)

    monkeypatch.setattr(stdio, "build_mcp_server", AskingServer)
    llm = FakeLLM([LORA_ANSWER] * len(QUESTIONS))
    stdio.serve_stdio(settings, embedder=embedder, llm_factory=lambda: llm)
    return answers


@pytest.mark.parametrize(("public_questions", "shown"), [(True, True), (False, False)])
def test_stdio_answers_show_other_readers_questions_only_when_public(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, public_questions: bool, shown: bool
) -> None:
    answers = ask_over_stdio(tmp_path, monkeypatch, public_questions=public_questions)
    assert bool(answers[1].related) is shown


@pytest.mark.parametrize("log_questions", [False, True])
def test_stdio_logs_question_text_only_when_configured(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    log_questions: bool,
) -> None:
    with caplog.at_level(logging.INFO):
        ask_over_stdio(tmp_path, monkeypatch, log_questions=log_questions)
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("zebrafish-marker-phrase" in m for m in info) is log_questions
