"""What protects the messages themselves: sealing the arguments of skills declared sensitive (payloads,
sealed_calls, publishing) and their keys' settings (payload_settings); signing every message with Celery's
``auth`` serializer (signing, its settings in signing_settings), refusing what is not signed by a trusted
certificate (refusals), and making a signing key and certificate (signing_keys).

This package may import ``organism.errors``, ``organism.settings`` and ``organism.redaction``; the app and
``SkillTask`` import it, never the other way round.
"""
