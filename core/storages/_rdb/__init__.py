"""The relational-database storage (SQLite, PostgreSQL, MySQL/MariaDB) on SQLAlchemy 2.

Import :class:`RDBStorage` from :mod:`tunesmith.storages`; this package (and SQLAlchemy) loads
only when it is first used.
"""
