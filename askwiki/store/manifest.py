"""The manifest: what built an index version and what it holds."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from askwiki.errors import IndexCorruptError, IndexMismatchError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
# Pairs of dtypes whose vectors of one model may share an index, because
# ``bench/retrieval.py --dtypes`` measured askwiki's retrieval within 0.3 point of MRR@10 in
# every pairing of index and query dtype (issue 18; README "Embedding dtype"). Any other
# pair is refused.
INTERCHANGEABLE_DTYPES = frozenset({frozenset({"float32", "bfloat16"})})
# Manifest ``extra`` key: every dtype whose vectors a version may hold, once they are mixed.
DTYPES_KEY = "embedding_dtypes"


@dataclass(frozen=True)
class EmbeddingInfo:
    """Identity of the embedding model; an index only accepts vectors from the same one."""

    model: str
    dimension: int
    query_prompt: str = ""
    passage_prompt: str = ""
    # Versions built before the dtype was recorded were all embedded in float32.
    dtype: str = "float32"


@dataclass(frozen=True)
class ChunkingInfo:
    """Splitting settings used for every chunk of the index."""

    chunk_tokens: int
    overlap_tokens: int


@dataclass
class Manifest:
    """Everything ``askwiki index info`` shows and loaders check."""

    name: str
    version: str
    embedding: EmbeddingInfo
    chunking: ChunkingInfo
    documents: int
    chunks: int
    dense_index: str
    created_at: str
    updated_at: str
    format_version: int = FORMAT_VERSION
    previous_version: str | None = None
    # "" for versions built before the tokenizer was recorded.
    keyword_tokenizer: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            raw["embedding"] = EmbeddingInfo(**raw["embedding"])
            raw["chunking"] = ChunkingInfo(**raw["chunking"])
            manifest = cls(**raw)
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"{path} is missing; re-run 'askwiki ingest'") from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise IndexCorruptError(f"{path} is not a valid manifest ({exc})") from exc
        if manifest.format_version != FORMAT_VERSION:
            raise IndexCorruptError(
                f"{path} has index format {manifest.format_version}, this askwiki reads "
                f"{FORMAT_VERSION}; rebuild it with 'askwiki ingest --rebuild'"
            )
        return manifest


def dtypes_interchangeable(first: str, second: str) -> bool:
    """Whether vectors embedded in these two dtypes may be searched together."""
    return first == second or frozenset({first, second}) in INTERCHANGEABLE_DTYPES


def embedded_dtypes(manifest: Manifest) -> list[str]:
    """The dtypes whose vectors this version may hold (one unless they were mixed)."""
    recorded = manifest.extra.get(DTYPES_KEY)
    if isinstance(recorded, list) and recorded:
        return sorted({str(d) for d in recorded} | {manifest.embedding.dtype})
    return [manifest.embedding.dtype]


def check_same_model(manifest: Manifest, embedding: EmbeddingInfo, index_path: Path) -> None:
    """Refuse to mix vectors of two embedding models, or of two dtypes not measured
    interchangeable, in one index."""
    built = manifest.embedding
    if (built.model, built.dimension) != (embedding.model, embedding.dimension):
        raise IndexMismatchError(
            f"Index {index_path} was built with embedding model {built.model!r} "
            f"({built.dimension}-d) but {embedding.model!r} ({embedding.dimension}-d) is "
            "configured; set ASKWIKI_EMBEDDING_MODEL back to the index's model, use another "
            "--index name, or rebuild with 'askwiki ingest --rebuild'"
        )
    stored = embedded_dtypes(manifest)
    refused = [d for d in stored if not dtypes_interchangeable(d, embedding.dtype)]
    if refused:
        raise IndexMismatchError(
            f"Index {index_path} was embedded in {' and '.join(refused)} but the embedding "
            f"model runs in {embedding.dtype}, and vectors of these dtypes were not measured "
            f"interchangeable; set ASKWIKI_EMBEDDING_DTYPE={refused[0]}, use another "
            "--index name, or rebuild with 'askwiki ingest --rebuild'"
        )
    if stored != [embedding.dtype]:
        logger.info(
            "Index %s was embedded in %s; the model runs in %s, measured interchangeable",
            index_path,
            " and ".join(stored),
            embedding.dtype,
        )
