"""The shop example: a product page backed by SQLite, streamed as it resolves."""
