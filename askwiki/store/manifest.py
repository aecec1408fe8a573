"""The manifest: what built an index version and what it holds."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from askwiki.errors import IndexCorruptError, IndexMismatchError

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
# Whether float32 and bfloat16 vectors of one model may share an index; see README
# "Embedding dtype" for the bench/retrieval.py measurement this rests on.
DTYPES_INTERCHANGEABLE = False


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


def check_same_model(manifest: Manifest, embedding: EmbeddingInfo, index_path: Path) -> None:
    """Refuse to mix vectors of two embedding models (or of two dtypes) in one index."""
    built = manifest.embedding
    if (built.model, built.dimension) != (embedding.model, embedding.dimension):
        raise IndexMismatchError(
            f"Index {index_path} was built with embedding model {built.model!r} "
            f"({built.dimension}-d) but {embedding.model!r} ({embedding.dimension}-d) is "
            "configured; set ASKWIKI_EMBEDDING_MODEL back to the index's model, use another "
            "--index name, or rebuild with 'askwiki ingest --rebuild'"
        )
    if built.dtype != embedding.dtype and not DTYPES_INTERCHANGEABLE:
        raise IndexMismatchError(
            f"Index {index_path} was embedded in {built.dtype} but the embedding model runs "
            f"in {embedding.dtype}; set ASKWIKI_EMBEDDING_DTYPE={built.dtype}, use another "
            "--index name, or rebuild with 'askwiki ingest --rebuild'"
        )
