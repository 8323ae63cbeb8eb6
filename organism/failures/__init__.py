"""Everything that happens when a skill or a message fails.

:mod:`.classify` sorts an exception into retry, dead-letter or degrade; :mod:`.retry` computes the backoff;
:mod:`.dead_letters` keeps and replays the record of what was given up on; :mod:`.message_checks` and
:mod:`.bad_messages` stop a malformed message before it reaches a worker's pool; :mod:`.degrade` lets a skill go
on without an optional dependency; :mod:`.outages` names the errors that mean a service is out of reach.
"""
