"""askwiki inside a LangChain LCEL chain, on the example wiki with the real embedder."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from askwiki.embedding.embedder import Embedder
from askwiki.langchain import AskwikiEmbeddings, AskwikiRetriever
from askwiki.live_index import LiveIndex
from askwiki.retrieval_options import retrieval_options
from askwiki.settings import Settings

pytestmark = pytest.mark.integration

PROMPT = ChatPromptTemplate.from_messages(
    [("system", "Answer from the numbered sources.\n{context}"), ("human", "{question}")]
)


def numbered(documents: list[Document]) -> str:
    return "\n".join(
        f"[{n}] {d.metadata['title']} / {d.metadata['section']}: {d.page_content}"
        for n, d in enumerate(documents, start=1)
    )


@pytest.fixture(scope="module")
def retriever(example_index: Settings, real_embedder: Embedder) -> AskwikiRetriever:
    live = LiveIndex(example_index.index_path, real_embedder, retrieval_options(example_index))
    live.load()
    return AskwikiRetriever(live_index=live, top_k=3)


@pytest.mark.parametrize(
    ("question", "page"),
    [
        ("What does LoRA train instead of the full weight matrices?", "lora"),
        ("中文分词为什么会有歧义？", "zh-segmentation"),
    ],
)
def test_retriever_returns_the_answering_page_first_with_citation_metadata(
    retriever: AskwikiRetriever, question: str, page: str
) -> None:
    documents = retriever.invoke(question)
    assert 1 <= len(documents) <= 3
    top = documents[0].metadata
    assert page in top["doc_id"]
    assert top["url"].startswith("https://wiki.example.com/") and "#" in top["url"]
    assert top["section"] and top["title"] and top["chunk_ids"]
    assert top["index_version"] == retriever.live_index.retriever().index.version
    assert documents[0].id == top["id"]


def test_an_off_topic_question_retrieves_nothing(retriever: AskwikiRetriever) -> None:
    assert retriever.invoke("Who won the 1998 football world cup final?") == []


def test_an_lcel_chain_puts_the_retrieved_sources_in_the_prompt(
    retriever: AskwikiRetriever,
) -> None:
    model = FakeListChatModel(responses=["LoRA trains low-rank matrices [1]."])
    seen: list[str] = []

    def record(prompt: object) -> object:
        seen.append(str(prompt))
        return prompt

    chain = (
        {"context": retriever | RunnableLambda(numbered), "question": RunnablePassthrough()}
        | PROMPT
        | RunnableLambda(record)
        | model
        | StrOutputParser()
    )
    assert chain.invoke("What is LoRA?") == "LoRA trains low-rank matrices [1]."
    assert "[1] LoRA" in seen[0] and "What is LoRA?" in seen[0]


def test_the_embeddings_adapter_matches_the_embedder(real_embedder: Embedder) -> None:
    embeddings = AskwikiEmbeddings(real_embedder)
    query = embeddings.embed_query("什么是 LoRA？")
    passages = embeddings.embed_documents(["LoRA freezes the base model.", "分词"])
    assert len(query) == real_embedder.dimension and len(passages) == 2
    direct = real_embedder.embed_queries(["什么是 LoRA？"])[0]
    assert max(abs(a - b) for a, b in zip(query, direct, strict=True)) < 1e-6
