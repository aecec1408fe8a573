"""The mapping between the question log's rows and its records (tables: ``askwiki.database``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from askwiki.answering.types import Source
from askwiki.questions.store import QuestionSummary, Vector
from askwiki.questions.text import answer_snippet


def vector_from_blob(blob: bytes | memoryview | None) -> Vector | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32).copy()


def summary_from_row(row: Mapping[Any, Any], asks: int) -> QuestionSummary:
    return QuestionSummary(
        id=row["id"],
        question=row["question"],
        asked_at=row["asked_at"],
        answer_snippet=answer_snippet(row["answer"]),
        status=row["status"],
        language=row["language"],
        asks=asks,
        hidden=bool(row.get("hidden", 0)),
        up=int(row.get("up") or 0),
        down=int(row.get("down") or 0),
        curated=bool(row.get("curated", 0)),
    )


def source_row(question_id: str, source: Source) -> dict[str, object]:
    """The row of one source in ``sources`` or ``closest_pages`` (the same columns)."""
    return {
        "question_id": question_id,
        "n": source.n,
        "source_id": source.id,
        "doc_id": source.doc_id,
        "title": source.title,
        "section": source.section,
        "url": source.url,
        "excerpt": source.excerpt,
        "score": source.score,
        "cited": int(source.cited),
        "page": source.page,
        "chunk_ids": json.dumps(source.chunk_ids),
    }


def source_from_row(row: Mapping[Any, Any]) -> Source:
    return Source(
        n=row["n"],
        id=row["source_id"],
        doc_id=row["doc_id"],
        title=row["title"],
        section=row["section"],
        url=row["url"],
        excerpt=row["excerpt"],
        score=row["score"],
        cited=bool(row["cited"]),
        page=row["page"],
        chunk_ids=json.loads(row["chunk_ids"]),
    )
