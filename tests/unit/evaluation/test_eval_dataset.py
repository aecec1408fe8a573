"""Reading evaluation questions: good lines become questions, bad lines are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from askwiki.errors import EvalFileError
from askwiki.evaluation.dataset import BadLine, EvalQuestion, load_questions, parse_lines
from askwiki.llm.base import ChatMessage


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"question": "What is b?"}', EvalQuestion("What is b?", line=1)),
        (
            '{"question": " b? ", "answers": ["0.75"], "sources": ["bm25.md"]}',
            EvalQuestion("b?", ("0.75",), ("bm25.md",), line=1),
        ),
        ('{"question": "b?", "answers": "0.75"}', EvalQuestion("b?", ("0.75",), line=1)),
        ('{"question": "b?", "answers": ["0.75", " "]}', EvalQuestion("b?", ("0.75",), line=1)),
        (
            '{"question": "And k1?", "history": [{"role": "user", "content": "What is b?"}, '
            '{"role": "assistant", "content": "0.75"}]}',
            EvalQuestion(
                "And k1?",
                history=(ChatMessage("user", "What is b?"), ChatMessage("assistant", "0.75")),
                line=1,
            ),
        ),
    ],
)
def test_parse_good_line(line: str, expected: EvalQuestion) -> None:
    questions, bad = parse_lines([line])
    assert bad == []
    assert questions == [expected]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"question": "b?"', "not valid JSON"),
        ('["b?"]', "expected a JSON object, got list"),
        ('{"answers": ["x"]}', "'question' must be a non-empty string"),
        ('{"question": "   "}', "'question' must be a non-empty string"),
        ('{"question": "b?", "answers": [1]}', "'answers' must be a list of strings"),
        ('{"question": "b?", "sources": {"a": 1}}', "'sources' must be a list of strings"),
        ('{"question": "b?", "history": "hi"}', "'history' must be a list"),
        ('{"question": "b?", "history": [{"role": "bot", "content": "x"}]}', "role must be one of"),
        ('{"question": "b?", "history": [{"role": "user"}]}', "'content' must be a string"),
    ],
)
def test_parse_bad_line_says_why(line: str, reason: str) -> None:
    questions, bad = parse_lines(["", line])
    assert questions == []
    assert len(bad) == 1
    assert bad[0].line == 2
    assert reason in bad[0].reason


def test_unknown_keys_are_kept_as_extra() -> None:
    questions, _ = parse_lines(['{"question": "b?", "type": "single", "id": 7}'])
    assert questions[0].extra == {"type": "single", "id": 7}


def test_load_questions_reports_bad_lines_with_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"question": "one?"}\n'
        b"\n"
        b'{"question": \xff}\n'
        b"not json\n"
        b'{"question": "five?", "answers": ["5"]}\n'
    )
    questions, bad = load_questions(path)
    assert [(q.line, q.question) for q in questions] == [(1, "one?"), (5, "five?")]
    assert [item.line for item in bad] == [3, 4]
    assert bad[0] == BadLine(3, "not valid UTF-8 at byte 13")


def test_missing_file_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match=r"No questions file at .*missing\.jsonl"):
        load_questions(tmp_path / "missing.jsonl")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(EvalFileError, match="holds no questions"):
        load_questions(path)
