"""Cross-language retrieval: a question's gold passage is in the other language.

Run through ``python bench/retrieval.py --cross-language``.

XQuAD holds the same 240 Wikipedia passages and questions in Chinese and English. Its
passages are split in two seeded halves: half A is indexed in Chinese only, half B in
English only, and CMRC 2018 passages are pooled in as Chinese distractors, so every
question has distractors in both languages and exactly one gold passage. Each sampled
XQuAD question is asked in both of its parallel versions:

- zh→en: B's questions in Chinese (gold passage English); en→en: the same questions in English;
- en→zh: A's questions in English (gold passage Chinese); zh→zh: the same questions in Chinese;
- cmrc zh→zh: CMRC's own questions, which checks that Chinese distractors stay in their place.

A hit is a retrieved chunk of the gold passage (the document id is compared, since the
gold answer string is in the passage's language, not the question's).

With ``--translate`` every question is also translated by the configured LLM
(``ASKWIKI_TRANSLATE_QUESTIONS``, ``askwiki.answering.translation``) once, before the
methods run, and two more methods search with the question and its translation; the
translation time is reported apart from the search latency (it adds to time to first token).
With ``--human-translations`` as well, each XQuAD question's translation is its parallel
version written by XQuAD's translators instead of the LLM's: how far the same methods go
with a perfect translator (CMRC's questions are then searched untranslated).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document as LCDocument
from langchain_text_splitters import RecursiveCharacterTextSplitter

from askwiki.answering.translation import QuestionTranslator
from askwiki.bilingual_dictionary import bilingual_dictionary
from askwiki.embedding.embedder import Embedder
from askwiki.ingest.pipeline import run_ingest
from askwiki.langchain import AskwikiEmbeddings
from askwiki.language_legs import QueryForm
from askwiki.llm.base import ChatMessage
from askwiki.llm.factory import create_backend
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from askwiki.store.dense import search_dense
from askwiki.store.index import WikiIndex, open_index
from bench.common import (
    load_qa_set,
    percentile,
    print_table,
    say,
    seeded_sample,
    timed,
    write_jsonl,
    xquad_human_translations,
)

BASELINE = "LangChain tutorial"
DIRECTIONS = ("zh→en", "en→en", "en→zh", "zh→zh", "cmrc zh→zh")
# (cross-language direction, its same-language parallel)
PAIRS = (("zh→en", "en→en"), ("en→zh", "zh→zh"))
DocSearch = Callable[[str], list[str]]
# Kept in ``--work``: a re-run compares methods on the same translations without the LLM.
TRANSLATIONS_FILE = "translations.json"


@dataclass
class CrossScores:
    """Per direction, each question's first-hit rank (0 = missed); latencies of one method."""

    ranks: dict[str, list[int]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)


@dataclass
class Translations:
    """Each question's LLM translation (None: unusable or failed) and its time per direction."""

    text: dict[str, str | None] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    failed: int = 0
    load_s: float = 0.0


@dataclass
class Corpus:
    passages: list[dict[str, object]]
    questions: dict[str, list[tuple[str, str]]]  # direction -> (question, gold doc id)


def build_corpus(limit: int, cmrc_passages: int, seed: int) -> Corpus:
    zh, en = load_qa_set("xquad-zh"), load_qa_set("xquad-en")
    cmrc = load_qa_set("cmrc", cmrc_passages)
    ids = sorted(p["id"].split("/", 1)[1] for p in zh.passages)
    random.Random(seed).shuffle(ids)
    half_a = set(ids[: len(ids) // 2])  # indexed in Chinese
    passages = [p for p in zh.passages if _raw(p["id"]) in half_a]
    passages += [p for p in en.passages if _raw(p["id"]) not in half_a]
    passages += cmrc.passages
    english = {q["id"]: q for q in en.questions}
    a_questions = [q for q in zh.questions if _raw(q["passage_id"]) in half_a]
    b_questions = [q for q in zh.questions if _raw(q["passage_id"]) not in half_a]
    questions: dict[str, list[tuple[str, str]]] = {d: [] for d in DIRECTIONS}
    for q in seeded_sample(b_questions, limit, seed):
        gold = f"xquad-en/{_raw(q['passage_id'])}"
        questions["zh→en"].append((q["question"], gold))
        questions["en→en"].append((english[q["id"]]["question"], gold))
    for q in seeded_sample(a_questions, limit, seed):
        questions["en→zh"].append((english[q["id"]]["question"], q["passage_id"]))
        questions["zh→zh"].append((q["question"], q["passage_id"]))
    for q in seeded_sample(cmrc.questions, limit, seed):
        questions["cmrc zh→zh"].append((q["question"], q["passage_id"]))
    return Corpus(passages, questions)


def _langchain_store(corpus: Corpus, embedder: Embedder, folder: Path) -> FAISS:
    """The tutorial pipeline's store; kept in ``--work`` so a re-run does not re-embed."""
    embeddings = AskwikiEmbeddings(embedder)
    if (folder / "index.faiss").is_file():
        return FAISS.load_local(str(folder), embeddings, allow_dangerous_deserialization=True)
    pages = [
        LCDocument(page_content=str(p["text"]), metadata={"id": p["id"]}) for p in corpus.passages
    ]
    store = FAISS.from_documents(
        RecursiveCharacterTextSplitter().split_documents(pages), embeddings
    )
    store.save_local(str(folder))
    return store


def _stored_translations(work: Path) -> dict[str, tuple[str | None, float]]:
    """Translations (and the seconds they took) of an earlier run in the same ``--work``."""
    path = work / TRANSLATIONS_FILE
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text("utf-8"))
    return {q: (text, float(seconds)) for q, (text, seconds) in raw.items()}


def _human_translations(questions: list[str]) -> dict[str, tuple[str | None, float]]:
    """XQuAD's own parallel questions as the translations, taking no time; CMRC's
    questions have none and are searched alone."""
    pairs = xquad_human_translations()
    return {q: (pairs.get(q), 0.0) for q in questions}


def _raw(set_id: object) -> str:
    return str(set_id).split("/", 1)[1]


def first_doc_hit(doc_ids: list[str], gold: str) -> int:
    return next((rank for rank, d in enumerate(doc_ids, start=1) if d == gold), 0)


def askwiki_doc_methods(
    index: WikiIndex, settings: Settings, embedder: Embedder, k: int
) -> dict[str, DocSearch]:
    options = replace(retrieval_options(settings), cross_language=True)
    today = Retriever(index, embedder, replace(options, cross_language=False))
    crossing = Retriever(index, embedder, options)
    no_floor = Retriever(index, embedder, replace(options, min_dense_score=-1.0))
    dictionary = Retriever(index, embedder, replace(options, bilingual_dictionary=True))
    dictionary_no_floor = Retriever(
        index, embedder, replace(dictionary.options, min_dense_score=-1.0)
    )

    def docs(rows: list[tuple[int, float]]) -> list[str]:
        found = index.docstore.chunks_by_rows([r for r, _ in rows])
        return [found[r].chunk.doc_id for r, _ in rows if r in found]

    return {
        "askwiki hybrid, cross-language (default)": lambda q: [
            p.chunk.doc_id for p in crossing.search(q, k).passages
        ],
        "askwiki hybrid, cross-language, no floor": lambda q: [
            p.chunk.doc_id for p in no_floor.search(q, k).passages
        ],
        "askwiki hybrid, cross-language + CC-CEDICT": lambda q: [
            p.chunk.doc_id for p in dictionary.search(q, k).passages
        ],
        "askwiki hybrid, cross-language + CC-CEDICT, no floor": lambda q: [
            p.chunk.doc_id for p in dictionary_no_floor.search(q, k).passages
        ],
        "askwiki hybrid, before (cross-language off)": lambda q: [
            p.chunk.doc_id for p in today.search(q, k).passages
        ],
        "dense leg alone": lambda q: docs(
            search_dense(index.dense, embedder.embed_queries([q])[0], k)
        ),
    }


def translated_doc_methods(
    index: WikiIndex, settings: Settings, embedder: Embedder, k: int, translations: Translations
) -> dict[str, DocSearch]:
    """Searches with the question and its translation (embedded here, inside the timing)."""
    plain = Retriever(index, embedder, replace(retrieval_options(settings), cross_language=False))
    crossing = Retriever(index, embedder, replace(plain.options, cross_language=True))

    def search(retriever: Retriever) -> DocSearch:
        return lambda q: [
            p.chunk.doc_id
            for p in retriever.search(q, k, translation=translations.text.get(q)).passages
        ]

    dictionary = Retriever(index, embedder, replace(crossing.options, bilingual_dictionary=True))
    pooled = PooledTranslation(index, embedder, plain.options)
    no_headings = replace(plain.options, heading_weight=0.0, translated_reader_words=False)
    return {
        "askwiki hybrid + LLM translation": search(plain),
        "askwiki hybrid + LLM translation, no heading leg or reader's words": search(
            Retriever(index, embedder, no_headings)
        ),
        "askwiki hybrid, cross-language + LLM translation": search(crossing),
        "askwiki hybrid, cross-language + CC-CEDICT + LLM translation": search(dictionary),
        "translation, every leg over every passage (before)": search(pooled),
    }


class PooledTranslation(Retriever):
    """The first use of the translation, kept as a baseline: the question's and the
    translation's legs fused over passages of both languages, a passage passing the floor
    for either (no language forms)."""

    def _forms(self, queries: list[tuple[str, np.ndarray]]) -> list[QueryForm] | None:
        return None


def run_cross_language(
    settings: Settings,
    embedder: Embedder,
    shared: Embedder,
    prepare: Callable[[str], float],
    work: Path,
    args: argparse.Namespace,
) -> None:
    limit, k, seed = args.limit, args.k, args.seed
    corpus = build_corpus(limit, args.passages or 200, seed)
    files = [write_jsonl(work / "bilingual.jsonl", corpus.passages)]
    say(f"cross-language: ingesting {len(corpus.passages)} passages")
    report_, ingest_s = timed(lambda: run_ingest(files, settings, embedder))
    say(f"askwiki: {report_.chunks} chunks in {ingest_s:.0f} s; LangChain baseline")
    store = _langchain_store(corpus, embedder, work / "langchain")
    store.embedding_function = AskwikiEmbeddings(shared)
    index = open_index(settings.index_path)
    # Read before the timed questions: its one-off load is not a search's latency.
    _, dictionary_s = timed(bilingual_dictionary)
    say(f"CC-CEDICT read in {dictionary_s:.1f} s")
    methods = askwiki_doc_methods(index, settings, shared, k)
    methods[BASELINE] = lambda q: [str(d.metadata["id"]) for d in store.similarity_search(q, k=k)]
    translations = Translations()
    translator: QuestionTranslator | None = None
    human = args.human_translations
    asked_all = [q for items in corpus.questions.values() for q, _ in items]
    stored = _human_translations(asked_all) if human else _stored_translations(work)
    if args.translate:
        llm = create_backend(settings)
        if any(q not in stored for q in asked_all):
            say(f"translating with {llm.name}:{llm.model}; loading it")
            _, translations.load_s = timed(
                lambda: llm.chat([ChatMessage("user", "Hi")], max_tokens=1, temperature=0.0)
            )
        translator = QuestionTranslator(lambda: llm)
        methods |= translated_doc_methods(index, settings, shared, k, translations)
    scores = {name: CrossScores() for name in methods}
    names = list(methods)
    asked = 0
    for direction, items in corpus.questions.items():
        for name in names:
            scores[name].ranks[direction] = []
        translations.seconds[direction] = []
        for question, gold in items:
            prepare(question)
            if translator is not None:
                if question not in stored:
                    translation = translator.translate(question)
                    stored[question] = (translation.text, translation.seconds)
                text, seconds = stored[question]
                translations.text[question] = text
                translations.seconds[direction].append(seconds)
                translations.failed += text is None
            shift = asked % len(names)
            asked += 1
            for name in names[shift:] + names[:shift]:
                found, seconds = timed(partial(methods[name], question))
                scores[name].ranks[direction].append(first_doc_hit(found, gold))
                scores[name].seconds.append(seconds)
    index.close()
    if stored and not human:
        (work / TRANSLATIONS_FILE).write_text(json.dumps(stored, ensure_ascii=False), "utf-8")
    report_cross(scores, k, corpus, getattr(args, "machine", ""))
    if human:
        print("Translations: XQuAD's own parallel questions (--human-translations), not the LLM's.")
    elif translator is not None:
        report_translations(translations)


def report_translations(translations: Translations) -> None:
    rows: list[list[object]] = [
        [
            direction,
            len(seconds),
            f"{sum(seconds) / len(seconds) * 1000:.0f}" if seconds else "-",
            f"{percentile(seconds, 95) * 1000:.0f}" if seconds else "-",
        ]
        for direction, seconds in translations.seconds.items()
    ]
    print_table(
        "LLM translation of the question (adds to time to first token; not in search ms)",
        ["direction", "questions", "mean ms", "p95 ms"],
        rows,
    )
    print(
        f"Unusable or failed translations (searched with the question alone): "
        f"{translations.failed}. Model load before the run: {translations.load_s:.1f} s."
    )


def _hit(ranks: list[int], k: int) -> float:
    return sum(1 for r in ranks if 0 < r <= k) / len(ranks) if ranks else 0.0


def _mrr(ranks: list[int]) -> float:
    return sum(1 / r for r in ranks if r > 0) / len(ranks) if ranks else 0.0


def report_cross(scores: dict[str, CrossScores], k: int, corpus: Corpus, machine: str) -> None:
    rows: list[list[object]] = []
    for name, s in scores.items():
        for direction in DIRECTIONS:
            ranks = s.ranks[direction]
            rows.append([
                name, direction, len(ranks), f"{_hit(ranks, 1):.3f}", f"{_hit(ranks, 5):.3f}",
                f"{_mrr(ranks):.3f}",
            ])  # fmt: skip
    print_table(
        f"Cross-language retrieval, XQuAD halves zh/en + CMRC distractors, k={k} ({machine})",
        ["method", "direction", "questions", "hit@1", "hit@5", f"MRR@{k}"],
        rows,
    )
    gaps: list[list[object]] = []
    for name, s in scores.items():
        cells: list[object] = [name]
        for cross, same in PAIRS:
            cells.append(f"{(_hit(s.ranks[cross], 1) - _hit(s.ranks[same], 1)) * 100:+.1f}")
        cells += [
            f"{percentile(s.seconds, 50) * 1000:.1f}",
            f"{percentile(s.seconds, 95) * 1000:.1f}",
        ]
        gaps.append(cells)
    print_table(
        "hit@1 gap, cross-language minus its parallel same-language questions (points)",
        ["method", "zh→en vs en→en", "en→zh vs zh→zh", "search p50 ms", "search p95 ms"],
        gaps,
    )
    print(
        f"Passages indexed: {len(corpus.passages)}. Search latency excludes the shared "
        "query embedding."
    )
