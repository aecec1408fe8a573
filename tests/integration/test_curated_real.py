"""A curated answer reaches paraphrases with the real embedding model (the cache's test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from askwiki.embedding.embedder import Embedder
from askwiki.server.app import create_app
from askwiki.settings import Settings
from askwiki.testing.fake_llm import FakeLLM
from tests.support.index_builder import WIKI_PAGES, build_index

pytestmark = pytest.mark.integration

TOKEN = "curator-" + "c" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# (original, paraphrase, another question). multilingual-e5-small rates "Who invented
# LoRA?" 0.981 alike with 0.67 shared wording; "What is LoRA?" 0.966 alike but with 0.32
# shared wording, so it is another question (the Chinese triple behaves the same).
CASES = [
    ("Who introduced LoRA?", "Who invented LoRA?", "What is LoRA?"),
    ("知识蒸馏是谁提出的？", "谁提出了知识蒸馏？", "什么是知识蒸馏？"),
]


def test_a_paraphrase_gets_the_curated_answer_and_another_question_does_not(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    build_index(tmp_path / "indexes" / "default", WIKI_PAGES, real_embedder)
    settings = Settings(
        index_dir=tmp_path / "indexes",
        data_dir=tmp_path / "data",
        admin_token=TOKEN,
        rate_limit_per_minute=0,
        _env_file=None,  # type: ignore[call-arg]
    )
    llm = FakeLLM(["An AI answer [1]."])
    app = create_app(settings, embedder=real_embedder, llm_factory=lambda: llm)
    with TestClient(app) as client:
        for original, paraphrase, unrelated in CASES:
            first = client.post("/api/ask", json={"question": original}).json()
            put = client.put(
                f"/api/admin/questions/{first['id']}/curated",
                json={"answer": f"Reviewed: {original}", "sources": [{"doc_id": "models/lora.md"}]},
                headers=AUTH,
            )
            assert put.status_code == 200, put.text

            served = client.post("/api/ask", json={"question": paraphrase}).json()
            other = client.post("/api/ask", json={"question": unrelated}).json()

            assert served["curated"] is True, paraphrase
            assert served["answer"] == f"Reviewed: {original}"
            assert served["cached_from"] == first["id"]
            assert other["curated"] is False, unrelated
