"""Benchmarks of Organism against raw Celery on the same broker and worker processes (docs/benchmarks.md)."""
