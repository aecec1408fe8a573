"""``askwiki eval`` on the command line: rows file, JSON summary, exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from askwiki.cli.main import app, main
from askwiki.embedding import embedder as embedder_module
from askwiki.embedding.embedder import Embedder
from askwiki.llm import factory as llm_factory
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index

GOOD = [
    {"question": "When was LoRA introduced?", "answers": ["2021"], "sources": ["models/lora.md"]},
    {"question": "Who won the 2022 World Cup?"},
]


@pytest.fixture
def wiki(tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Path:
    build_index(tmp_path / "indexes" / "default", WIKI_PAGES, embedder)
    monkeypatch.setattr(embedder_module, "load_embedder", lambda settings: embedder)
    monkeypatch.setenv("ASKWIKI_INDEX_DIR", str(tmp_path / "indexes"))
    monkeypatch.setenv("ASKWIKI_MIN_DENSE_SCORE", "-1")
    return tmp_path


def _questions(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_eval_json_summary_and_rows_file(wiki: Path) -> None:
    questions = _questions(wiki / "q.jsonl", [json.dumps(q) for q in GOOD])
    out = wiki / "rows.jsonl"
    result = CliRunner().invoke(app, ["eval", str(questions), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["mode"] == "retrieval"
    assert data["summary"]["questions"] == 2
    assert (data["summary"]["answerable"], data["summary"]["unanswerable"]) == (1, 1)
    assert data["bad_lines"] == [] and data["errors"] == []
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["line"] for row in rows] == [1, 2]
    assert rows[0]["question"] == "When was LoRA introduced?"


def test_low_scores_still_exit_0(wiki: Path) -> None:
    wrong = {"question": "When was LoRA introduced?", "answers": ["no such answer string"]}
    questions = _questions(wiki / "q.jsonl", [json.dumps(wrong)])
    result = CliRunner().invoke(app, ["eval", str(questions)])
    assert result.exit_code == 0, result.output
    assert "hit@1" in result.stdout


def test_a_bad_line_is_reported_the_rest_evaluated_and_exit_is_1(wiki: Path) -> None:
    lines = [json.dumps(GOOD[0]), '{"question": ', json.dumps(GOOD[1])]
    questions = _questions(wiki / "q.jsonl", lines)
    result = CliRunner().invoke(app, ["eval", str(questions), "--json", "--limit", "5"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["summary"]["questions"] == 2
    assert data["summary"]["bad_lines"] == 1
    assert data["bad_lines"][0]["line"] == 2


def test_limit_takes_the_first_questions(wiki: Path) -> None:
    questions = _questions(wiki / "q.jsonl", [json.dumps(q) for q in GOOD])
    result = CliRunner().invoke(app, ["eval", str(questions), "--json", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["questions"] == 1


def test_missing_questions_file_exits_1_with_the_path(
    wiki: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["askwiki", "eval", str(wiki / "nope.jsonl")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    assert "nope.jsonl" in capsys.readouterr().err


def test_today_sets_the_date_the_answer_prompt_states(
    wiki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = FakeLLM(["LoRA was introduced in 2021 [1]."])
    monkeypatch.setattr(llm_factory, "create_backend", lambda settings: llm)
    questions = _questions(wiki / "q.jsonl", [json.dumps(GOOD[0])])
    args = ["eval", str(questions), "--answers", "--today", "2025-11-11", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Today's date: 2025-11-11 (Tuesday)" in llm.calls[-1].messages[-1].content
    assert json.loads(result.stdout)["summary"]["answer_accuracy"] == 1.0

    bad = CliRunner().invoke(app, ["eval", str(questions), "--today", "11/11/2025"])
    assert bad.exit_code == 2 and "--today" in bad.output
