"""Acme, a small real site on the engine: a catalogue and product pages on SQLite, sign-in with a
signed session cookie, an account page, and a cart. ``docs/tutorial.md`` builds it file by file."""
