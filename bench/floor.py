"""Relevance floor calibration: answerable kept vs absent-page and off-topic refused.

    python bench/floor.py                  # 4 corpora, ~950 questions, cached indexes
    python bench/floor.py --per-set 40     # quicker

askwiki refuses a question ("no relevant page") when no retrieved passage passes the
relevance floor (``askwiki/relevance_floor.py``): a passage passes when its cosine similarity to
the question reaches ``ASKWIKI_MIN_DENSE_SCORE``, or when cosine + ``ASKWIKI_KEYWORD_WEIGHT``
x IDF-weighted keyword coverage reaches ``ASKWIKI_MIN_HYBRID_SCORE``; and nothing passes when
keywords that no chunk of the wiki contains carry more than ``ASKWIKI_MAX_ABSENT_SHARE`` of
the question's IDF mass. The opt-in standout rule (``ASKWIKI_MIN_STANDOUT``) also asks a
passage's cosine to exceed the mean cosine of the 15 candidates by a margin
(``askwiki/standout.py``); the opt-in page rule (``ASKWIKI_MIN_PAGE_STANDOUT``) asks the
passage's page (chunks grouped by title) to lead the 5 best other pages by a margin. With
``--half a`` or ``--half b`` only one seeded half of the questions is scored: choose a
setting on one half, check it on the other. A key-term rule (a passage in the question's
language must hold the question's rarest words, question words aside) is measured as a
candidate, not offered: it moves along the same trade as a higher hybrid threshold. This
measures, for floors on a grid, both sides of the trade:

- answerable ("kept"): each question asked of its own corpus (GitLab Handbook, CMRC 2018
  dev, XQuAD en, XQuAD zh); kept = a gold passage (from a gold file / containing a gold
  answer) passes the floor among the fused top 15 (what ``Retriever.search`` filters).
- absent page (negative rejection, as in RGB, Chen et al. 2023): the same question asked of
  its own corpus with its gold pages taken out (handbook: the evidence files; CMRC: the
  passage, one per article; XQuAD: every paragraph of the article): same domain, same
  style, answer absent. Refused = no passage passes. The pages are taken out of the fused
  candidates (fetched 60 deep, so the top 15 without them are complete) and out of the
  term statistics (their chunks no longer count in any term's document frequency).
- answerable across languages (issue 13): XQuAD zh questions asked of XQuAD en and the
  reverse (the same paragraphs translated); kept = the parallel paragraph passes the floor.
- off-topic: each question asked of the *other* corpora (same language: handbook <-> XQuAD
  en, CMRC <-> XQuAD zh; and across languages, the parallel XQuAD pair aside).

Every pairing is measured twice in one run: with ``ASKWIKI_CROSS_LANGUAGE`` off (the
default) and on (cross-language cosines get the index's offset, the question's keywords its
glossary translations: ``askwiki/crosslingual.py``), so the table shows what the opt-in
costs in refusals next to what it gains across languages.

With ``--translate`` a third mode is measured (cross-language off): the LLM translates each
question once (cached in ``--cache-dir``), and a corpus in the other language than the
question is searched with the translation, as ``ASKWIKI_TRANSLATE_QUESTIONS`` does (every
page of such a corpus belongs to the translated form: ``askwiki/language_legs.py``); a
corpus in the question's language is searched with the question as before. Passages judged
against the translation get the retriever's translated-form rule (``RelevanceFloor.passing``):
they also pass when their page leads the best other pages (``standout.page_standout``) by
``RetrievalOptions.translated_page_lead``. The retriever refuses a translation for words no
chunk holds only when the question's own words are missing too; here a corpus in the other
language holds nearly none of the question's words, so the translation's words alone decide,
as the bench scores it. A passage judged against the translation also passes the hybrid rule
on the reader's own words (``RetrievalOptions.translated_reader_words``): pages write the
other language's term in headings (重叠（overlap）). Candidate rules for the translated form
are shown next to it.

With ``--judge``, the LLM relevance judge (``ASKWIKI_RELEVANCE_JUDGE=llm``) is measured on
top of the default floor (and of looser hybrid thresholds, ``--judge-hybrid``) on the
answerable and absent-page questions: ``bench/floor_judge.py``.

Features are cached per question and corpus under ``--cache-dir``; the grid runs on them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askwiki.answering.translation import QuestionTranslator
from askwiki.documents import SECTION_SEPARATOR
from askwiki.embedding.embedder import Embedder, load_embedder
from askwiki.evaluation import EvalQuestion
from askwiki.evaluation.metrics import contains_answer, normalize_answer
from askwiki.evidence import TermWeights, term_weights
from askwiki.llm.factory import create_backend
from askwiki.passages import page_key
from askwiki.retrieval import Retriever
from askwiki.retrieval_options import RetrievalOptions
from askwiki.settings import Settings
from askwiki.standout import page_standout, standout
from askwiki.text import detect_language, keyword_tokens
from bench.answer_sets import (
    HANDBOOK_SET,
    AnswerSet,
    cmrc_questions,
    cmrc_set,
    fingerprint,
    handbook_questions,
    handbook_set,
    open_set_index,
    passage_is_gold,
)
from bench.common import (
    load_qa_set,
    machine_line,
    print_table,
    quiet_logs,
    read_jsonl,
    say,
    seeded_sample,
    temp_dir,
    write_jsonl,
    xquad_human_translations,
)

CANDIDATES = 15  # Retriever.search filters the fused top k*3 (k=5)


class RecordedPassage(NamedTuple):
    """One candidate as a row records it: a JSON list in this order, so the rows cached by
    earlier runs, which lack the later fields, still read (with these defaults)."""

    cosine: float
    found: list[str]  # the question's keywords the passage holds
    gold: bool
    doc_id: str
    page: str
    section: str = ""
    reader_found: Sequence[str] = ()
    row_id: int = -1  # the relevance judge reads the chunk's text


def recorded_passages(row: dict[str, Any]) -> list[RecordedPassage]:
    """The fused top ``CANDIDATES`` the floor judged; deeper ones are kept for exploring."""
    return [RecordedPassage(*p) for p in row["passages"][:CANDIDATES]]


# Recorded per search beyond the 15 the floor judges: what a deeper baseline would see.
DEPTH = 30
# Fetched so that the top 15 are still there once a question's gold pages are taken out.
WIDE = 60
KINDS = ("present", "absent", "cross-language", "off-topic")
SEED = 2018
LANGUAGE = {HANDBOOK_SET: "en", "xquad-en": "en", "cmrc2018": "zh", "xquad-zh": "zh"}
# XQuAD zh and en hold the same paragraphs: asked of each other they are answerable
# cross-language pairs (kept), not off-topic ones.
PARALLEL = {"xquad-en", "xquad-zh"}
# (row label, ASKWIKI_CROSS_LANGUAGE): every question and corpus is searched both ways.
MODES = (("", False), (" [cross-language on]", True))
# With --translate, a third way (cross-language off): ASKWIKI_TRANSLATE_QUESTIONS.
TRANSLATED = " [translated]"
# ASKWIKI_MIN_STANDOUT values shown on top of the default floor (the grid leaves it off).
STANDOUTS = (0.02, 0.025)
# ASKWIKI_MIN_PAGE_STANDOUT values shown the same way.
PAGE_STANDOUTS = (0.02, 0.025)
# The page rule's heading variants, measured as candidates (Floor.grouping).
GROUPINGS = ("section", "chapter")
# ASKWIKI_MAX_ABSENT_SHARE at which the absent-terms check is off.
ABSENT_OFF = 1.0
# The key-term candidate: key terms weigh >= half the rarest; a passage holds >= half of them.
KEY_TERM_SHARE = 0.5
KEY_COVERAGE = 0.5
# Question words name what is asked, not what it is about, and pages seldom contain them,
# so "哪一年" would weigh as much as the rarest name (English ones are stopwords already).
QUESTION_WORD = re.compile(
    r"什么|^(?:哪|几|多少|多久|多长|多大|多高|多远|多重|谁|怎|为何|何时|何地|何处|何人|何种|是否|时候$)"
)
# Changes whenever what collect() records changes, so that older caches are not reused.
FEATURES_VERSION = (
    "absent+crosslingual+pages+translated+page-keys+sections+elsewhere+reader+rows+searched-9"
)
TRANSLATIONS_FILE = "floor-translations.json"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-set", type=int, default=250, help="questions per corpus (max)")
    parser.add_argument(
        "--sets",
        default="gitlab,cmrc,xquad-en,xquad-zh",
        help="comma list of the corpora to use: gitlab, cmrc, xquad-en, xquad-zh",
    )
    parser.add_argument(
        "--pages",
        type=int,
        default=None,
        help="CMRC/XQuAD: index only the questions' pages plus others up to this many",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "askwiki" / "bench"
    )
    parser.add_argument("--min-refused", type=float, default=0.90, help="off-topic target")
    parser.add_argument(
        "--half",
        choices=("a", "b"),
        default=None,
        help="score only one seeded half of the questions (crc32 of the text): a held-out check",
    )
    parser.add_argument(
        "--choose-on",
        choices=("a", "b"),
        default=None,
        help="rank the grid on this half and show every row on the other (held out)",
    )
    parser.add_argument(
        "--grid-page-standouts",
        default="",
        help="comma list of ASKWIKI_MIN_PAGE_STANDOUT margins the grid also tries, e.g. 0.02,0.025",
    )
    parser.add_argument(
        "--follow-ups",
        choices=("alone", "joined"),
        default="alone",
        help="handbook follow-ups: searched alone, or joined after their previous question as "
        "the service does when the LLM cannot rewrite them (AnswerService._standalone)",
    )
    parser.add_argument(
        "--translate",
        action="store_true",
        help="also search with the LLM's translation of each question (cached in --cache-dir)",
    )
    parser.add_argument(
        "--human-translations",
        action="store_true",
        help="with --translate: an XQuAD question's translation is its parallel version "
        "(a perfect translator's upper bound); other sets' stay the LLM's",
    )
    parser.add_argument(
        "--judge",
        action="store_true",
        help="also measure the LLM relevance judge (ASKWIKI_RELEVANCE_JUDGE=llm) on top of "
        "the floor, on the answerable and absent-page questions (verdicts cached in --cache-dir)",
    )
    parser.add_argument(
        "--judge-hybrid",
        default="",
        help="comma list of ASKWIKI_MIN_HYBRID_SCORE values the judge is also measured on top "
        "of (looser floors keep more for the judge to refuse), e.g. 0.92,0.90",
    )
    args = parser.parse_args()
    if args.human_translations and not args.translate:
        parser.error("--human-translations replaces the LLM's translations: it needs --translate")
    return args


def xquad_set(name: str, per_set: int, work: Path) -> AnswerSet:
    qa = load_qa_set(name)
    picked = seeded_sample(qa.questions, per_set, SEED)
    titles = {str(p["id"]): str(p["title"]) for p in qa.passages}
    articles: dict[str, list[str]] = {}
    for passage_id, title in titles.items():
        articles.setdefault(title, []).append(passage_id)
    questions = [
        EvalQuestion(
            question=str(q["question"]),
            answers=tuple(str(a) for a in q["answers"]),
            sources=(str(q["passage_id"]),),
            # The page of an XQuAD paragraph is its Wikipedia article: removing the
            # page removes every paragraph of the article.
            extra={"set": name, "page": articles[titles[str(q["passage_id"])]]},
        )
        for q in picked
    ]
    corpus = write_jsonl(work / f"{name}.jsonl", qa.passages)
    pages = [(str(p["id"]), str(p["text"])) for p in qa.passages]
    return AnswerSet(name, questions, corpus, pages)


def limit_pages(answer_set: AnswerSet, pages: int, work: Path) -> AnswerSet:
    """The set with its questions' pages plus a seeded sample of others, ``pages`` in all.

    For a quick run on a busy machine: indexing is what costs, and fewer unrelated pages
    make refusing an absent page easier, so a full run's figures are the ones to trust.
    """
    needed = {page for q in answer_set.questions for page in gold_pages(q)}
    others = [doc_id for doc_id, _ in answer_set.pages if doc_id not in needed]
    extra = set(seeded_sample(others, max(0, pages - len(needed)), SEED))
    kept = [row for row in read_jsonl(answer_set.corpus) if row["id"] in needed | extra]
    corpus = write_jsonl(work / f"{answer_set.name}-{len(kept)}.jsonl", kept)
    texts = [(str(row["id"]), str(row["text"])) for row in kept]
    return replace(answer_set, corpus=corpus, pages=texts)


def gold_pages(question: EvalQuestion) -> set[str]:
    """The doc ids removed from the index for the absent-page version of a question."""
    return set(question.extra.get("page") or question.sources)


class TermCounts:
    """Chunk counts of terms in one index, and the same with some pages taken out."""

    def __init__(self, retriever: Retriever) -> None:
        self.index = retriever.index
        self.chunks = len(self.index.keyword)
        self._page_terms: dict[str, list[set[str]]] = {}

    def counts(self, terms: list[str], removed: set[str] = frozenset()) -> dict[str, int]:  # type: ignore[assignment]
        counts = self.index.keyword.document_frequency(terms)
        for doc_id in removed:
            for chunk_terms in self._terms_of(doc_id):
                for term in chunk_terms & counts.keys():
                    counts[term] -= 1
        return counts

    def removed_chunks(self, removed: set[str]) -> int:
        return sum(len(self._terms_of(doc_id)) for doc_id in removed)

    def _terms_of(self, doc_id: str) -> list[set[str]]:
        if doc_id not in self._page_terms:
            self._page_terms[doc_id] = [
                set(keyword_tokens(c.chunk.search_text))
                for c in self.index.docstore.chunks_of(doc_id)
            ]
        return self._page_terms[doc_id]


def answer_sets(args: argparse.Namespace) -> list[AnswerSet]:
    """The corpora ``--sets`` names, with their questions (``--per-set``, ``--pages``)."""
    work = temp_dir("floor")
    wanted = [name.strip() for name in args.sets.split(",") if name.strip()]
    makers = {
        "gitlab": lambda: handbook_set(handbook_questions()[: args.per_set], work, subset=False),
        "cmrc": lambda: cmrc_set(cmrc_questions()[: args.per_set], work, subset=False),
        "xquad-en": lambda: xquad_set("xquad-en", args.per_set, work),
        "xquad-zh": lambda: xquad_set("xquad-zh", args.per_set, work),
    }
    sets = [makers[name]() for name in makers if name in wanted]
    if args.pages:
        sets = [s if s.name == HANDBOOK_SET else limit_pages(s, args.pages, work) for s in sets]
    return sets


def set_index_path(answer_set: AnswerSet, cache_dir: Path) -> Path:
    """Where ``open_set_index`` keeps the set's index under ``--cache-dir``."""
    return cache_dir / f"bench-{answer_set.name}-{fingerprint(answer_set)}"


def collect(args: argparse.Namespace) -> list[dict[str, object]]:
    """Per question: features of the fused top 15 in its own corpus (pages present and
    pages removed) and in the three other corpora."""
    sets = answer_sets(args)
    cache = args.cache_dir / f"floor-features-absent-{args.follow_ups}.jsonl"
    key = json.dumps(
        [
            FEATURES_VERSION,
            args.translate,
            args.human_translations,
            args.follow_ups,
            *([s.name, fingerprint(s), len(s.questions)] for s in sets),
        ]
    )
    if cache.is_file():
        first, *rest = cache.read_text(encoding="utf-8").splitlines()
        if first == key:
            return [json.loads(line) for line in rest]
    settings = Settings(index_dir=args.cache_dir, _env_file=None)  # type: ignore[call-arg]
    embedder = load_embedder(settings)
    retrievers: dict[tuple[str, bool], Retriever] = {}
    # The handbook last: its index is the largest, and the one bench/answers.py may be
    # building at the same time.
    for answer_set in sorted(sets, key=lambda s: s.name == HANDBOOK_SET):
        say(f"{answer_set.name}: indexing {len(answer_set.pages)} pages (cached when unchanged)")
        plain = open_set_index(answer_set, settings, embedder).live.retriever()
        for _, crossing in MODES:
            options = replace(plain.options, cross_language=crossing)
            retrievers[answer_set.name, crossing] = Retriever(plain.index, embedder, options)
    counters = {name: TermCounts(r) for (name, _), r in retrievers.items()}
    pages = {s.name: {doc_id for doc_id, _ in s.pages} for s in sets}
    translations = (
        translate_questions(sets, settings, args.cache_dir, args.human_translations)
        if args.translate
        else {}
    )
    rows: list[dict[str, object]] = []
    for answer_set in sets:
        texts = [searched_text(q, args.follow_ups) for q in answer_set.questions]
        say(f"{answer_set.name}: embedding and searching {len(texts)} questions")
        vectors = embedder.embed_queries(texts)
        for question, asked, vector in zip(answer_set.questions, texts, vectors, strict=True):
            file_level = answer_set.name == HANDBOOK_SET
            removed = gold_pages(question)
            searches = [(corpus, crossing, False, asked, vector) for corpus, crossing in retrievers]
            translation = translations.get(question.question)
            if args.translate:
                # The service translates when the wiki holds the other language: here, a
                # corpus in the other language is then searched with the translation alone
                # (language_legs: its pages all belong to the translated form).
                searches += [
                    (
                        corpus,
                        False,
                        True,
                        *_searched(question.question, translation, corpus, embedder),
                    )
                    for corpus, crossing in retrievers
                    if not crossing
                ]
            for corpus, crossing, translated, text, searched_vector in searches:
                retriever = retrievers[corpus, crossing]
                own_keywords = list(dict.fromkeys(keyword_tokens(text)))
                # Searched with the translation: the reader's own words, for the rule that
                # also judges a passage on them (RetrievalOptions.translated_reader_words).
                reader = list(dict.fromkeys(keyword_tokens(question.question)))
                reader = reader if text != question.question else []
                language = detect_language(text)
                # With cross-language on, glossary translations count in the coverage.
                keywords = sorted(set(retriever.terms.keywords(text)))
                wide = retriever.candidates(text, searched_vector, WIDE)
                twin = parallel_page(question, answer_set.name, corpus)
                if corpus == answer_set.name:
                    kept = [p for p in wide if p.chunk.doc_id not in removed]
                    kinds = [
                        ("present", wide[:DEPTH], set()),
                        ("absent", kept[:DEPTH], removed),
                    ]
                elif twin is None:
                    kinds = [("off-topic", wide[:DEPTH], set())]
                elif twin in pages[corpus]:
                    kinds = [("cross-language", wide[:DEPTH], set())]
                else:
                    kinds = []  # --pages left the parallel paragraph out: neither kind
                for kind, passages, gone in kinds:
                    counter = counters[corpus]
                    rows.append(
                        {
                            "set": answer_set.name,
                            "corpus": corpus,
                            "kind": kind,
                            "crossing": crossing,
                            "translated": translated,
                            "question": question.question,
                            "searched": asked,  # a follow-up's text repeats: "And the next?"
                            "own_keywords": own_keywords,
                            # Absent page, answer still there: another page's candidate
                            # holds a gold answer (the handbook's pages repeat each other).
                            "elsewhere": kind == "absent"
                            and any(
                                restates_answer(p.chunk.search_text, question.answers)
                                for p in passages[:CANDIDATES]
                            ),
                            "chunks": counter.chunks - counter.removed_chunks(gone),
                            "terms": counter.counts(keywords, gone),
                            "reader_terms": counter.counts(reader, gone) if reader else {},
                            "passages": [
                                RecordedPassage(
                                    round(retriever.floor.cosine(p, language), 4),
                                    sorted(
                                        set(keywords) & set(keyword_tokens(p.chunk.search_text))
                                    ),
                                    (
                                        kind == "present"
                                        and passage_is_gold(
                                            question,
                                            p.chunk.doc_id,
                                            p.chunk.search_text,
                                            file_level,
                                        )
                                    )
                                    or (kind == "cross-language" and p.chunk.doc_id == twin),
                                    p.chunk.doc_id,
                                    page_key(p.chunk),
                                    p.chunk.section,
                                    sorted(set(reader) & set(keyword_tokens(p.chunk.search_text))),
                                    p.row_id,
                                )
                                for p in passages
                            ],
                        }
                    )
    cache.write_text(
        key + "\n" + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
        encoding="utf-8",
    )
    return rows


# Shorter answers ("2", "E", "g_") occur in any page by chance.
MIN_RESTATED_CHARS = 4


def restates_answer(text: str, answers: tuple[str, ...]) -> bool:
    """Whether ``text`` holds a gold answer long enough not to be there by chance."""
    long_enough = [a for a in answers if len(normalize_answer(a)) >= MIN_RESTATED_CHARS]
    return contains_answer(text, long_enough)


def searched_text(question: EvalQuestion, follow_ups: str) -> str:
    """What is searched for a question: a follow-up alone, or after the conversation's last
    user turn, as AnswerService._standalone searches it when the LLM cannot rewrite it."""
    if follow_ups != "joined":
        return question.question
    last_user = next((m.content for m in reversed(question.history) if m.role == "user"), "")
    return f"{last_user} {question.question}".strip()


def _searched(
    question: str, translation: str | None, corpus: str, embedder: Embedder
) -> tuple[str, npt.NDArray[np.float32]]:
    """The text searched in ``corpus`` with translation on, and its vector."""
    if translation is None or LANGUAGE[corpus] == detect_language(question):
        text = question
    else:
        text = translation
    return text, embedder.embed_queries([text])[0]


def translate_questions(
    sets: list[AnswerSet], settings: Settings, cache_dir: Path, human: bool = False
) -> dict[str, str | None]:
    """Every question's LLM translation (None: unusable), cached across runs; with
    ``human``, an XQuAD question's is its parallel version instead (no LLM call)."""
    asked = [q.question for s in sets for q in s.questions]
    parallel = xquad_human_translations() if human else {}
    given = {q: parallel[q] for q in asked if q in parallel}
    path = cache_dir / TRANSLATIONS_FILE
    cached: dict[str, str | None] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    missing = [q for q in asked if q not in cached and q not in given]
    if missing:
        llm = create_backend(settings)
        translator = QuestionTranslator(lambda: llm)
        say(f"translating {len(missing)} questions with {llm.name}:{llm.model}")
        for n, question in enumerate(missing, start=1):
            cached[question] = translator.translate(question).text
            if n % 20 == 0:
                path.write_text(json.dumps(cached, ensure_ascii=False), "utf-8")
        path.write_text(json.dumps(cached, ensure_ascii=False), "utf-8")
    return cached | given


def parallel_page(question: EvalQuestion, name: str, corpus: str) -> str | None:
    """The question's paragraph in the other XQuAD language, when ``corpus`` is that one."""
    if {name, corpus} != PARALLEL:
        return None
    return f"{corpus}/{question.sources[0].split('/', 1)[1]}"


@dataclass(frozen=True)
class Features:
    """Every passage of every row as arrays, for scoring thousands of floors at once."""

    groups: list[str]
    row_group: npt.NDArray[np.int64]  # per row
    row_goal: npt.NDArray[np.bool_]  # per row: True = should be kept (answerable)
    row_crossing: npt.NDArray[np.bool_]  # per row: searched with cross-language on
    row_translated: npt.NDArray[np.bool_]  # per row: searched with the LLM translation
    row_absent: npt.NDArray[np.float64]  # per row: IDF share of terms no chunk holds
    passage_row: npt.NDArray[np.int64]
    standout: npt.NDArray[np.float64]  # cosine minus the mean cosine of the row's candidates
    page_standout: npt.NDArray[np.float64]  # the passage's page's lead over the other pages
    # The same lead with the candidates grouped by heading instead of page (GROUPINGS).
    section_standout: npt.NDArray[np.float64]
    chapter_standout: npt.NDArray[np.float64]
    key: npt.NDArray[np.float64]  # IDF-weighted share of the question's key terms (1: none)
    same_language: npt.NDArray[np.bool_]  # the passage is in the question's language
    cos: npt.NDArray[np.float64]
    coverage: npt.NDArray[np.float64]  # plain keyword coverage
    weighted: npt.NDArray[np.float64]  # IDF-weighted coverage
    gold: npt.NDArray[np.bool_]
    # IDF-weighted coverage of the reader's own words, for a passage judged against the
    # question's translation (0 for the others).
    reader: npt.NDArray[np.float64]


def question_half(question: str) -> str:
    """The question's half, a or b (crc32 of its text): choose on one, check on the other."""
    return "ab"[zlib.crc32(question.encode("utf-8")) % 2]


def group_of(row: dict[str, object]) -> str:
    kind, name, corpus = str(row["kind"]), str(row["set"]), str(row["corpus"])
    if kind == "present":
        return f"kept {name}"
    if kind == "cross-language":
        return f"kept across {name}->{corpus}"
    if kind == "absent":
        # Handbook answers are short phrases that other pages restate ("Minimal Valuable
        # Change" is on the values page too); CMRC/XQuAD spans (years, numbers) would match
        # by chance, so only the handbook's absent questions are split.
        if name == HANDBOOK_SET and row.get("elsewhere"):
            return f"refused absent {name}, answer elsewhere"
        return f"refused absent {name}"
    if LANGUAGE[name] != LANGUAGE[corpus]:
        return "refused off-topic cross-language"
    return f"refused off-topic {name}->{corpus}"


def question_key_terms(terms: TermWeights, own: list[str]) -> set[str]:
    """The key-term candidate's terms: question words aside, those weighing at least
    ``KEY_TERM_SHARE`` of the heaviest (rarest)."""
    kept = [t for t in set(own) & terms.weights.keys() if not QUESTION_WORD.search(t)]
    heaviest = max((terms.weights[t] for t in kept), default=0.0)
    return {t for t in kept if terms.weights[t] >= KEY_TERM_SHARE * heaviest}


def key_coverage(terms: TermWeights, key: set[str], found: list[str]) -> float:
    """IDF-weighted share of the key terms among a passage's words (1 without key terms)."""
    total = sum(terms.weights[t] for t in key)
    if total <= 0:
        return 1.0
    return sum(terms.weights[t] for t in key & set(found)) / total


def heading_group(passage: RecordedPassage, depth: int | None) -> str:
    """A recorded passage's group for the heading variants of the page rule: its page key
    and its heading path (every heading, or the first ``depth``). The path starts with the
    document's title, which a page key of shared titles (XQuAD) already is."""
    section = passage.section
    headings = section.split(SECTION_SEPARATOR)[1:] if section else []
    if depth is not None:
        headings = headings[:depth]
    return SECTION_SEPARATOR.join([passage.page, *headings])


def features(rows: list[dict[str, object]]) -> Features:
    groups = sorted({group_of(r) for r in rows}, key=lambda g: (not g.startswith("kept"), g))
    index = {g: i for i, g in enumerate(groups)}
    row_group, row_goal, row_crossing, row_absent = [], [], [], []
    row_translated = []
    passage_row, cos, coverage, weighted, gold, lift, key, same = [], [], [], [], [], [], [], []
    reader: list[float] = []
    page_lift: list[float] = []
    section_lift: list[float] = []
    chapter_lift: list[float] = []
    for n, row in enumerate(rows):
        counts: dict[str, int] = row["terms"]  # type: ignore[assignment]
        terms = term_weights(list(counts), lambda t, c=counts: c, int(row["chunks"]))  # type: ignore[misc, call-overload]
        reader_counts: dict[str, int] = row.get("reader_terms") or {}  # type: ignore[assignment]
        reader_terms = term_weights(
            list(reader_counts),
            lambda t, c=reader_counts: c,  # type: ignore[misc]
            int(row["chunks"]),  # type: ignore[call-overload]
        )
        row_group.append(index[group_of(row)])
        row_goal.append(row["kind"] in ("present", "cross-language"))
        row_crossing.append(bool(row["crossing"]))
        row_translated.append(bool(row.get("translated")))
        # Judged on the question's own words, as Retriever.search does.
        row_absent.append(terms.absent_share(row["own_keywords"]))  # type: ignore[arg-type]
        key_terms = question_key_terms(terms, row["own_keywords"])  # type: ignore[arg-type]
        same_language = LANGUAGE[str(row["set"])] == LANGUAGE[str(row["corpus"])]
        passages = recorded_passages(row)
        lift += standout([p.cosine for p in passages])
        cosines = {i: p.cosine for i, p in enumerate(passages)}
        page_lift += page_standout(cosines, {i: p.page for i, p in enumerate(passages)}).values()
        section_lift += page_standout(
            cosines, {i: heading_group(p, None) for i, p in enumerate(passages)}
        ).values()
        chapter_lift += page_standout(
            cosines, {i: heading_group(p, 1) for i, p in enumerate(passages)}
        ).values()
        for p in passages:
            reader.append(reader_terms.coverage(p.reader_found))
            passage_row.append(n)
            key.append(key_coverage(terms, key_terms, p.found))
            same.append(same_language)
            cos.append(p.cosine)
            coverage.append(len(p.found) / len(counts) if counts else 0.0)
            weighted.append(terms.coverage(p.found))
            gold.append(p.gold)
    return Features(
        groups,
        np.asarray(row_group),
        np.asarray(row_goal),
        np.asarray(row_crossing, dtype=bool),
        np.asarray(row_translated, dtype=bool),
        np.asarray(row_absent),
        np.asarray(passage_row, dtype=np.int64),
        np.asarray(lift),
        np.asarray(page_lift),
        np.asarray(section_lift),
        np.asarray(chapter_lift),
        np.asarray(key),
        np.asarray(same, dtype=bool),
        np.asarray(cos),
        np.asarray(coverage),
        np.asarray(weighted),
        np.asarray(gold, dtype=bool),
        np.asarray(reader),
    )


@dataclass(frozen=True)
class Floor:
    """A floor on the benchmark's features; ``weighted`` picks IDF-weighted coverage."""

    name: str
    dense: float
    weight: float
    hybrid: float
    max_absent: float = 2.0
    weighted: bool = False
    legacy: bool = False
    min_standout: float = 0.0
    min_page_standout: float = 0.0
    # What the page rule groups the candidates by: "page", "section" (the whole heading
    # path) or "chapter" (the page's first heading level); the last two measured, not offered.
    grouping: str = "page"
    key_rule: bool = False
    # Candidates for the translated form of a question (the LLM's translation judged against
    # passages in its language): its page's lead that passes a passage on its own (0: off),
    # the cosine that lead needs, whether its absent-word share refuses, and its own hybrid
    # threshold (None: the same as the question's).
    translated_lead: float = 0.0
    translated_lead_cos: float = -1.0
    translated_absent: bool = True
    translated_hybrid: float | None = None
    # The translated form's passage also passes the hybrid rule on the reader's own words.
    translated_reader_words: bool = False


def score(
    floor: Floor, f: Features, crossing: bool = False, translated: bool = False
) -> dict[str, float]:
    """Kept share per set (a gold passage passes), refused share per other group, on the
    rows searched with cross-language retrieval on (``crossing``) or off, with the LLM's
    translation (``translated``) or without."""
    passes = passing(floor, f)
    rows = len(f.row_group)
    any_pass = np.bincount(f.passage_row, weights=passes, minlength=rows) > 0
    any_gold = np.bincount(f.passage_row, weights=passes & f.gold, minlength=rows) > 0
    ok = np.where(f.row_goal, any_gold, ~any_pass)
    mode = (f.row_crossing == crossing) & (f.row_translated == translated)
    hits = np.bincount(f.row_group, weights=ok & mode, minlength=len(f.groups))
    totals = np.bincount(f.row_group, weights=mode, minlength=len(f.groups))
    return {g: float(hits[i] / totals[i]) for i, g in enumerate(f.groups) if totals[i]}


def passing(floor: Floor, f: Features) -> npt.NDArray[np.bool_]:
    """Per passage of ``f``: whether it passes ``floor``."""
    coverage = f.weighted if floor.weighted else f.coverage
    if floor.legacy:
        passes = (f.cos >= 0.86) | ((f.cos >= 0.80) & (coverage >= 0.6))
    else:
        passes = (f.cos >= floor.dense) | (f.cos + floor.weight * coverage >= floor.hybrid)
    # A passage judged against the LLM's translation (a corpus in the other language).
    translated_form = f.row_translated[f.passage_row] & ~f.same_language
    if floor.translated_hybrid is not None:
        passes = np.where(
            translated_form,
            (f.cos >= floor.dense) | (f.cos + floor.weight * coverage >= floor.translated_hybrid),
            passes,
        )
    if floor.translated_lead > 0:
        passes |= (
            translated_form
            & (f.page_standout >= floor.translated_lead)
            & np.isfinite(f.page_standout)  # all candidates one page: nothing led
            & (f.cos >= floor.translated_lead_cos)
        )
    if floor.translated_reader_words:
        passes |= translated_form & (f.cos + floor.weight * f.reader >= floor.hybrid)
    absent_ok = f.row_absent[f.passage_row] <= floor.max_absent
    if not floor.translated_absent:
        absent_ok |= translated_form
    passes &= absent_ok
    if floor.min_standout > 0:
        passes &= f.standout >= floor.min_standout
    if floor.min_page_standout > 0:
        lifts = {
            "page": f.page_standout,
            "section": f.section_standout,
            "chapter": f.chapter_standout,
        }[floor.grouping]
        passes &= lifts >= floor.min_page_standout
    if floor.key_rule:
        passes &= (f.key >= KEY_COVERAGE) | ~f.same_language
    return np.asarray(passes, dtype=bool)


def grid(page_standouts: tuple[float, ...] = ()) -> list[Floor]:
    """Floors on a grid; each also with the page standout rule at ``page_standouts``."""
    dense = [x / 100 for x in range(88, 97)]
    weight = [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5]
    hybrid = [x / 100 for x in range(88, 106)]
    absent = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 2.0]
    return [
        Floor(
            _label(*values) + (f"; page standout >= {page:.3f}" if page else ""),
            *values,
            weighted=True,
            min_page_standout=page,
        )
        for values in itertools.product(dense, weight, hybrid, absent)
        for page in (0.0, *page_standouts)
    ]


def translated_grid(default: Floor) -> list[Floor]:
    """The default floor with rules for the translated form of a question on a grid."""
    floors = []
    for lead, lead_cos, absent, hybrid, reader_words in itertools.product(
        (0.0, 0.02, 0.03, 0.04, 0.05, 0.06),
        (-1.0, 0.80, 0.82, 0.84),
        (True, False),
        (None, 0.93, 0.91, 0.89),
        (True, False),
    ):
        if lead == 0 and lead_cos > -1:
            continue
        floor = replace(
            default,
            translated_lead=lead,
            translated_lead_cos=lead_cos,
            translated_absent=absent,
            translated_hybrid=hybrid,
            translated_reader_words=reader_words,
        )
        floors.append(replace(floor, name=translated_label(floor)))
    return floors


def translated_label(floor: Floor) -> str:
    """What a floor does with the translated form, after the default's label."""
    parts = []
    if floor.translated_hybrid is not None:
        parts.append(f"hybrid >= {floor.translated_hybrid:.2f}")
    if floor.translated_lead > 0:
        lead = f"or page lead >= {floor.translated_lead:.3f}"
        if floor.translated_lead_cos > -1:
            lead += f" with cos >= {floor.translated_lead_cos:.2f}"
        parts.append(lead)
    if floor.translated_reader_words:
        parts.append("or hybrid on the reader's words")
    if not floor.translated_absent:
        parts.append("no absent-word check")
    label = floor.name.split("; translated form")[0]
    base = label[label.find("cos>=") :]  # without a "default: " prefix
    return base + "; translated form: " + (", ".join(parts) or "as is")


def _label(dense: float, weight: float, hybrid: float, absent: float, weighted: bool = True) -> str:
    kind = "idf-coverage" if weighted else "coverage"
    text = f"cos>={dense:.2f}, or cos+{weight:.2f}*{kind}>={hybrid:.2f}"
    return text if absent >= 1 else text + f"; absent terms <= {absent:.0%}"


def settings_floor(settings: Settings, name: str) -> Floor:
    label = _label(
        settings.min_dense_score,
        settings.keyword_weight,
        settings.min_hybrid_score,
        settings.max_absent_share,
    )
    if settings.min_standout > 0:
        label += f"; standout >= {settings.min_standout:.3f}"
    if settings.min_page_standout > 0:
        label += f"; page standout >= {settings.min_page_standout:.3f}"
    # Not settings: the retriever's defaults.
    lead = RetrievalOptions().translated_page_lead
    reader_words = RetrievalOptions().translated_reader_words
    rules = [f"or page lead >= {lead:.3f}"] if lead > 0 else []
    rules += ["or hybrid on the reader's words"] if reader_words else []
    if rules:
        label += "; translated form: " + ", ".join(rules)
    return Floor(
        name + label,
        settings.min_dense_score,
        settings.keyword_weight,
        settings.min_hybrid_score,
        settings.max_absent_share,
        weighted=True,
        min_standout=settings.min_standout,
        min_page_standout=settings.min_page_standout,
        translated_lead=lead,
        translated_reader_words=reader_words,
    )


# The handbook's pages repeat each other (a policy is stated on its own page and summarised
# on others), so its "absent" questions often still have an answer in the index (those are
# shown apart), and its follow-ups are asked alone unless --follow-ups joined (kept 0.888
# with no floor alone, 0.964 joined). Its groups are shown but do not choose the settings.
NOT_CHOOSING = (
    "kept gitlab-handbook",
    "refused absent gitlab-handbook",
    "refused absent gitlab-handbook, answer elsewhere",
)


def kept(scores: dict[str, float]) -> list[float]:
    """Same-language answerable groups that choose the settings."""
    return [
        v
        for g, v in scores.items()
        if g.startswith("kept") and not g.startswith("kept across") and g not in NOT_CHOOSING
    ]


def kept_across(scores: dict[str, float]) -> list[float]:
    return [v for g, v in scores.items() if g.startswith("kept across")]


def refused(scores: dict[str, float]) -> list[float]:
    return [v for g, v in scores.items() if g.startswith("refused") and g not in NOT_CHOOSING]


def rank_key(crossing: bool, item: tuple[Floor, dict[str, float]]) -> tuple[float, float]:
    """Worst kept first, then mean kept; with cross-language on, the pairs across languages
    are what it is for: they count in the worst kept too."""
    scores = item[1]
    worst = min(kept(scores) + (kept_across(scores) if crossing else []))
    return worst, statistics.mean(kept(scores))


def best_translated(
    default: Floor, choice: Features, table: Features, args: argparse.Namespace
) -> list[tuple[str, dict[str, float]]]:
    """The best two rules for the translated form on top of the default floor: ranked on
    ``choice`` (worst kept, across languages included) among those refusing enough,
    scored on ``table``."""
    safe = []
    for floor in translated_grid(default):
        scores = score(floor, choice, translated=True)
        if min(refused(scores)) >= args.min_refused:
            safe.append((floor, scores))
    safe.sort(key=partial(rank_key, True), reverse=True)
    note = f" (chosen on half {args.choose_on})" if args.choose_on else ""
    return [(f.name + note + TRANSLATED, score(f, table, translated=True)) for f, _ in safe[:2]]


def main() -> None:
    args = parse_args()
    quiet_logs()
    machine = machine_line()
    rows = collect(args)
    shown_half, chosen_note = args.half, ""
    choice_rows = rows
    if args.choose_on:
        shown_half = "b" if args.choose_on == "a" else "a"
        chosen_note = f" (chosen on half {args.choose_on})"
        choice_rows = [r for r in rows if question_half(str(r["question"])) == args.choose_on]
    if shown_half:
        rows = [r for r in rows if question_half(str(r["question"])) == shown_half]
    table_features = features(rows)
    choice_features = features(choice_rows) if args.choose_on else table_features
    page_margins = tuple(float(m) for m in args.grid_page_standouts.split(",") if m.strip())
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    fixed = (
        Floor("no floor", -1.0, 0.0, -1.0),
        Floor("before: cos>=0.86, or cos>=0.80 with 60% keywords", 0, 0, 0, legacy=True),
        Floor("today: cos>=0.89, or cos+0.25*coverage>=0.97 (before issue 12)", 0.89, 0.25, 0.97),
        settings_floor(defaults, "default: "),
        *(
            settings_floor(defaults.model_copy(update={"min_standout": margin}), "opt-in: ")
            for margin in STANDOUTS
        ),
        *(
            settings_floor(defaults.model_copy(update={"min_page_standout": margin}), "opt-in: ")
            for margin in PAGE_STANDOUTS
        ),
        # The absent-terms check costs XQuAD zh (questions translated apart from the
        # passages) what the page rule then refuses anyway.
        *(
            settings_floor(
                defaults.model_copy(
                    update={"min_page_standout": margin, "max_absent_share": ABSENT_OFF}
                ),
                "opt-in: ",
            )
            for margin in PAGE_STANDOUTS
        ),
        replace(
            settings_floor(defaults, "candidate: "),
            name=settings_floor(defaults, "candidate: ").name
            + f"; key terms >= {KEY_COVERAGE:.0%} (not offered)",
            key_rule=True,
        ),
        # A long page is many sections: the page rule with the candidates grouped by heading
        # (issue 12, measured on the handbook; not offered: same trade, see the README).
        *(
            replace(
                floor,
                name=f"candidate: {floor.name.split(': ', 1)[1]} grouped by {grouping}",
                grouping=grouping,
            )
            for grouping in GROUPINGS
            for floor in [
                settings_floor(
                    defaults.model_copy(
                        update={"min_page_standout": margin, "max_absent_share": ABSENT_OFF}
                    ),
                    "opt-in: ",
                )
                for margin in PAGE_STANDOUTS
            ]
        ),
    )
    default_floor = settings_floor(defaults, "")
    before = replace(default_floor, translated_lead=0.0, translated_reader_words=False)
    fixed += tuple(
        replace(floor, name="candidate: " + translated_label(floor))
        for floor in (
            before,
            replace(before, translated_lead=0.03),
            replace(default_floor, translated_reader_words=False),
            replace(default_floor, translated_absent=False),
        )
    )
    shown: list[tuple[str, dict[str, float]]] = []
    safe_counts = []
    modes = [(suffix, crossing, False) for suffix, crossing in MODES]
    if table_features.row_translated.any():
        modes.append((TRANSLATED, False, True))
    for suffix, crossing, translated in modes:
        shown += [
            (f.name + suffix, score(f, table_features, crossing, translated))
            for f in fixed
            if translated or "translated form" not in f.name
        ]
        safe = []
        for floor in grid(page_margins):
            scores = score(floor, choice_features, crossing, translated)
            if min(refused(scores), default=0.0) >= args.min_refused:
                safe.append((floor, scores))
        safe.sort(key=partial(rank_key, crossing or translated), reverse=True)
        names = {x.name.split(": ", 1)[-1] for x in fixed}
        best = [f for f, _ in safe if f.name not in names][:2]
        shown += [
            (f.name + chosen_note + suffix, score(f, table_features, crossing, translated))
            for f in best
        ]
        safe_counts.append(len(safe))
        if translated:
            shown += best_translated(default_floor, choice_features, table_features, args)
    groups = list(shown[0][1])
    table = [
        [
            name,
            *(f"{s[g]:.3f}" for g in groups),
            f"{min(kept(s)):.3f}" if kept(s) else "-",
            f"{min(kept_across(s)):.3f}" if kept_across(s) else "-",
            f"{min(refused(s)):.3f}" if refused(s) else "-",
        ]
        for name, s in shown
    ]
    print_table(
        f"Relevance floor: answerable kept, absent-page and off-topic refused ({machine})",
        ["floor", *groups, "worst kept", "worst kept across", "worst refused"],
        table,
    )
    counts = {
        kind: sum(
            1 for r in rows if r["kind"] == kind and not r["crossing"] and not r.get("translated")
        )
        for kind in KINDS
    }
    print(
        f"{counts['present']} answerable questions (pages present), the same "
        f"{counts['absent']} with their gold pages removed, {counts['cross-language']} "
        f"cross-language answerable pairs (XQuAD zh <-> en), {counts['off-topic']} off-topic "
        "question-corpus pairs; each searched with ASKWIKI_CROSS_LANGUAGE off and on "
        "([cross-language on] rows). Rows after each mode's default: the best two of "
        f"{' and '.join(map(str, safe_counts))} grid settings that refuse "
        f">= {args.min_refused:.0%} in every absent and off-topic group, ranked by worst "
        "kept (cross-language on: across languages included); worst kept/refused leave out "
        "the handbook's kept and absent groups (NOT_CHOOSING).",
        flush=True,
    )
    if args.judge:
        # Imported here: it imports this module (run as __main__) for its features.
        from bench.floor_judge import report_judge

        report_judge(args, rows, table_features)


if __name__ == "__main__":
    main()
