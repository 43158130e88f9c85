"""Maintenance tools run on demand (not part of the package)."""
