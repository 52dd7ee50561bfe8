"""The schema at the newest revision, as SQLAlchemy Core tables (the queries are written
against these; the revisions in ``alembic/versions`` create them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

#: The newest schema revision; a database at another revision is refused until upgraded.
SCHEMA_HEAD = "v0003"
#: Every revision, oldest first (a test checks it against the revisions in alembic/versions).
SCHEMA_HISTORY = ("v0001", "v0002", "v0003")
VERSION_TABLE = "ts_alembic_version"

_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_NAME = sa.String(512)
# A random hex string the creating process writes with the row: if the connection drops while
# the transaction commits, the retry looks for it to tell "committed" from "lost".
_TOKEN = sa.String(32)

metadata = sa.MetaData()

studies = sa.Table(
    "ts_studies",
    metadata,
    sa.Column("study_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_name", _NAME, nullable=False),
    sa.Column("directions", _TEXT, nullable=False),
    # The per-study trial counter: incrementing it row-locks the study, which serialises the
    # allocation of trial numbers (unique and contiguous) across processes.
    sa.Column("n_trials", sa.Integer, nullable=False, server_default="0"),
    sa.Column("create_token", _TOKEN, nullable=True),
    sa.UniqueConstraint("study_name", name="uq_ts_studies_name"),
)

study_attrs = sa.Table(
    "ts_study_attrs",
    metadata,
    sa.Column("study_id", sa.Integer, sa.ForeignKey("ts_studies.study_id"), primary_key=True),
    sa.Column("is_system", sa.Boolean, primary_key=True),
    sa.Column("key", _NAME, primary_key=True),
    sa.Column("value_json", _TEXT, nullable=False),
)

trials = sa.Table(
    "ts_trials",
    metadata,
    sa.Column("trial_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("ts_studies.study_id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("state", sa.SmallInteger, nullable=False),
    sa.Column("values_json", _TEXT, nullable=True),
    sa.Column("datetime_start", _TIME, nullable=True),
    sa.Column("datetime_complete", _TIME, nullable=True),
    sa.Column("create_token", _TOKEN, nullable=True),
    sa.UniqueConstraint("study_id", "number", name="uq_ts_trials_study_number"),
    sa.Index("ix_ts_trials_study_state", "study_id", "state"),
)

trial_params = sa.Table(
    "ts_trial_params",
    metadata,
    sa.Column("param_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("trial_id", sa.Integer, sa.ForeignKey("ts_trials.trial_id"), nullable=False),
    sa.Column("name", _NAME, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("distribution_json", _TEXT, nullable=False),
    sa.UniqueConstraint("trial_id", "name", name="uq_ts_trial_params_trial_name"),
)

trial_attrs = sa.Table(
    "ts_trial_attrs",
    metadata,
    sa.Column("trial_id", sa.Integer, sa.ForeignKey("ts_trials.trial_id"), primary_key=True),
    sa.Column("is_system", sa.Boolean, primary_key=True),
    sa.Column("key", _NAME, primary_key=True),
    sa.Column("value_json", _TEXT, nullable=False),
)

trial_intermediate_values = sa.Table(
    "ts_trial_intermediate_values",
    metadata,
    sa.Column("trial_id", sa.Integer, sa.ForeignKey("ts_trials.trial_id"), primary_key=True),
    sa.Column("step", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("value_json", _TEXT, nullable=False),
)

trial_heartbeats = sa.Table(
    "ts_trial_heartbeats",
    metadata,
    sa.Column(
        "trial_id",
        sa.Integer,
        sa.ForeignKey("ts_trials.trial_id"),
        primary_key=True,
        autoincrement=False,
    ),
    # Seconds since the epoch on the worker's clock (workers' clocks are assumed in sync, as
    # NTP keeps them); a float keeps sub-second resolution on every database.
    sa.Column("heartbeat", sa.Double, nullable=False),
)
