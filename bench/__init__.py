"""Benchmarks and the chaos test, run against a real stack (see docs/reliability.md)."""
