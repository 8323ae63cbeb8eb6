"""Workflows and their runs: declared once, started once per run key, tracked node by node in the store."""
