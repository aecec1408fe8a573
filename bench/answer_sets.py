"""The two answer-quality sets of ``bench/answers.py``: GitLab Handbook and CMRC 2018 dev.

Both become ``EvalQuestion`` lists (the format ``askwiki eval`` reads) plus the corpus to
index, so askwiki is scored by the same runner a user runs.

GitLab Handbook (250 questions, gold answers are short free text):
- Gold evidence files come from each question's ``retrieval`` list. For the types
  "Contextual Anaphora" and "Negation Exclusion" the *first* entry is the decoy page the
  question is built to lure a naive retriever to (the data's own ``think`` field says so,
  e.g. "This will mislead the RAG to search ``company/structure.md``"), so it is left out.
- Follow-ups carry the previous question in ``context``; it becomes a one-turn history.
- Temporal answers are ISO dates relative to 2025-11-11; the usual written forms
  ("November 1, 2025", "1 November 2025", "2025年11月1日") count as the same answer.
- Questions are interleaved by type, so any prefix (``--limit``) mixes all six types.

CMRC 2018 dev: a fixed sample of 200 questions (``random.Random(2018)``); gold answers are
exact passage substrings, the gold source is the passage id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from askwiki.embedding.embedder import Embedder
from askwiki.evaluation import EvalQuestion
from askwiki.evaluation.metrics import source_matches
from askwiki.ingest.pipeline import IngestReport, open_writer, publish_version, run_ingest
from askwiki.live_index import LiveIndex
from askwiki.llm.base import ChatMessage
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from bench.common import DATASETS, read_jsonl, seeded_sample, write_jsonl

HANDBOOK = DATASETS / "gitlab-handbook"
HANDBOOK_PAGES = HANDBOOK / "content" / "handbook"
CMRC = DATASETS / "cmrc2018-dev"
CMRC_SAMPLE = 200
SEED = 2018
HANDBOOK_SET = "gitlab-handbook"
HANDBOOK_TODAY = dt.date(2025, 11, 11)
DECOY_FIRST = frozenset({"Contextual Anaphora", "Negation Exclusion"})
SMOKE_EXTRA_PAGES = 4
SMOKE_EXTRA_PASSAGES = 54


@dataclass
class AnswerSet:
    """Questions and the corpus both systems index (a folder of pages or a JSONL file)."""

    name: str
    questions: list[EvalQuestion]
    corpus: Path
    # (doc_id, text) of every page, for the LangChain baseline's loader.
    pages: list[tuple[str, str]]
    # The date the set's questions are asked on ("the current fiscal quarter").
    today: Callable[[], dt.date] = dt.date.today


def passage_is_gold(question: EvalQuestion, doc_id: str, text: str, file_level: bool) -> bool:
    """Handbook (``file_level``): from a gold evidence file, since its answers like "10"
    match any page as text. Otherwise: from the gold passage or holding a gold answer."""
    if file_level:
        return source_matches(doc_id, question.sources)
    return question.gold.matches(doc_id, text)


def date_forms(value: str) -> list[str]:
    """An ISO date and the ways an answer may write it; other values unchanged."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return [value]
    month = day.strftime("%B")
    return [
        value,
        f"{month} {day.day}, {day.year}",
        f"{month[:3]} {day.day}, {day.year}",
        f"{day.day} {month} {day.year}",
        f"{day.year}年{day.month}月{day.day}日",
    ]


def evidence_files(row: dict[str, object]) -> list[str]:
    entries = list(row["retrieval"])  # type: ignore[call-overload]
    if row["type"] in DECOY_FIRST and len(entries) > 1:
        entries = entries[1:]
    return sorted({name for entry in entries for name in entry})


def handbook_questions() -> list[EvalQuestion]:
    """All 250 questions, interleaved by type (the files' order within a type kept)."""
    by_type: list[list[EvalQuestion]] = []
    for path in sorted((HANDBOOK / "questions").glob("*.jsonl")):
        items = []
        for row in read_jsonl(path):
            context = str(row.get("context") or "").strip()
            items.append(
                EvalQuestion(
                    question=str(row["question"]),
                    answers=tuple(date_forms(str(row["answer"]))),
                    sources=tuple(evidence_files(row)),
                    history=(ChatMessage("user", context),) if context else (),
                    extra={"set": HANDBOOK_SET, "type": row["type"], "id": row["id"]},
                )
            )
        by_type.append(items)
    mixed = itertools.chain.from_iterable(itertools.zip_longest(*by_type))
    return [q for q in mixed if q is not None]


def cmrc_questions() -> list[EvalQuestion]:
    """The fixed 200-question sample of CMRC 2018 dev."""
    rows = seeded_sample(read_jsonl(CMRC / "questions.jsonl"), CMRC_SAMPLE, SEED)
    return [
        EvalQuestion(
            question=str(row["question"]),
            answers=tuple(str(a) for a in row["answers"]),
            sources=(str(row["passage_id"]),),
            extra={"set": "cmrc2018", "type": "cmrc", "id": row["id"]},
        )
        for row in rows
    ]


def handbook_set(questions: list[EvalQuestion], work: Path, subset: bool) -> AnswerSet:
    """The handbook as it is; with ``subset``, only the pages the questions name plus a few.

    The subset (for ``--smoke``) is copied under ``work`` with its relative paths, so doc
    ids stay ``communication/chat.md`` as in the full wiki.
    """
    files = sorted(p.relative_to(HANDBOOK_PAGES).as_posix() for p in HANDBOOK_PAGES.rglob("*.md"))
    corpus = HANDBOOK_PAGES
    if subset:
        named = {f for q in questions for f in q.sources} & set(files)
        decoys = {f for q in questions for f in _decoys(q)} & set(files)
        small = [f for f in files if f not in named | decoys and _size(f) < 30_000]
        extra = random.Random(SEED).sample(small, min(SMOKE_EXTRA_PAGES, len(small)))
        files = sorted(named | decoys | set(extra))
        corpus = work / "handbook-subset"
        shutil.rmtree(corpus, ignore_errors=True)
        for name in files:
            target = corpus / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(HANDBOOK_PAGES / name, target)
    pages = [(name, (corpus / name).read_text(encoding="utf-8")) for name in files]
    return AnswerSet(HANDBOOK_SET, questions, corpus, pages, today=lambda: HANDBOOK_TODAY)


def _decoys(question: EvalQuestion) -> list[str]:
    """Pages the question lures to; indexed in the smoke subset too, as in the full wiki."""
    if question.extra.get("type") not in DECOY_FIRST:
        return []
    for path in (HANDBOOK / "questions").glob("*.jsonl"):
        for row in read_jsonl(path):
            if row["type"] == question.extra["type"] and row["id"] == question.extra["id"]:
                return list(row["retrieval"][0])
    return []


def _size(name: str) -> int:
    return (HANDBOOK_PAGES / name).stat().st_size


def cmrc_set(questions: list[EvalQuestion], work: Path, subset: bool) -> AnswerSet:
    """All 848 passages as one JSONL wiki; with ``subset``, the gold ones plus 54 others."""
    passages = read_jsonl(CMRC / "passages.jsonl")
    if subset:
        gold = {s for q in questions for s in q.sources}
        others = [p for p in passages if p["id"] not in gold]
        extra = {p["id"] for p in random.Random(SEED).sample(others, SMOKE_EXTRA_PASSAGES)}
        passages = [p for p in passages if p["id"] in gold | extra]
    work.mkdir(parents=True, exist_ok=True)
    corpus = write_jsonl(work / ("cmrc-subset.jsonl" if subset else "cmrc.jsonl"), passages)
    pages = [(str(p["id"]), str(p["text"])) for p in passages]
    return AnswerSet("cmrc2018", questions, corpus, pages)


def fingerprint(answer_set: AnswerSet) -> str:
    """Changes when the corpus changes: names the cached indexes."""
    digest = hashlib.sha256()
    for doc_id, text in answer_set.pages:
        digest.update(json.dumps([doc_id, text], ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:12]


@dataclass
class SetIndex:
    """A set's askwiki index, loaded: its settings, the live index and the ingest report."""

    settings: Settings
    live: LiveIndex
    ingest: IngestReport


def seed_index(index_path: Path) -> None:
    """Start a new index of a set from the newest other index of the same set, if any.

    The writer reuses the vectors of unchanged chunks and deletes the pages the corpus no
    longer has, so a corpus with a few pages taken out costs no re-embedding.
    """
    if index_path.exists():
        return
    prefix = index_path.name.rsplit("-", 1)[0] + "-"
    siblings = [
        p
        for p in index_path.parent.glob(prefix + "*")
        if (p / "CURRENT").is_file()  # published: not one still being written
    ]
    if siblings:
        newest = max(siblings, key=lambda p: (p / "CURRENT").stat().st_mtime)
        shutil.copytree(newest, index_path, ignore=shutil.ignore_patterns(".writer.lock"))


def drop_foreign_pages(
    answer_set: AnswerSet, settings: Settings, embedder: Embedder, report: IngestReport
) -> None:
    """Delete the pages a seeded index brought from its sibling that this set does not have.

    The ingest's prune only deletes documents of the files it scans, and a sibling's came
    from another corpus file (the full CMRC JSONL): without this, an absent-page set's index
    kept every page it was meant to lack.
    """
    wanted = {doc_id for doc_id, _ in answer_set.pages}
    with open_writer(settings, embedder) as writer:
        existing = set(writer.existing_documents())
        if not existing & wanted:
            return  # ids not comparable: leave the index as the ingest made it
        for doc_id in sorted(existing - wanted):
            writer.delete(doc_id)
            report.deleted.append(doc_id)
        publish_version(writer, report, {"sources": [str(answer_set.corpus)]}, settings)


def open_set_index(answer_set: AnswerSet, settings: Settings, embedder: Embedder) -> SetIndex:
    """Index the set with the real pipeline (a no-op when the cached index is current)."""
    index_settings = settings.model_copy(
        update={"index": f"bench-{answer_set.name}-{fingerprint(answer_set)}"}
    )
    seed_index(index_settings.index_path)
    # prune: the index mirrors the corpus file too, not only a folder of pages.
    report = run_ingest([answer_set.corpus], index_settings, embedder, prune=True)
    drop_foreign_pages(answer_set, index_settings, embedder, report)
    live = LiveIndex(index_settings.index_path, embedder, retrieval_options(index_settings))
    live.load()
    return SetIndex(index_settings, live, report)
