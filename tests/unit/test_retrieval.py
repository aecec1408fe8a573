from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from askwiki.documents import Chunk
from askwiki.passages import Passage, best_per_page, merge_neighbours
from askwiki.retrieval import CLOSEST_PAGES, Retriever
from askwiki.retrieval_options import RetrievalOptions
from askwiki.store.index import open_index
from askwiki.testing.fake_embedder import fake_embedder
from tests.support.index_builder import WIKI_PAGES, build_index, page


def chunk(position: int, text: str, section: str = "P › S", doc_id: str = "p.md") -> Chunk:
    return Chunk(
        f"{doc_id}#{position}:x", doc_id, position, "P", section, "s", None, None, text, "h", 5
    )


def passage(c: Chunk, score: float) -> Passage:
    return Passage(c, c.position, score, score, None, (c.chunk_id,), (c.position,))


def test_neighbouring_chunks_of_a_section_merge_without_repeating_overlap() -> None:
    merged = merge_neighbours(
        [
            passage(chunk(3, "Second sentence here. Third one follows."), 0.9),
            passage(chunk(2, "First sentence. Second sentence here."), 0.5),
            passage(chunk(5, "Far away."), 0.4),
        ]
    )
    assert [p.chunk.text for p in merged] == [
        "First sentence. Second sentence here. Third one follows.",
        "Far away.",
    ]
    assert merged[0].chunk_ids == ("p.md#2:x", "p.md#3:x")
    assert merged[0].row_ids == (2, 3)
    assert merged[0].id == "p.md#2:x" and merged[0].score == 0.9


@pytest.mark.parametrize(
    "other",
    [chunk(3, "Other section.", section="P › T"), chunk(3, "Other doc.", doc_id="q.md")],
)
def test_chunks_of_other_sections_or_documents_stay_apart(other: Chunk) -> None:
    assert len(merge_neighbours([passage(chunk(2, "A."), 0.9), passage(other, 0.8)])) == 2


def make_retriever(tmp_path: Path, **options: float) -> Retriever:
    embedder = fake_embedder()
    build_index(tmp_path / "ix", WIKI_PAGES, embedder)
    return Retriever(open_index(tmp_path / "ix"), embedder, RetrievalOptions(**options))  # type: ignore[arg-type]


def test_keyword_leg_finds_exact_terms_and_fusion_ranks_them_first(tmp_path: Path) -> None:
    retriever = make_retriever(tmp_path, min_dense_score=-1.0)
    result = retriever.search("k1 saturation length normalisation", 3)
    assert result.passages[0].chunk.doc_id == "retrieval/bm25.md"
    assert result.passages[0].bm25_score is not None
    assert result.relevant
    assert [p.score for p in result.passages] == sorted(
        (p.score for p in result.passages), reverse=True
    )


def test_relevance_floor_keeps_keyword_covered_passages_only(tmp_path: Path) -> None:
    # The fake embedder's cosines are near 0: only keyword coverage >= ~0.6 reaches 6.
    retriever = make_retriever(
        tmp_path, min_dense_score=0.99, keyword_weight=10.0, min_hybrid_score=6.0
    )
    covered = retriever.search("BM25 parameters k1", 5)
    assert covered.relevant and {p.chunk.doc_id for p in covered.passages} == {"retrieval/bm25.md"}
    unrelated = retriever.search("sourdough bread baking", 5)
    assert not unrelated.relevant and unrelated.passages == []


def test_top_k_limits_results(tmp_path: Path) -> None:
    retriever = make_retriever(tmp_path, min_dense_score=-1.0)
    assert len(retriever.search("model", 1).passages) == 1
    assert replace(retriever.options, top_k=2).top_k == 2


def test_a_refused_search_offers_the_closest_pages_one_passage_each(tmp_path: Path) -> None:
    retriever = make_retriever(tmp_path, min_dense_score=0.999, min_hybrid_score=99.0)
    result = retriever.search("BM25 parameters k1 saturation", 5)

    assert not result.relevant and result.passages == []
    docs = [p.chunk.doc_id for p in result.closest]
    assert docs[0] == "retrieval/bm25.md"
    assert len(docs) == len(set(docs)) == CLOSEST_PAGES
    candidates = retriever.candidates(
        result.query, fake_embedder().embed_queries([result.query])[0], 15
    )
    assert result.closest == best_per_page(candidates)[:CLOSEST_PAGES]


def test_a_relevant_search_offers_no_closest_pages(tmp_path: Path) -> None:
    result = make_retriever(tmp_path, min_dense_score=-1.0).search("BM25 parameters k1", 5)
    assert result.relevant and result.closest == []


def test_best_per_page_keeps_the_first_passage_of_each_document_in_order() -> None:
    a1, b1 = chunk(1, "A one.", doc_id="a.md"), chunk(1, "B one.", doc_id="b.md")
    a2 = chunk(2, "A two.", doc_id="a.md")
    firsts = best_per_page([passage(a1, 0.9), passage(a2, 0.8), passage(b1, 0.7)])
    assert [(p.chunk.doc_id, p.score) for p in firsts] == [("a.md", 0.9), ("b.md", 0.7)]


def test_stored_vectors_are_the_indexed_vectors_of_every_chunk_of_a_passage(
    tmp_path: Path,
) -> None:
    embedder = fake_embedder()
    sentences = " ".join(f"Rank choice {n} trades adapter size against quality." for n in range(12))
    long_page = page("models/rank.md", "Rank", f"## Choosing\n{sentences}")
    build_index(tmp_path / "ix", [long_page], embedder, chunk_tokens=32)
    options = RetrievalOptions(min_dense_score=-1.0)
    retriever = Retriever(open_index(tmp_path / "ix"), embedder, options)
    passages = retriever.search("rank choice adapter size quality", 5).passages
    assert any(len(p.row_ids) > 1 for p in passages)  # neighbours were merged
    rows = retriever.index.docstore.chunks_by_rows([r for p in passages for r in p.row_ids])

    vectors = retriever.stored_vectors(passages)

    for passage, stored in zip(passages, vectors, strict=True):
        texts = [rows[r].chunk.search_text for r in passage.row_ids]
        assert stored.shape == (len(passage.row_ids), 32)
        assert np.allclose(stored, embedder.embed_passages(texts), atol=1e-6)


def test_a_translated_question_finds_the_page_in_the_other_language(tmp_path: Path) -> None:
    # Keyword coverage decides (fake cosines are near 0): the Chinese question shares no
    # word with the English BM25 page, its translation does.
    retriever = make_retriever(
        tmp_path, min_dense_score=0.99, keyword_weight=10.0, min_hybrid_score=6.0
    )
    question = "饱和度由哪个参数控制？"
    alone = retriever.search(question, 5)
    assert "retrieval/bm25.md" not in {p.chunk.doc_id for p in alone.passages}
    both = retriever.search(question, 5, translation="Which BM25 parameter controls saturation?")
    assert both.relevant and both.passages[0].chunk.doc_id == "retrieval/bm25.md"
    assert both.query == question


def test_without_a_translation_the_fused_ranking_is_the_questions_own(tmp_path: Path) -> None:
    retriever = make_retriever(tmp_path, min_dense_score=-1.0)
    vector = fake_embedder().embed_queries(["LoRA rank"])[0]
    alone = retriever.candidates("LoRA rank", vector, 15)
    searched = retriever.search("LoRA rank", 15, translation=None)
    assert [p.row_id for p in merge_neighbours(alone)] == [p.row_id for p in searched.passages]


def test_with_a_translation_each_passage_is_scored_against_the_form_in_its_language(
    tmp_path: Path,
) -> None:
    retriever = make_retriever(tmp_path, min_dense_score=-1.0)
    question, translation = "What is the temperature of soft labels?", "软标签的温度是什么？"
    embedded = fake_embedder().embed_queries([question, translation])
    vectors = dict(zip(("en", "zh"), embedded, strict=True))
    passages = retriever.search(question, 10, translation=translation).passages
    languages = retriever.index.languages.languages
    assert {languages[p.row_id] for p in passages} == {"en", "zh"}
    for p, stored in zip(passages, retriever.stored_vectors(passages), strict=True):
        assert p.dense_score == pytest.approx(float(stored[0] @ vectors[languages[p.row_id]]))
