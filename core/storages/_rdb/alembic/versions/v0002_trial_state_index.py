"""Index trials by (study, state): WAITING trials are popped and stale RUNNING trials found
without scanning the study.

Revision ID: v0002
Revises: v0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "v0002"
down_revision = "v0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ts_trials_study_state", "ts_trials", ["study_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_ts_trials_study_state", table_name="ts_trials")
