"""bench/answer_sets.py: the cached set indexes hold exactly the set's pages."""

from pathlib import Path

from askwiki.settings import Settings
from askwiki.testing.fake_embedder import fake_embedder
from bench.answer_sets import AnswerSet, open_set_index
from bench.common import write_jsonl

PASSAGES = [
    {"id": "DEV_1", "title": "莱索托", "text": "莱索托有一个国际机场，即莫舒舒一世国际机场。"},
    {"id": "DEV_2", "title": "龙烟铁路", "text": "龙烟铁路全长约一百公里，连接龙关与烟筒山。"},
    {"id": "DEV_3", "title": "LoRA", "text": "LoRA freezes the pretrained weights of the model."},
]


def answer_set(corpus: Path, passages: list[dict[str, str]]) -> AnswerSet:
    pages = [(p["id"], p["text"]) for p in passages]
    corpus.parent.mkdir(parents=True, exist_ok=True)
    return AnswerSet("cmrc2018", [], write_jsonl(corpus, passages), pages)


def test_an_absent_page_set_seeded_from_the_full_index_lacks_the_removed_page(
    tmp_path: Path,
) -> None:
    settings = Settings(index_dir=tmp_path / "indexes", _env_file=None)  # type: ignore[call-arg]
    embedder = fake_embedder()
    open_set_index(answer_set(tmp_path / "full" / "cmrc.jsonl", PASSAGES), settings, embedder)

    # Another corpus file without DEV_1, as bench/answers.py --absent writes it: its index
    # starts as a copy of the full one (seed_index), whose documents came from cmrc.jsonl.
    absent = answer_set(tmp_path / "absent" / "cmrc-absent.jsonl", PASSAGES[1:])
    opened = open_set_index(absent, settings, embedder)

    documents = opened.live.retriever().index.docstore.documents()
    assert set(documents) == {"DEV_2", "DEV_3"}
    assert opened.ingest.deleted == ["DEV_1"]
