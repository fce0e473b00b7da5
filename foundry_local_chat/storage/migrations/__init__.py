"""Alembic migrations of the chat-history schema (see foundry_local_chat.storage.database)."""
