"""What protects the messages themselves: sealing the arguments of skills declared sensitive (payloads,
sealed_calls, publishing) and their keys' settings (payload_settings).

This package may import ``organism.errors``, ``organism.settings`` and ``organism.redaction``; the app and
``SkillTask`` import it, never the other way round.
"""
