"""Build a small index from in-memory pages, without loaders or a real model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from askwiki.documents import Document, DocumentPart
from askwiki.embedding.embedder import Embedder
from askwiki.ingest.splitter import Splitter
from askwiki.store.manifest import ChunkingInfo
from askwiki.store.writer import IndexWriter


def page(doc_id: str, title: str, text: str, url: str | None = None) -> Document:
    return Document(doc_id, title, (DocumentPart(text),), f"/wiki/{doc_id}", "markdown", url)


def build_index(
    index_path: Path, pages: Sequence[Document], embedder: Embedder, chunk_tokens: int = 64
) -> str:
    splitter = Splitter(embedder.count_tokens, embedder.split_by_tokens, chunk_tokens, 0)
    with IndexWriter(index_path, embedder.info, ChunkingInfo(chunk_tokens, 0), 10_000) as writer:
        for document in pages:
            chunks = splitter.split(document)
            writer.upsert(
                document, chunks, embedder.embed_passages([c.search_text for c in chunks])
            )
        manifest = writer.commit()
    assert manifest is not None
    return manifest.version


WIKI_PAGES = [
    page(
        "models/distillation.md",
        "知识蒸馏",
        "## 定义\n知识蒸馏由 Hinton 等人在 2015 年提出。学生模型学习教师模型的软标签。\n"
        "## 温度\n温度参数越高，软标签的分布越平滑。",
        "https://wiki.example.com/models/distillation",
    ),
    page(
        "models/lora.md",
        "LoRA",
        "## Overview\nLoRA was introduced by Hu et al. in 2021. It freezes the pretrained weights "
        "and trains two low-rank matrices.\n## Rank\nThe rank r is usually between 4 and 64.",
        "https://wiki.example.com/models/lora",
    ),
    page(
        "retrieval/bm25.md",
        "BM25",
        "## Parameters\nBM25 has two parameters: k1 controls term frequency saturation and b "
        "controls length normalisation. Typical values are k1 = 1.2 and b = 0.75.",
    ),
]
