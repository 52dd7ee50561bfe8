"""The initial schema: studies, trials, parameters, attributes, intermediate values,
heartbeats.

Revision ID: v0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = "v0001"
down_revision = None
branch_labels = None
depends_on = None

# Written out here rather than imported from the models: a revision is a frozen record of the
# schema at that point in history, whatever the models look like later.
_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_FLOAT: sa.Double[float] = sa.Double()
_NAME = sa.String(512)


def upgrade() -> None:
    op.create_table(
        "ts_studies",
        sa.Column("study_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("study_name", _NAME, nullable=False),
        sa.Column("directions", _TEXT, nullable=False),
        sa.Column("n_trials", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("study_name", name="uq_ts_studies_name"),
    )
    op.create_table(
        "ts_study_attrs",
        sa.Column("study_id", sa.Integer, sa.ForeignKey("ts_studies.study_id"), primary_key=True),
        sa.Column("is_system", sa.Boolean, primary_key=True),
        sa.Column("key", _NAME, primary_key=True),
        sa.Column("value_json", _TEXT, nullable=False),
    )
    op.create_table(
        "ts_trials",
        sa.Column("trial_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.Integer, sa.ForeignKey("ts_studies.study_id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
        sa.Column("values_json", _TEXT, nullable=True),
        sa.Column("datetime_start", _TIME, nullable=True),
        sa.Column("datetime_complete", _TIME, nullable=True),
        sa.UniqueConstraint("study_id", "number", name="uq_ts_trials_study_number"),
    )
    op.create_table(
        "ts_trial_params",
        sa.Column("param_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("ts_trials.trial_id"), nullable=False),
        sa.Column("name", _NAME, nullable=False),
        sa.Column("value", _FLOAT, nullable=False),
        sa.Column("distribution_json", _TEXT, nullable=False),
        sa.UniqueConstraint("trial_id", "name", name="uq_ts_trial_params_trial_name"),
    )
    op.create_table(
        "ts_trial_attrs",
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("ts_trials.trial_id"), primary_key=True),
        sa.Column("is_system", sa.Boolean, primary_key=True),
        sa.Column("key", _NAME, primary_key=True),
        sa.Column("value_json", _TEXT, nullable=False),
    )
    op.create_table(
        "ts_trial_intermediate_values",
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("ts_trials.trial_id"), primary_key=True),
        sa.Column("step", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("value_json", _TEXT, nullable=False),
    )
    op.create_table(
        "ts_trial_heartbeats",
        sa.Column(
            "trial_id",
            sa.Integer,
            sa.ForeignKey("ts_trials.trial_id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("heartbeat", _FLOAT, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "ts_trial_heartbeats",
        "ts_trial_intermediate_values",
        "ts_trial_attrs",
        "ts_trial_params",
        "ts_trials",
        "ts_study_attrs",
        "ts_studies",
    ):
        op.drop_table(table)
