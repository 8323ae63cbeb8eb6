"""Perception's model path: the four quadrant scans asked of the model through the gateway.

With a model configured, each scan sends the window's items (id, language, text cut to ``TEXT_CHARS``) with a
prompt from ``config/prompts/scan_q<n>.toml`` and gets its answer in a pydantic schema, which is converted into
the local scan's result shape, so synthesis and reports need not know which path made it. Every finding keeps
the shared shape of :func:`tasks.analysis.text.finding`; the result's ``engine`` says which path made it.

Validation goes beyond the schema: a reply may cite only the ids of the items it was sent (the JSON schema lists
them, and a reply citing others is invalid). An invalid reply gets the one repair attempt of
:func:`~organism.gateway.structured.complete_json`; a second invalid reply, a spent budget, an open circuit or an
endpoint still failing on the last attempt sends the scan down its local path, degraded with the reason (for a
skill that declares ``optional=["model"]``).
Without a model the local path is the only one.

A prompt carries at most ``MAX_ITEMS`` items: a larger window is sampled deterministically (the items whose ids
hash lowest), and the result says how many were sent (``items_sent``). The emotion scan labels its items in
calls of ``LABEL_BATCH``. What is counted from the sample is counted over the sample; the trend scan alone counts
over the whole window, because the model only names its themes.

``asking`` holds what the four share; each scan has its module, named after its local twin in
:mod:`tasks.analysis`, whose function it stands in for.
"""

from tasks.scan_models.emotions import scan_emotions
from tasks.scan_models.pain_points import scan_pain_points
from tasks.scan_models.scenes import scan_scenes
from tasks.scan_models.trends import scan_trends

__all__ = ["scan_emotions", "scan_pain_points", "scan_scenes", "scan_trends"]
