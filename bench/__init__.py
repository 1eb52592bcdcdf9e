"""Benchmarks that back security claims with measured numbers (see BENCHMARKS.md)."""
