"""Benchmarks: `make bench` (python -m bench) runs them and rewrites BENCHMARKS.md."""
