"""The history database: SQLite or PostgreSQL engines and the schema's Alembic migrations."""
