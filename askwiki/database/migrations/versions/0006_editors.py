"""Editors' controls: hidden questions, curated answers and the audit log.

``questions.hidden`` takes a question out of every public list and page;
``questions.reviewed_by`` names the editor whose curated answer an ask was served.
``curated_answers`` (with ``curated_sources``, the columns of ``sources``) holds the
answer an editor wrote or approved for a question; ``audit_log`` every editor action.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "questions", sa.Column("hidden", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("questions", sa.Column("reviewed_by", sa.Text()))
    op.create_table(
        "curated_answers",
        sa.Column(
            "question_id",
            sa.Text,
            sa.ForeignKey("questions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("reviewed_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_table(
        "curated_sources",
        sa.Column(
            "question_id",
            sa.Text,
            sa.ForeignKey("curated_answers.question_id", ondelete="CASCADE"),
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
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("audit_log_at", "audit_log", ["at"])
