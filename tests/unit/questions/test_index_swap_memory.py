"""A swapped-out index version is freed once no request holds it (no version piles up)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from askwiki.embedding.embedder import Embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index, page
from tests.unit.questions.conftest import Client, SteeredModel
from tests.unit.questions.test_desk import LORA


def test_old_index_versions_are_freed_after_a_swap(
    client: Client, steered: SteeredModel, tmp_path: Path
) -> None:
    c = client(FakeLLM([LORA]), index_poll_s=3600)
    live = c.app.state.live_index
    served = []
    for n in range(3):
        # Every path that touches the index: ask, stream, search, a cached repeat.
        c.post("/api/ask", json={"question": "Who introduced LoRA?"})
        c.post("/api/ask", json={"question": "Who introduced LoRA?", "stream": True})
        c.get("/api/search", params={"q": "LoRA"})
        served.append(weakref.ref(live.retriever().index))
        pages = [*WIKI_PAGES, page(f"new{n}.md", f"Release {n}", f"Release {n} ships.")]
        build_index(tmp_path / "indexes" / "default", pages, Embedder("fake-embedding", steered))
        assert live.refresh()
    gc.collect()

    assert [ref() is None for ref in served] == [True, True, True]
    assert live.retriever().index.version == c.get("/api/ready").json()["index"]["version"]
