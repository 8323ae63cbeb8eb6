"""The audit trail: every operator action appended to the store, chained by hashes and signed by the deployment.

Each entry says who did what (``action``, ``target``, ``detail``) from where (``source``), when, and how it ended
(``outcome``). Its hash covers those fields and the previous entry's hash (:mod:`organism.audit.chain`); the
deployment's Ed25519 key signs it (:mod:`organism.audit.keys`); :func:`organism.audit.verify.verify` names the
first entry edited, deleted, reordered or not signed by the key.

Actions are named ``<object>.<verb>``: ``workflow.start``, ``run.resume``, ``run.cancel``, ``dlq.replay``,
``dlq.purge``, ``operator.add``… Call :func:`record` after an action, or wrap it in :func:`audited`::

    with audited(url, who=who, source=source, action="dlq.replay", target="dead-letter 12", detail={...}) as entry:
        task_id = replay(...)
        entry.outcome_detail = f"replayed as task {task_id}"
"""

from organism.audit.actors import Actor, cli_actor
from organism.audit.trail import Outcome, audited, record

__all__ = ["Actor", "Outcome", "audited", "cli_actor", "record"]
