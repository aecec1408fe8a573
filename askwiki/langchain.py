"""askwiki for LangChain users: the hybrid retriever as a ``BaseRetriever``, the embedder
as ``Embeddings``.

    retriever = AskwikiRetriever(live_index=live, top_k=4)
    chain = retriever | format_docs  # any LCEL chain

Each ``Document`` is one retrieved passage with what a citation needs in its metadata
(page title, section, URL with the section anchor, PDF page, chunk ids, scores, index
version). A question that no passage is relevant to gets no documents, the same refusal
decision askwiki's own answers use.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from askwiki.embedding.embedder import Embedder
from askwiki.live_index import LiveIndex
from askwiki.passages import Passage


class AskwikiEmbeddings(Embeddings):
    """An askwiki ``Embedder`` (query/passage prompts included) as LangChain ``Embeddings``."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return _as_lists(self.embedder.embed_passages(texts))

    def embed_query(self, text: str) -> list[float]:
        return _as_lists(self.embedder.embed_queries([text]))[0]


class AskwikiRetriever(BaseRetriever):
    """Dense + BM25 search fused with RRF, relevance floor applied, over the live index."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    live_index: LiveIndex
    top_k: int | None = Field(None, description="Passages to return; default: ASKWIKI_TOP_K.")

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        retriever = self.live_index.retriever()
        result = retriever.search(query, self.top_k)
        version = retriever.index.version
        return [passage_document(p, version) for p in result.passages]


def passage_document(passage: Passage, index_version: str | None = None) -> Document:
    """One passage as a LangChain ``Document`` carrying its citation metadata."""
    chunk = passage.chunk
    metadata: dict[str, Any] = {
        "id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "section": chunk.section,
        "url": chunk.url,
        "page": chunk.page,
        "chunk_ids": list(passage.chunk_ids),
        "score": passage.score,
        "dense_score": passage.dense_score,
        "bm25_score": passage.bm25_score,
        "index_version": index_version,
    }
    return Document(page_content=chunk.text, metadata=metadata, id=chunk.chunk_id)


def _as_lists(vectors: np.ndarray) -> list[list[float]]:
    return [[float(x) for x in row] for row in vectors]
