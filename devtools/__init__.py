"""Tools for testing and developing Organism, kept out of the runtime package ``organism``.

:mod:`devtools.fake_model` is a local OpenAI-compatible model server that misbehaves on request (429s, 500s,
timeouts, malformed replies); run it with ``python -m devtools.fake_model``.
"""
