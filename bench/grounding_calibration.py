"""Calibrate the grounding check's cross-language sentence support on XQuAD zh/en.

    python bench/grounding_calibration.py [--questions N] [--seed S]

XQuAD's zh and en sets are parallel: the same paragraphs and questions, professionally
translated. For a sample of questions, the sentence of a paragraph that holds the gold answer
stands for an answer sentence the model wrote from that paragraph. It is paired with

- the paragraph in the other language (supported: it says the same thing),
- another paragraph of the same article in the other language (unsupported: on topic, but it
  does not say it: the invented sentence that cites a plausible page),

and, for the same-language reference, with the paragraph and another paragraph of the same
article in its own language. Each pair is judged the way ``askwiki/answering/grounding.py``
judges it: the sentence embedded as a passage, the source as the index stores it (heading and
text, one vector per paragraph: XQuAD paragraphs fit one chunk) and, across languages, the
source's own sentences. The script prints the cosine distributions to the closest chunk and
to the closest source sentence, how a threshold on each keeps supported and drops unsupported
pairs (also with a candidate rule not taken: the sentence's numbers and, for a Chinese
sentence, its Latin-script words must occur in the source), the best threshold, and what
``ground_answer`` itself decides with the threshold in the code. Same-language supported
pairs contain the sentence itself: they bound, not mirror, what the lexical check sees.
None of these questions is used by a test.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askwiki.answering.citations import strip_markers
from askwiki.answering.grounding import (
    CROSS_LANGUAGE_COSINE,
    ground_answer,
    source_sentences,
)
from askwiki.embedding.embedder import load_embedder
from askwiki.evidence import TermWeights, term_weights
from askwiki.settings import Settings
from askwiki.text import detect_language, keyword_tokens, split_sentences
from bench.common import (
    load_qa_set,
    machine_line,
    median,
    ms,
    percentile,
    print_table,
    quiet_logs,
    say,
    timed,
)

KINDS = ("supported", "unsupported")
PAIRINGS = ("en→zh", "zh→en", "en→en", "zh→zh")  # sentence language → source language


@dataclass(frozen=True)
class Pair:
    pairing: str
    kind: str
    sentence: str
    source: str


def answer_sentence(text: str, answer: str) -> str | None:
    """The sentence of ``text`` that holds ``answer``, if exactly findable."""
    for sentence in split_sentences(text):
        if answer and answer in sentence and len(keyword_tokens(sentence)) >= 2:
            return sentence
    return None


def build_pairs(n: int, seed: int) -> list[Pair]:
    sets = {lang: load_qa_set(f"xquad-{lang}") for lang in ("en", "zh")}
    paragraphs = {
        lang: {p["id"].split("/", 1)[1]: p for p in qa.passages} for lang, qa in sets.items()
    }
    by_article: dict[str, list[str]] = {}
    for pid, p in paragraphs["en"].items():
        by_article.setdefault(p["title"], []).append(pid)
    questions = {lang: {q["id"]: q for q in qa.questions} for lang, qa in sets.items()}
    ids = sorted(set(questions["en"]) & set(questions["zh"]))
    rng = random.Random(seed)
    rng.shuffle(ids)
    pairs: list[Pair] = []
    used = 0
    for qid in ids:
        if used >= n:
            break
        pid = questions["en"][qid]["passage_id"].split("/", 1)[1]
        others = [o for o in by_article[paragraphs["en"][pid]["title"]] if o != pid]
        sentences = {
            lang: answer_sentence(paragraphs[lang][pid]["text"], questions[lang][qid]["answers"][0])
            for lang in ("en", "zh")
        }
        if not others or None in sentences.values():
            continue
        other = rng.choice(others)
        used += 1
        for pairing in PAIRINGS:
            s_lang, p_lang = pairing.split("→")
            sentence = sentences[s_lang]
            assert sentence is not None
            for kind, source_id in zip(KINDS, (pid, other), strict=True):
                pairs.append(
                    Pair(pairing, kind, sentence, source_text(paragraphs[p_lang][source_id]))
                )
    return pairs


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def unmatched_marks(sentence: str, source: str) -> float:
    """A candidate rule, not taken: share of the sentence's language-neutral marks that the source lacks (0 with none).

    Numbers are written alike in both languages, and so are the Latin-script names and
    terms a Chinese sentence carries (LoRA, W0, Hinton); an English sentence's other words
    are translations, not marks.
    """
    plain = strip_markers(sentence)
    marks = set(_NUMBER.findall(plain))
    found = set(_NUMBER.findall(source))
    if detect_language(plain) == "zh":
        marks |= {w.lower() for w in _LATIN_WORD.findall(plain)}
        found |= {w.lower() for w in _LATIN_WORD.findall(source)}
    return len(marks - found) / len(marks) if marks else 0.0


def source_text(paragraph: dict[str, str]) -> str:
    """As the index stores a chunk: its heading path, then its text."""
    return f"{paragraph['title'].replace('_', ' ')}\n{paragraph['text']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--timed", type=int, default=20, help="pairs per pairing timed")
    args = parser.parse_args()
    quiet_logs()
    machine = machine_line()
    pairs = build_pairs(args.questions, args.seed)
    embedder = load_embedder(Settings(_env_file=None))  # type: ignore[call-arg]
    sources = sorted({p.source for p in pairs})
    pieces = {s: source_sentences(s) for s in sources}
    texts = sorted({p.sentence for p in pairs} | {x for v in pieces.values() for x in v})
    say(f"embedding {len(texts)} sentences and {len(sources)} paragraphs ({machine})")
    vectors = dict(zip(texts, embedder.embed_passages(texts), strict=True))
    chunks = dict(zip(sources, embedder.embed_passages(sources), strict=True))
    chunk = np.array([float(vectors[p.sentence] @ chunks[p.source]) for p in pairs])
    closest = np.array(
        [max(float(vectors[p.sentence] @ vectors[x]) for x in pieces[p.source]) for p in pairs]
    )
    report_distributions(pairs, {"chunk": chunk, "closest sentence": np.maximum(chunk, closest)})
    unmatched = np.array([unmatched_marks(p.sentence, p.source) for p in pairs])
    report_thresholds(pairs, chunk, np.maximum(chunk, closest), unmatched)

    def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        missing = [t for t in texts if t not in vectors]
        if missing:
            vectors.update(zip(missing, embedder.embed_passages(missing), strict=True))
        return np.stack([vectors[t] for t in texts])

    report_grounding(pairs, chunks, embed, machine)
    report_cost(pairs, chunks, embedder.embed_passages, args.timed)


def _mask(pairs: list[Pair], pairing: str, kind: str) -> npt.NDArray[np.bool_]:
    return np.array([p.pairing == pairing and p.kind == kind for p in pairs])


def report_distributions(pairs: list[Pair], features: dict[str, npt.NDArray[np.float64]]) -> None:
    rows = []
    for name, cosines in features.items():
        for pairing in PAIRINGS:
            for kind in KINDS:
                c = cosines[_mask(pairs, pairing, kind)]
                q = np.percentile(c, [5, 10, 25, 50, 75, 90, 95])
                rows.append([name, pairing, kind, len(c), *(f"{v:.3f}" for v in q)])
    print_table(
        "cosine of the sentence to its source, percentiles",
        ["to the source's", "pairing", "pair", "n", "p5", "p10", "p25", "p50", "p75", "p90", "p95"],
        rows,
    )


def report_thresholds(
    pairs: list[Pair],
    chunk: npt.NDArray[np.float64],
    closest: npt.NDArray[np.float64],
    unmatched: npt.NDArray[np.float64],
) -> None:
    rows = []
    balanced: dict[float, float] = {}
    for t in np.arange(0.78, 0.865, 0.01):
        cells: list[object] = [f"{t:.2f}"]
        accuracy = [
            (closest[_mask(pairs, d, "supported")] >= t - 1e-9).mean()
            + (closest[_mask(pairs, d, "unsupported")] < t - 1e-9).mean()
            for d in ("en→zh", "zh→en")
        ]
        balanced[round(float(t), 2)] = float(np.mean(accuracy)) / 2
        for cosines, most in ((chunk, 1.0), (closest, 1.0), (closest, 0.5), (closest, 0.0)):
            for pairing in ("en→zh", "zh→en"):
                keep = (cosines >= t - 1e-9) & (unmatched <= most)
                sup, uns = _mask(pairs, pairing, "supported"), _mask(pairs, pairing, "unsupported")
                cells.append(f"{keep[sup].mean():.3f} / {1 - keep[uns].mean():.3f}")
        rows.append(cells)
    print_table(
        "cross-language: supported kept / unsupported dropped, at cosine ≥ t",
        [
            "t",
            *(
                f"{feature} {pairing}"
                for feature in ("chunk", "closest", "closest, marks ≥ ½", "closest, all marks")
                for pairing in ("en→zh", "zh→en")
            ),
        ],
        rows,
    )
    best = max(balanced, key=lambda t: balanced[t])
    print(
        f"Closest sentence, best balanced accuracy (mean of kept and dropped, both directions): "
        f"{balanced[best]:.3f} at {best:.2f}; in the code: {CROSS_LANGUAGE_COSINE} "
        f"({balanced.get(CROSS_LANGUAGE_COSINE, float('nan')):.3f})."
    )


def report_grounding(
    pairs: list[Pair],
    chunks: dict[str, npt.NDArray[np.float32]],
    embed: Callable[[Sequence[str]], npt.NDArray[np.float32]],
    machine: str,
) -> None:
    """What ``ground_answer`` decides, with the rule in the code, for one cited source."""
    frequency = Counter(t for s in chunks for t in set(keyword_tokens(s)))

    def weigh(words: list[str]) -> TermWeights:
        return term_weights(words, lambda ws: {w: frequency.get(w, 0) for w in ws}, len(chunks))

    rows = []
    for pairing in PAIRINGS:
        cells: list[object] = [pairing]
        for kind in KINDS:
            chosen = [p for p in pairs if p.pairing == pairing and p.kind == kind]
            kept = sum(
                ground_answer(
                    f"{p.sentence}[1]", [p.source], [chunks[p.source][None, :]], embed, weigh, ""
                ).answers
                for p in chosen
            )
            cells.append(f"{kept / len(chosen):.3f}")
        rows.append(cells)
    print_table(
        f"ground_answer, CROSS_LANGUAGE_COSINE = {CROSS_LANGUAGE_COSINE}: share kept ({machine})",
        ["pairing", *KINDS],
        rows,
    )


def report_cost(
    pairs: list[Pair],
    chunks: dict[str, npt.NDArray[np.float32]],
    embed: Callable[[Sequence[str]], npt.NDArray[np.float32]],
    n: int,
) -> None:
    """Seconds ``ground_answer`` takes for one sentence and one source, embedding included:
    across languages it embeds the source's sentences too."""
    rows = []
    for pairing in PAIRINGS:
        chosen = [p for p in pairs if p.pairing == pairing and p.kind == "supported"][:n]
        seconds = [
            timed(
                lambda p=p: ground_answer(
                    f"{p.sentence}[1]", [p.source], [chunks[p.source][None, :]], embed, _flat, ""
                )
            )[1]
            for p in chosen
        ]
        rows.append([pairing, len(seconds), ms(median(seconds)), ms(percentile(seconds, 95))])
    print_table(
        "ground_answer time per sentence, one source, embedding included",
        ["pairing", "n", "p50 ms", "p95 ms"],
        rows,
    )


def _flat(words: list[str]) -> TermWeights:
    return term_weights(words, lambda ws: {}, 1)


if __name__ == "__main__":
    main()
