"""The dashboard example: fast panels next to one slow aggregate over ~300,000 SQLite rows."""
