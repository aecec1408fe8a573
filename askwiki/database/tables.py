"""The shared database's tables, as the code sees them after the newest migration.

Migrations (``migrations/versions``) change the database; this module is the code's view
of the result and must agree with them (``tests/unit/database`` checks it does).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)

metadata = MetaData()

questions = Table(
    "questions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("question", Text, nullable=False),
    Column("normalized", Text, nullable=False),
    Column("standalone_question", Text),
    Column("language", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("error", Text),
    Column("generated", Integer, nullable=False),
    Column("model", Text, nullable=False),
    Column("index_version", Text),
    Column("corrections", Integer, nullable=False, server_default="0"),
    Column("unsupported_removed", Integer, nullable=False, server_default="0"),
    Column("timings", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("asked_at", Text, nullable=False),
    Column("cached_from", Text, ForeignKey("questions.id")),
    Column("embedding", LargeBinary),
    Column("embedding_model", Text),
    # 1: taken out of every public list and page by an editor (the row stays for editors).
    Column("hidden", Integer, nullable=False, server_default="0"),
    # The editor whose curated answer this ask was served (None: the AI's answer).
    Column("reviewed_by", Text),
    # Insertion order, filled by the database (an identity on PostgreSQL, the rowid on SQLite).
    Column("seq", BigInteger),
    # The load balancer's id of the ask (``X-Request-ID``), the same on each retry of it.
    Column("request_id", Text),
    Index("questions_request_id", "request_id", unique=True),
)


def _source_table(name: str, parent: str = "questions.id") -> Table:
    return Table(
        name,
        metadata,
        Column("question_id", Text, ForeignKey(parent, ondelete="CASCADE"), primary_key=True),
        Column("n", Integer, primary_key=True),
        Column("source_id", Text, nullable=False),
        Column("doc_id", Text, nullable=False),
        Column("title", Text, nullable=False),
        Column("section", Text, nullable=False),
        Column("url", Text),
        Column("excerpt", Text, nullable=False),
        Column("score", Float, nullable=False),
        Column("cited", Integer, nullable=False),
        Column("page", Integer),
        Column("chunk_ids", Text, nullable=False),
    )


sources = _source_table("sources")
closest_pages = _source_table("closest_pages")

curated_answers = Table(
    "curated_answers",
    metadata,
    Column("question_id", Text, ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True),
    Column("answer", Text, nullable=False),
    Column("reviewed_by", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)
curated_sources = _source_table("curated_sources", "curated_answers.question_id")

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("question_id", Text, ForeignKey("questions.id", ondelete="CASCADE"), nullable=False),
    Column("vote", Text, nullable=False),
    Column("comment", Text),
    Column("created_at", Text, nullable=False),
)

index_versions = Table(
    "index_versions",
    metadata,
    Column("index_name", Text, primary_key=True),
    Column("version", Text, nullable=False),
    Column("published_at", Text, nullable=False),
)

admin_jobs = Table(
    "admin_jobs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("index_name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("started_at", Text),
    Column("finished_at", Text),
    # time.time() of the claiming worker's last sign of life.
    Column("heartbeat_at", Float),
    Column("claimed_by", Text),
    Column("detail", Text, nullable=False),
    Column("report", Text),
    Column("error", Text),
)

# Admin page sessions signed out early; a row lives until its cookie would have expired.
revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("expires", BigInteger, nullable=False),
)

# The tables ``askwiki db copy`` moves, parents before children.
QUESTION_LOG = (
    questions,
    sources,
    closest_pages,
    feedback,
    curated_answers,
    curated_sources,
    audit_log,
)
