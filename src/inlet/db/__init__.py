"""Storage: the engine factory, the shared schema, Alembic migrations and bulk-insert helpers."""
