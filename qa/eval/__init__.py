"""Benchmark data, metrics and `qa eval`.

Nothing is imported here: import the modules themselves (see docs/architecture.md)."""
