"""``questions.request_id``: the id a load balancer gives one ask, kept across its retries.

nginx retries an ask on another replica when the first dies; if the first had already
stored its answer, the retry must find that answer instead of storing a second one. The
unique index makes "store it unless this request already has an answer" one atomic step
on both databases (NULLs, asks without an id, never collide).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("questions", sa.Column("request_id", sa.Text(), nullable=True))
    op.create_index("questions_request_id", "questions", ["request_id"], unique=True)
