"""Observability: Prometheus metrics, structured outcome logs, worker heartbeats and health checks.

The console (``organism.console``) and Flower sit on top of these; see docs/observability.md. Nothing here is
imported by :mod:`organism.settings` except :mod:`organism.observability.settings`, so this package imports
nothing on its own.
"""
