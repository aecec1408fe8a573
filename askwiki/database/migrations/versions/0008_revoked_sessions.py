"""``revoked_sessions``: admin page sessions signed out before their cookie expires.

The session cookie is signed, not stored, so every replica accepts it without a lookup;
signing out only made the browser forget it, and a copy of the cookie kept working for up
to eight hours. A signed-out session id is now kept here until the cookie would have
expired, and every replica refuses it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.Text(), primary_key=True),
        sa.Column("expires", sa.BigInteger(), nullable=False),
    )
