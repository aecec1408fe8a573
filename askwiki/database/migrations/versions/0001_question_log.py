"""The question log as SQLite schema version 2 had it (before Alembic).

Every statement is ``IF NOT EXISTS``: a log written by that version is already at this
revision and keeps all its rows; a version-1 log gains ``closest_pages``.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _source_columns() -> list[sa.schema.SchemaItem]:
    return [
        sa.Column(
            "question_id",
            sa.Text,
            sa.ForeignKey("questions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("source_id", sa.Text, nullable=False),
        sa.Column("doc_id", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("section", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("excerpt", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("cited", sa.Integer, nullable=False),
        sa.Column("page", sa.Integer),
        sa.Column("chunk_ids", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("question_id", "n"),
    ]


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("normalized", sa.Text, nullable=False),
        sa.Column("standalone_question", sa.Text),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("generated", sa.Integer, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("index_version", sa.Text),
        sa.Column("corrections", sa.Integer, nullable=False, server_default="0"),
        sa.Column("timings", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("asked_at", sa.Text, nullable=False),
        sa.Column("cached_from", sa.Text, sa.ForeignKey("questions.id")),
        sa.Column("embedding", sa.LargeBinary),
        sa.Column("embedding_model", sa.Text),
        if_not_exists=True,
    )
    op.create_index(
        "questions_cache",
        "questions",
        ["normalized", "index_version", "status"],
        if_not_exists=True,
    )
    op.create_index("questions_asked", "questions", ["asked_at"], if_not_exists=True)
    op.create_index("questions_cached_from", "questions", ["cached_from"], if_not_exists=True)
    op.create_table("sources", *_source_columns(), if_not_exists=True)
    op.create_table("closest_pages", *_source_columns(), if_not_exists=True)
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "question_id",
            sa.Text,
            sa.ForeignKey("questions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("vote", sa.Text, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.CheckConstraint("vote IN ('up', 'down')", name="feedback_vote"),
        if_not_exists=True,
    )
    op.create_index("feedback_question", "feedback", ["question_id"], if_not_exists=True)
