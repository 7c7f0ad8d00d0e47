"""Alembic migrations; run them with `callcenter db upgrade` (see callcenter.storage.migrate)."""
