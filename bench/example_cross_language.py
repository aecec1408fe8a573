"""Cross-language doc-hit@1 on the example wiki, with and without LLM question translation.

    python bench/example_cross_language.py [--work DIR]

Asks the 52 questions of ``tests/fixtures/crosslingual/example_wiki_questions.jsonl`` (each
in the other language than the page that answers it, or in traditional Chinese) of
``examples/wiki`` ingested by the real pipeline, and counts the questions whose first
passage is from that page (the relevance floor as configured: a refused question misses).
Each question is translated once by the configured LLM (``ASKWIKI_TRANSLATE_QUESTIONS``);
translations are kept in ``--work`` with the index, so a re-run needs no LLM.
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
from askwiki.retrieval import Retriever, retrieval_options
from askwiki.settings import Settings
from askwiki.store.index import open_index
from bench.common import machine_line, print_table, quiet_logs, say, temp_dir
from bench.cross_language import TRANSLATIONS_FILE, PooledTranslation

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "fixtures" / "crosslingual" / "example_wiki_questions.jsonl"


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
    if not settings.index_path.exists():
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
    items = [json.loads(line) for line in QUESTIONS.read_text("utf-8").splitlines() if line]
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
    for name, (retriever, translate) in methods.items():
        cells: list[object] = [name]
        for direction in directions:
            asked = [i for i in items if i["direction"] == direction]
            hits = sum(
                _first_is(retriever, i, translations[i["question"]][0] if translate else None)
                for i in asked
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


def _first_is(retriever: Retriever, item: dict[str, str], translation: str | None) -> bool:
    passages = retriever.search(item["question"], 5, translation=translation).passages
    return bool(passages) and passages[0].chunk.doc_id == item["doc_id"]


if __name__ == "__main__":
    main()
