"""``index_versions``: the live version of each index, for replicas sharing one index folder.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_versions",
        sa.Column("index_name", sa.Text, primary_key=True),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("published_at", sa.Text, nullable=False),
    )
