"""The baseline of ``bench/answers.py``: the plain LangChain RAG tutorial pipeline.

RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) — the values of
LangChain's RAG tutorial — over the raw page text, ``FAISS.from_documents`` with the
same embedding model (``AskwikiEmbeddings``), ``similarity_search`` with the same k,
and the tutorial's prompt (LangChain hub ``rlm/rag-prompt``) to the same LLM with the
same answer-token cap and temperature. It has no relevance floor (it always answers), no
citations, and no question rewriting: a follow-up searches and asks with the previous
question joined to it (askwiki's own fallback when its rewrite fails).

The only liberty taken: when the k chunks would overflow the model's context window
(llama.cpp would refuse the request), the lowest-ranked chunks are dropped until the
prompt fits; rows record how many were dropped.
"""

from __future__ import annotations

import time
from pathlib import Path

from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document as LCDocument
from langchain_text_splitters import RecursiveCharacterTextSplitter

from askwiki.embedding.embedder import Embedder
from askwiki.errors import LLMError
from askwiki.evaluation import EvalQuestion, EvalRow, RetrievedPassage, fallback_query
from askwiki.evaluation.metrics import (
    best_f1,
    contains_answer,
    first_hit_rank,
    normalized_golds,
)
from askwiki.langchain import AskwikiEmbeddings
from askwiki.llm.base import BaseBackend, ChatMessage
from bench.answer_sets import AnswerSet, fingerprint, passage_is_gold

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
DEPTH = 10
# LangChain hub "rlm/rag-prompt", the prompt of the LangChain RAG tutorial.
TUTORIAL_PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of "
    "retrieved context to answer the question. If you don't know the answer, just say "
    "that you don't know. Use three sentences maximum and keep the answer concise.\n"
    "Question: {question} \nContext: {context} \nAnswer:"
)
# Chat-template tokens around the one user message and the reply primer.
TEMPLATE_TOKENS = 16


def build_store(answer_set: AnswerSet, embedder: Embedder, cache_dir: Path) -> tuple[FAISS, int]:
    """The tutorial's FAISS index of the set (cached by corpus fingerprint) and its size."""
    folder = cache_dir / f"langchain-{answer_set.name}-{fingerprint(answer_set)}"
    embeddings = AskwikiEmbeddings(embedder)
    if (folder / "index.faiss").is_file():
        # Our own file, written below by this script: loading its pickle is safe.
        store = FAISS.load_local(str(folder), embeddings, allow_dangerous_deserialization=True)
        return store, store.index.ntotal
    pages = [
        LCDocument(page_content=text, metadata={"doc_id": doc_id})
        for doc_id, text in answer_set.pages
    ]
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
    )
    chunks = splitter.split_documents(pages)
    store = FAISS.from_documents(chunks, embeddings)
    store.save_local(str(folder))
    return store, len(chunks)


class TutorialRAG:
    """Answers an ``EvalQuestion`` the tutorial's way and scores it like askwiki's rows."""

    def __init__(
        self,
        store: FAISS,
        llm: BaseBackend | None,
        *,
        k: int,
        max_tokens: int,
        temperature: float,
        file_level: bool,
    ) -> None:
        self.store = store
        self.llm = llm
        self.k = k
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.file_level = file_level

    def evaluate(self, question: EvalQuestion) -> EvalRow:
        """Retrieve, then answer with the LLM."""
        assert self.llm is not None, "evaluate needs an LLM; retrieve does not"
        started = time.perf_counter()
        row, docs = self._retrieve(question)
        messages, dropped = self._prompt(row.query, [d.page_content for d in docs[: self.k]])
        row.extra["dropped_chunks"] = dropped
        try:
            answer = self.llm.chat(
                messages, max_tokens=self.max_tokens, temperature=self.temperature
            ).strip()
        except LLMError as exc:
            row.error = str(exc)
            row.seconds = round(time.perf_counter() - started, 3)
            return row
        row.status = "answered"
        row.answer = answer
        if normalized_golds(question.answers):
            row.correct = contains_answer(answer, question.answers)
            row.f1 = round(best_f1(answer, question.answers), 4)
        row.seconds = round(time.perf_counter() - started, 3)
        return row

    def retrieve(self, question: EvalQuestion) -> EvalRow:
        """The retrieval half alone, scored like askwiki's retrieval-only rows."""
        started = time.perf_counter()
        row, _ = self._retrieve(question)
        row.seconds = round(time.perf_counter() - started, 3)
        return row

    def _retrieve(self, question: EvalQuestion) -> tuple[EvalRow, list[LCDocument]]:
        query = (
            fallback_query(question.question, question.history)
            if question.history
            else question.question
        )
        row = EvalRow(
            line=question.line,
            question=question.question,
            answerable=question.gold.answerable,
            query=query,
            extra=dict(question.extra),
        )
        docs = self.store.similarity_search(query, k=DEPTH)
        row.retrieved = [
            RetrievedPassage(
                rank=rank,
                doc_id=str(doc.metadata["doc_id"]),
                chunk_id=f"{doc.metadata['doc_id']}@{doc.metadata.get('start_index', 0)}",
                gold=passage_is_gold(
                    question, str(doc.metadata["doc_id"]), doc.page_content, self.file_level
                ),
            )
            for rank, doc in enumerate(docs, start=1)
        ]
        row.hit_rank = first_hit_rank([p.gold for p in row.retrieved])
        return row, docs

    def _prompt(self, question: str, contexts: list[str]) -> tuple[list[ChatMessage], int]:
        budget = self.llm.context_tokens - self.max_tokens - TEMPLATE_TOKENS
        kept = list(contexts)
        while True:
            text = TUTORIAL_PROMPT.format(question=question, context="\n\n".join(kept))
            if len(kept) <= 1 or self.llm.count_tokens(text) <= budget:
                return [ChatMessage("user", text)], len(contexts) - len(kept)
            kept.pop()
