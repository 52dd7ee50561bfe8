"""Alembic environment of the RDB storage's schema (``tunesmith storage upgrade`` runs it)."""
