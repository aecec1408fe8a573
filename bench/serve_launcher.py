"""Bench-only server: ``create_app`` with a fixed-latency fake LLM, on loopback.

    python bench/serve_launcher.py --port 8765 --llm-seconds 0.5 [--fake-embedder]

Settings come from the environment as for ``askwiki serve`` (``ASKWIKI_INDEX_DIR``,
``ASKWIKI_INDEX``, ``ASKWIKI_DATA_DIR``, ``ASKWIKI_RATE_LIMIT_PER_MINUTE=0``...). The LLM is
``askwiki.testing.fake_llm.FakeLLM`` streaming a fixed cited reply in ``REPLY_PIECES`` pieces,
so every answer takes ``--llm-seconds`` of generation whatever the question.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn

from askwiki.embedding.embedder import Embedder
from askwiki.llm.base import ChatMessage
from askwiki.server.app import create_app
from askwiki.settings import Settings
from askwiki.testing.fake_llm import FakeLLM, split_pieces

REPLY = "The wiki page describes this in its first section [1]. It also lists an example [2]."
REPLY_PIECES = len(split_pieces(REPLY))


class BenchLLM(FakeLLM):
    """FakeLLM without its call log, which would otherwise grow the server's memory."""

    def stream_chat(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        pieces = super().stream_chat(messages, max_tokens=max_tokens, temperature=temperature)
        with self._lock:
            self.calls.clear()
        return pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--llm-seconds", type=float, default=0.5, help="generation time")
    parser.add_argument("--fake-embedder", action="store_true", help="the fake embedder")
    args = parser.parse_args()
    settings = Settings()
    embedder: Embedder | None = None
    if args.fake_embedder:
        from askwiki.testing.fake_embedder import fake_embedder

        embedder = fake_embedder()
    llm = BenchLLM([REPLY], delay_s=args.llm_seconds / REPLY_PIECES)
    app = create_app(settings, embedder=embedder, llm_factory=lambda: llm)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
