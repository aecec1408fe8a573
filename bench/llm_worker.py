"""Serve one GGUF with one ``xllamacpp`` build until stdin closes (for ``bench/ttft.py``).

    PYTHONPATH=<dir with another xllamacpp build>:<repo> python bench/llm_worker.py \
        --model M.gguf --threads 2

Two builds of ``xllamacpp`` cannot share a process (same module name), so each runtime
that ``bench/ttft.py --runtime`` compares runs here, in its own process, through askwiki's
own ``EmbeddedBackend`` (same server parameters as the product). Its first stdout line is a
JSON object: the server's URL, which ``xllamacpp`` was imported, llama.cpp's CPU features
and the load time. It stops the server when its parent closes stdin.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from askwiki.llm.embedded import EmbeddedBackend
from askwiki.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="the GGUF file to serve")
    parser.add_argument("--threads", type=int, default=0, help="0 = all cores")
    parser.add_argument("--context", type=int, default=4096, help="context tokens")
    args = parser.parse_args()
    settings = Settings(
        llm_model_path=args.model,
        llm_threads=args.threads,
        llm_context_tokens=args.context,
        _env_file=None,  # type: ignore[call-arg]
    )
    backend = EmbeddedBackend(settings)
    backend.load()
    import xllamacpp

    ready = {
        "url": backend.base_url,
        "model": backend.model,
        "xllamacpp": str(Path(xllamacpp.__file__).parent),
        "system_info": str(xllamacpp.get_system_info()).strip(),
        "load_s": backend.load_seconds,
    }
    print(json.dumps(ready), flush=True)
    try:
        sys.stdin.read()
    finally:
        backend.close()


if __name__ == "__main__":
    main()
