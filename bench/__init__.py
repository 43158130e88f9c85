"""Benchmark suite: the engine against the peers a Python developer would pick instead.

Run everything with ``python -m bench`` (``--quick`` for a smoke run). Not part of the
test suite. Scenario parameters come from ``bench/scenarios.json``; the results go to
``bench/results/`` and ``docs/benchmarks.md``.
"""
