"""A creation token on studies and trials: a write whose commit was lost with its connection
is recognised on retry instead of creating the study or trial twice.

Revision ID: v0003
Revises: v0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = "v0003"
down_revision = "v0002"
branch_labels = None
depends_on = None

_TABLES = ("ts_studies", "ts_trials")


def upgrade() -> None:
    # Nullable: rows written before this revision have none, and need none (a token is only
    # ever looked up by the process that wrote it, right after writing it).
    for table in _TABLES:
        op.add_column(table, sa.Column("create_token", sa.String(32), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN: SQLite has it since 3.35 (2021).
    for table in _TABLES:
        op.drop_column(table, "create_token")
