"""Evaluation questions: one JSON object per line, read and checked line by line.

    {"question": "...", "answers": ["..."], "sources": ["rag/overview.md"],
     "history": [{"role": "user", "content": "..."}, {"role": "assistant", ...}]}

Only ``question`` is required. A question with neither ``answers`` nor ``sources`` is one
the wiki should *not* answer: it is scored as a refusal. A bad line is reported with its
number and skipped; the rest of the file is still evaluated.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast, get_args

from askwiki.errors import EvalFileError
from askwiki.evaluation.metrics import Gold
from askwiki.llm.base import ChatMessage, Role

logger = logging.getLogger(__name__)

ROLES: tuple[str, ...] = get_args(Role)


@dataclass(frozen=True)
class EvalQuestion:
    """One question with its gold answers/sources and the conversation before it."""

    question: str
    answers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    history: tuple[ChatMessage, ...] = ()
    line: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def gold(self) -> Gold:
        return Gold(self.answers, self.sources)


@dataclass(frozen=True)
class BadLine:
    """A line that is not a valid question, with what is wrong with it."""

    line: int
    reason: str


class QuestionFormatError(ValueError):
    """A JSON object that is not a valid evaluation question."""


def _strings(value: object, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise QuestionFormatError(f"'{key}' must be a list of strings")
    return tuple(item for item in value if item.strip())


def _history(value: object) -> tuple[ChatMessage, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise QuestionFormatError('\'history\' must be a list of {"role", "content"} objects')
    turns: list[ChatMessage] = []
    for n, turn in enumerate(value, start=1):
        if not isinstance(turn, dict):
            raise QuestionFormatError(f"history turn {n} is not an object")
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            raise QuestionFormatError(
                f"history turn {n}: role must be one of {', '.join(ROLES)}, not {role!r}"
            )
        if not isinstance(content, str):
            raise QuestionFormatError(f"history turn {n}: 'content' must be a string")
        turns.append(ChatMessage(cast(Role, role), content))
    return tuple(turns)


def parse_question(value: object, line: int = 0) -> EvalQuestion:
    """One decoded JSON value as a question; raises ``QuestionFormatError`` saying why not."""
    if not isinstance(value, dict):
        raise QuestionFormatError(f"expected a JSON object, got {type(value).__name__}")
    question = value.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionFormatError("'question' must be a non-empty string")
    known = {"question", "answers", "sources", "history"}
    return EvalQuestion(
        question=question.strip(),
        answers=_strings(value.get("answers"), "answers"),
        sources=_strings(value.get("sources"), "sources"),
        history=_history(value.get("history")),
        line=line,
        extra={k: v for k, v in value.items() if k not in known},
    )


def parse_lines(lines: Sequence[str]) -> tuple[list[EvalQuestion], list[BadLine]]:
    """Questions of the good lines and a ``BadLine`` for each bad one; blank lines skipped."""
    questions: list[EvalQuestion] = []
    bad: list[BadLine] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.removeprefix("\ufeff").strip()
        if not text:
            continue
        try:
            questions.append(parse_question(json.loads(text), number))
        except json.JSONDecodeError as exc:
            bad.append(BadLine(number, f"not valid JSON: {exc.msg} at column {exc.colno}"))
        except QuestionFormatError as exc:
            bad.append(BadLine(number, str(exc)))
    for item in bad:
        logger.warning("Questions line %d skipped: %s", item.line, item.reason)
    return questions, bad


def load_questions(path: Path) -> tuple[list[EvalQuestion], list[BadLine]]:
    """Read a questions file; ``EvalFileError`` when it is missing, unreadable or empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise EvalFileError(
            f"No questions file at {path}; give a JSONL file with one "
            '{"question": ..., "answers": [...]} object per line'
        ) from exc
    except OSError as exc:
        raise EvalFileError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    lines: list[str] = []
    undecodable: list[BadLine] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            lines.append("")  # keeps the numbering of the lines after it
            undecodable.append(BadLine(number, f"not valid UTF-8 at byte {exc.start}"))
            logger.warning("Questions line %d skipped: not valid UTF-8", number)
    questions, bad = parse_lines(lines)
    bad = sorted([*bad, *undecodable], key=lambda item: item.line)
    if not questions and not bad:
        raise EvalFileError(f"{path} holds no questions; add one JSON object per line")
    return questions, bad
