"""Scheduling: what the writer of one render may release, and in which order, per mode."""
