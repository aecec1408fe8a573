"""413 over a real socket, for clients that send the whole body before reading (urllib)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from askwiki.server.app import create_app
from askwiki.settings import Settings
from askwiki.testing.fake_embedder import fake_embedder
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index
from tests.support.live_server import serve_in_thread

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("size_kb", [8, 300, 2000, 30000])
def test_urllib_gets_the_413_not_a_connection_reset(tmp_path: Path, size_kb: int) -> None:
    embedder = fake_embedder()
    build_index(tmp_path / "indexes" / "default", WIKI_PAGES, embedder)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, index_dir=tmp_path / "indexes", data_dir=tmp_path / "data", max_body_kb=4
    )
    app = create_app(settings, embedder=embedder, llm_factory=lambda: FakeLLM())
    body = json.dumps({"question": "x" * (size_kb * 1024)}).encode()

    with serve_in_thread(app) as base:
        request = urllib.request.Request(
            f"{base}/api/ask", data=body, headers={"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)

    assert refused.value.code == 413
    assert json.loads(refused.value.read())["error"] == "too_large"
