"""Cross-language doc-hit@1 on the example wiki, with and without LLM question translation.

    python bench/example_cross_language.py [--work DIR]

Asks the 52 questions of ``tests/fixtures/crosslingual/example_wiki_questions.jsonl`` (each
in the other language than the page that answers it, or in traditional Chinese) of
``examples/wiki`` ingested by the real pipeline, and counts the questions whose first
passage is from that page (the relevance floor as configured: a refused question misses).
The 20 questions of ``example_wiki_same_language.jsonl`` (pages asked in their own language)
are asked the same ways: translating a question must not cost the pages it already finds.
Each question is translated once by the configured LLM (``ASKWIKI_TRANSLATE_QUESTIONS``);
translations are kept in ``--work`` with the index, so a re-run needs no LLM.

Then the misses of the ways the product can search (``MISSES_OF``): the question, its
translation, the expected page, the first pages returned or "refused" and, for a refusal,
why the relevance floor refused each form of the question (its absent-word share, or its
best candidate's cosine and keyword coverage against the thresholds) and where the
expected page ranks among the candidates.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askwiki.answering.translation import QuestionTranslator
from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.ingest.pipeline import run_ingest
from askwiki.llm.factory import create_backend
from askwiki.passages import Passage, best_per_page, page_key
from askwiki.retrieval import RetrievalResult, Retriever
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings
from askwiki.standout import page_standout
from askwiki.store.index import open_index
from askwiki.store.layout import current_version
from askwiki.text import detect_language, keyword_tokens
from bench.common import machine_line, print_table, quiet_logs, say, temp_dir
from bench.cross_language import TRANSLATIONS_FILE, PooledTranslation

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "fixtures" / "crosslingual" / "example_wiki_questions.jsonl"
# The same pages asked in their own language: what translating costs or gains there.
SAME_LANGUAGE = QUESTIONS.with_name("example_wiki_same_language.jsonl")
# The methods whose misses are listed: the product's two ways across languages.
MISSES_OF = (
    "translation by language, cross-language off",
    "no translation, cross-language on",
)


def translate_all(
    questions: list[str], settings: Settings, work: Path
) -> dict[str, tuple[str | None, float]]:
    path = work / TRANSLATIONS_FILE
    stored = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    missing = [q for q in questions if q not in stored]
    if missing:
        llm = create_backend(settings)
        translator = QuestionTranslator(lambda: llm)
        say(f"translating {len(missing)} questions with {llm.name}:{llm.model}")
        for question in missing:
            translation = translator.translate(question)
            stored[question] = (translation.text, translation.seconds)
        path.write_text(json.dumps(stored, ensure_ascii=False), "utf-8")
    return {q: (text, float(seconds)) for q, (text, seconds) in stored.items()}


def example_index(work: Path, **overrides: object) -> tuple[Settings, Embedder]:
    """Settings and embedder for ``examples/wiki`` indexed under ``work`` (ingested once)."""
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        index_dir=work / "indexes",
        index="example",
        data_dir=work / "data",
        _env_file=None,  # type: ignore[call-arg]
        **overrides,
    )
    embedder = load_embedder(settings)
    # An ingest cut short leaves the folder with nothing published: ingest again.
    if current_version(settings.index_path) is None:
        say("ingesting examples/wiki")
        run_ingest([ROOT / "examples" / "wiki"], settings, embedder)
    return settings, embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="keep the index here")
    args = parser.parse_args()
    quiet_logs()
    work = args.work or temp_dir("example-cross-language")
    settings, embedder = example_index(work)
    items = [
        json.loads(line)
        for path in (QUESTIONS, SAME_LANGUAGE)
        for line in path.read_text("utf-8").splitlines()
        if line
    ]
    translations = translate_all([i["question"] for i in items], settings, work)
    index = open_index(settings.index_path)
    options = retrieval_options(settings)
    methods: dict[str, tuple[Retriever, bool]] = {}
    for crossing in (False, True):
        label = "on" if crossing else "off"
        crossed = replace(options, cross_language=crossing)
        methods[f"no translation, cross-language {label}"] = (
            Retriever(index, embedder, crossed),
            False,
        )
        methods[f"translation by language, cross-language {label}"] = (
            Retriever(index, embedder, crossed),
            True,
        )
        methods[f"translation, every leg over every passage (before), cross-language {label}"] = (
            PooledTranslation(index, embedder, crossed),
            True,
        )
    # Before the heading leg and the reader's-words rule for a translation (issue 13).
    methods["translation by language, cross-language off, no heading leg or reader's words"] = (
        Retriever(
            index, embedder, replace(options, heading_weight=0.0, translated_reader_words=False)
        ),
        True,
    )
    methods["translation by language, cross-language off, heading leg only"] = (
        Retriever(index, embedder, replace(options, translated_reader_words=False)),
        True,
    )
    dictionary = replace(options, cross_language=True, bilingual_dictionary=True)
    methods["no translation, cross-language on + CC-CEDICT"] = (
        Retriever(index, embedder, dictionary),
        False,
    )
    methods["translation by language, cross-language on + CC-CEDICT"] = (
        Retriever(index, embedder, dictionary),
        True,
    )
    directions = list(dict.fromkeys(i["direction"] for i in items))
    rows: list[list[object]] = []
    misses: dict[str, list[str]] = {}
    for name, (retriever, translate) in methods.items():
        cells: list[object] = [name]
        for direction in directions:
            asked = [i for i in items if i["direction"] == direction]
            hits = 0
            for item in asked:
                translation = translations[item["question"]][0] if translate else None
                result = retriever.search(item["question"], 5, translation=translation)
                if _first_is(result, item):
                    hits += 1
                elif name in MISSES_OF:
                    misses.setdefault(name, []).append(
                        describe_miss(retriever, item, translation, result)
                    )
            cells.append(f"{hits}/{len(asked)}")
        rows.append(cells)
    index.close()
    print_table(
        f"examples/wiki cross-language doc-hit@1 ({machine_line()})",
        ["method", *directions],
        rows,
    )
    seconds = [s for q, (_, s) in translations.items() if q in {i["question"] for i in items}]
    failed = sum(1 for i in items if translations[i["question"]][0] is None)
    print(
        f"LLM translation: mean {statistics.mean(seconds):.1f} s, max {max(seconds):.1f} s per "
        f"question when first made; unusable: {failed} of {len(items)}."
    )
    for name, lines in misses.items():
        print(f"\n### Misses: {name} ({len(lines)})\n")
        print("\n".join(lines))


def _first_is(result: RetrievalResult, item: dict[str, str]) -> bool:
    return bool(result.passages) and result.passages[0].chunk.doc_id == item["doc_id"]


def describe_miss(
    retriever: Retriever, item: dict[str, str], translation: str | None, result: RetrievalResult
) -> str:
    """One Markdown item: the question, what came first, and why the floor refused."""
    head = f"- {item['question']}"
    if translation:
        head += f" (translated: {translation})"
    head += f" — expected `{item['doc_id']}`; "
    if result.passages:
        pages = ", ".join(f"`{p.chunk.doc_id}`" for p in best_per_page(result.passages)[:3])
        return head + f"returned {pages}"
    closest = ", ".join(f"`{p.chunk.doc_id}`" for p in result.closest)
    lines = [head + f"refused (closest: {closest})"]
    for text in [item["question"], *([translation] if translation else [])]:
        judged = judged_by(retriever, text, result, translation)
        question = item["question"] if text == translation else None
        lines.append(f"  - {floor_verdict(retriever, text, judged, item['doc_id'], question)}")
    return "\n".join(lines)


def judged_by(
    retriever: Retriever, text: str, result: RetrievalResult, translation: str | None
) -> list[Passage]:
    """The candidates the floor judged against ``text``: with a translation, those in its
    language (``language_legs``); without, all of them."""
    if translation is None:
        return result.candidates
    languages = retriever.index.languages
    language = detect_language(text)
    first = detect_language(result.query) == language
    return [
        p
        for p in result.candidates
        if languages.language_of(p.row_id) == language
        or (first and languages.language_of(p.row_id) is None)
    ]


def floor_verdict(
    retriever: Retriever,
    text: str,
    candidates: list[Passage],
    expected: str,
    translated_from: str | None = None,
) -> str:
    """Why no candidate passed the floor for ``text`` (the LLM's translation of
    ``translated_from``, if given): the rule, the closest call, how the expected page fared."""
    opts = retriever.options
    terms = retriever.terms.weights(text)
    own = retriever.terms.weights(translated_from) if translated_from is not None else None
    absent = retriever.floor.absent_share(text, terms, translated_from, own)
    if absent > opts.max_absent_share:
        return (
            f"{text}: absent words carry {absent:.0%} of the weight "
            f"(> {opts.max_absent_share:.0%}): {', '.join(sorted(terms.absent))}"
        )
    if not candidates:
        return f"{text}: no candidate in its language"
    language = detect_language(text)
    cosines = {p.row_id: retriever.floor.cosine(p, language) for p in candidates}
    leads = page_standout(cosines, {p.row_id: page_key(p.chunk) for p in candidates})

    def judged(p: Passage) -> str:
        cosine = cosines[p.row_id]
        coverage = terms.coverage(keyword_tokens(p.chunk.search_text))
        score = cosine + opts.keyword_weight * coverage
        return (
            f"`{p.chunk.doc_id}` cos {cosine:.3f}, coverage {coverage:.2f}, "
            f"hybrid {score:.3f}, page lead {leads[p.row_id]:+.3f}"
        )

    def hybrid(p: Passage) -> float:
        coverage = terms.coverage(keyword_tokens(p.chunk.search_text))
        return cosines[p.row_id] + opts.keyword_weight * coverage

    best = max(candidates, key=hybrid)
    pages = [p.chunk.doc_id for p in best_per_page(candidates)]
    own = [p for p in candidates if p.chunk.doc_id == expected]
    verdict = (
        f"{text}: absent {absent:.0%}; floor cos >= {opts.min_dense_score:.2f} or hybrid "
        f"(cos + {opts.keyword_weight:.2f} × coverage) >= {opts.min_hybrid_score:.2f}; "
        f"best {judged(best)}"
    )
    if not own:
        return verdict + "; expected page not among the candidates"
    rank = pages.index(expected) + 1
    return verdict + f"; expected #{rank} of {len(pages)} pages: {judged(max(own, key=hybrid))}"


if __name__ == "__main__":
    main()
