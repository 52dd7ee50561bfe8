"""Runs the schema revisions on the connection tunesmith hands over (or on ``-x url=...``)."""

from __future__ import annotations

from alembic import context
import sqlalchemy as sa

VERSION_TABLE = "ts_alembic_version"

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # run by hand: alembic -c alembic.ini -x url=sqlite:///study.db upgrade head
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    engine = sa.create_engine(str(url))
    with engine.begin() as conn:
        _run(conn)
