"""Acme, a small real site on the engine: a catalogue and product pages on SQLite, sign-in with a
signed session cookie, and an account page. ``docs/tutorial.md`` builds it file by file."""
