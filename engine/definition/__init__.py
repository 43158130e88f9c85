"""Definition: from a declared page to a checked, indexed graph (every check before any request)."""
