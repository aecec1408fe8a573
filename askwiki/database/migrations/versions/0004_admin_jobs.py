"""``admin_jobs``: the admin job queue every replica claims from.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_jobs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("index_name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("started_at", sa.Text),
        sa.Column("finished_at", sa.Text),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("claimed_by", sa.Text),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("report", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_index("admin_jobs_queue", "admin_jobs", ["index_name", "status", "created_at"])
