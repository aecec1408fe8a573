"""``python -m tests.support.fake_server``: askwiki with the fake embedder and FakeLLM, in
its own process, configured by ``ASKWIKI_*`` variables (for kill -9 and memory tests).

``FAKE_EMBED_DELAY_S`` makes every ingest's embedding step slow, so a test can catch an
ingest job in the middle; ``FAKE_LLM_DELAY_S`` delays each streamed piece of an answer;
the port comes from ``ASKWIKI_PORT``.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from askwiki.server.admin.jobs import JOB_THREAD
from askwiki.testing.fake_embedder import FakeSentenceModel

ROOT = Path(__file__).resolve().parent.parent.parent


class SlowSentenceModel(FakeSentenceModel):
    """Sleeps before encoding passages for an admin job (its worker thread), so an
    ingest is slow while answering questions stays fast."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    def encode(self, texts: list[str], prompt: str | None = None, **kwargs: Any) -> np.ndarray:
        if threading.current_thread().name == JOB_THREAD:
            time.sleep(self.delay_s)
        return super().encode(texts, prompt=prompt, **kwargs)


def main() -> None:
    import uvicorn

    from askwiki.embedding.embedder import Embedder
    from askwiki.server.app import create_app
    from askwiki.settings import Settings
    from askwiki.testing.fake_llm import FakeLLM

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    delay = float(os.environ.get("FAKE_EMBED_DELAY_S", "0"))
    embedder = Embedder("fake-embedding", SlowSentenceModel(delay))
    llm = FakeLLM(
        ["LoRA was introduced by Hu et al. in 2021 [1]."],
        delay_s=float(os.environ.get("FAKE_LLM_DELAY_S", "0")),  # per streamed piece
    )
    app = create_app(settings, embedder=embedder, llm_factory=lambda: llm)
    uvicorn.run(app, host="127.0.0.1", port=settings.port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fake_server_process(
    env: dict[str, str], log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start the server, wait for /api/health, yield (process, base URL); kill it at the end."""
    port = env["ASKWIKI_PORT"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.fake_server"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"fake server did not start; see {log}:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


if __name__ == "__main__":
    main()
