"""The model gateway: one guarded client for OpenAI-compatible chat APIs (see docs/gateway.md)."""
