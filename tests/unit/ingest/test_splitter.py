from askwiki.documents import Document, DocumentPart
from askwiki.ingest.splitter import Splitter, parse_sections
from askwiki.testing.fake_embedder import fake_embedder


def make_splitter(chunk_tokens: int = 40, overlap: int = 0) -> Splitter:
    embedder = fake_embedder()
    return Splitter(embedder.count_tokens, embedder.split_by_tokens, chunk_tokens, overlap)


def doc(
    text: str, title: str = "Page", url: str | None = None, page: int | None = None
) -> Document:
    return Document("wiki/page.md", title, (DocumentPart(text, page),), "page.md", "markdown", url)


def test_heading_paths_and_anchors_recorded() -> None:
    text = "Intro text.\n## Setup\nInstall it.\n### On Linux {#linux}\nUse apt.\n## Setup\nAgain."
    chunks = make_splitter().split(doc(text, url="https://w/page"))
    assert [(c.section, c.anchor, c.url) for c in chunks] == [
        ("Page", "", "https://w/page"),
        ("Page › Setup", "setup", "https://w/page#setup"),
        ("Page › Setup › On Linux", "linux", "https://w/page#linux"),
        ("Page › Setup", "setup-1", "https://w/page#setup-1"),
    ]


def test_heading_equal_to_title_is_not_repeated() -> None:
    sections = parse_sections(doc("# Page\nBody.\n## Part\nMore.", title="Page"))
    assert [s.path for s in sections] == [("Page",), ("Page", "Part")]


def test_headings_inside_code_fences_are_text() -> None:
    sections = parse_sections(doc("## Real\n```\n# not a heading\n```\nafter"))
    assert [s.path for s in sections] == [("Page", "Real")]


def test_chinese_page_splits_on_chinese_sentence_ends() -> None:
    sentences = [
        "知识蒸馏把大模型的知识迁移到小模型。",
        "教师模型输出软标签！",
        "温度越高分布越平滑；",
        "学生模型学习它们？",
    ]
    chunks = make_splitter(chunk_tokens=18).split(doc("".join(sentences)))
    assert [c.text for c in chunks] == sentences
    assert all(c.token_count <= 18 for c in chunks)


def test_sentences_are_never_cut_when_they_fit() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(10))
    chunks = make_splitter(chunk_tokens=20).split(doc(text))
    for chunk in chunks:
        assert chunk.text.endswith("words.")
        assert chunk.token_count <= 20


def test_overlong_sentence_is_cut_by_tokens() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    chunks = make_splitter(chunk_tokens=30).split(doc(text))
    assert [c.token_count for c in chunks] == [30, 30, 30, 10]
    assert " ".join(c.text for c in chunks) == text


def test_overlap_carries_previous_sentences() -> None:
    text = "Alpha one two. Beta three four. Gamma five six. Delta seven eight."
    chunks = make_splitter(chunk_tokens=6, overlap=3).split(doc(text))
    assert [c.text for c in chunks] == [
        "Alpha one two. Beta three four.",
        "Beta three four. Gamma five six.",
        "Gamma five six. Delta seven eight.",
    ]


def test_pdf_parts_keep_page_numbers_in_chunks_and_urls() -> None:
    document = Document(
        "papers/p.pdf",
        "Paper",
        (DocumentPart("First page text.", 1), DocumentPart("Second page text.", 2)),
        "p.pdf",
        "pdf",
        "https://w/papers/p.pdf",
    )
    chunks = make_splitter().split(document)
    assert [(c.page, c.url) for c in chunks] == [
        (1, "https://w/papers/p.pdf#page=1"),
        (2, "https://w/papers/p.pdf#page=2"),
    ]


def test_chunk_ids_are_stable_and_change_with_content() -> None:
    first = make_splitter().split(doc("## A\nSame text.\n## B\nOld text."))
    again = make_splitter().split(doc("## A\nSame text.\n## B\nOld text."))
    edited = make_splitter().split(doc("## A\nSame text.\n## B\nNew text."))
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert first[0].chunk_id == edited[0].chunk_id
    assert first[1].chunk_id != edited[1].chunk_id
    assert first[1].chunk_id.startswith("wiki/page.md#1:")
