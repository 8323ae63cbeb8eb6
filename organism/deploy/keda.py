"""KEDA's queue scalers for the organ workers: a ScaledObject per organ queue and the TriggerAuthentication they
share, for the broker the settings name.

What each scaler reads:

* RabbitMQ: the queue's *ready* messages, from a passive ``queue.declare`` over AMQP (KEDA's ``protocol: amqp``,
  ``mode: QueueLength``); messages a worker has taken and not yet acknowledged are not counted.
* Redis: the length of each of the queue's lists. kombu's Redis transport keeps a message sent with a priority in
  a list of its own, ``<queue>\\x06\\x16<step>`` for each of the channel's priority steps but 0 (step 0 is the
  list named as the queue), so a queue has one trigger per list and KEDA's scaling formula adds them up.

Only the parts of the broker URL that are no secret are read here: its kind, RabbitMQ's vhost, Redis's address,
user and database. KEDA reads the credentials from the Secret when it runs (:data:`SECRET`): RabbitMQ's from the
broker URL itself, Redis's password from ``KEDA_REDIS_PASSWORD`` (KEDA's Redis scaler takes no URL).
"""

from __future__ import annotations

from typing import Any

from kombu import Connection
from kombu.transport import redis as kombu_redis

from organism.brokers import broker_for
from organism.brokers.amqp import AmqpBroker
from organism.brokers.queues import organ_queues
from organism.brokers.redis import RedisBroker
from organism.settings import Settings, SettingsError

SECRET = "organism-secrets"
AUTHENTICATION = "organism-broker"
REDIS_PASSWORD_KEY = "KEDA_REDIS_PASSWORD"
API_VERSION = "keda.sh/v1alpha1"
# KEDA's RabbitMQ scaler parses the URL with amqp091-go, which knows these schemes only (kombu also takes pyamqp://).
KEDA_AMQP_SCHEMES = ("amqp://", "amqps://")

Manifest = dict[str, Any]


def queue_names(settings: Settings) -> dict[str, str]:
    """Each organ's queue name, as the app declares it."""
    return {organ: queue.name for organ, queue in
            zip(settings.organs, organ_queues(settings, broker_for(settings.broker)), strict=True)}


def redis_lists(settings: Settings, queue: str) -> dict[int, str]:
    """The Redis lists that hold ``queue``'s messages, by priority step (kombu's ``Channel._q_for_pri``: step 0 is
    the queue's own name, each other step a list named with kombu's separator and the step)."""
    options = broker_for(settings.broker).transport_options(settings)
    steps = options.get("priority_steps", kombu_redis.Channel.priority_steps)
    return {step: f"{queue}{kombu_redis.Channel.sep}{step}" if step else queue for step in steps}


def authentication(settings: Settings, labels: dict[str, str]) -> Manifest:
    """The TriggerAuthentication every ScaledObject uses: the broker's credentials, from :data:`SECRET`."""
    broker = _broker(settings)
    if isinstance(broker, AmqpBroker):  # the whole URL: KEDA's RabbitMQ scaler reads host, user and password from it
        targets = [{"parameter": "host", "name": SECRET, "key": "ORGANISM_BROKER_URL"}]
    else:
        targets = [{"parameter": "password", "name": SECRET, "key": REDIS_PASSWORD_KEY}]
    return {"apiVersion": API_VERSION, "kind": "TriggerAuthentication",
            "metadata": {"name": AUTHENTICATION, "labels": labels},
            "spec": {"secretTargetRef": targets}}


def scaled_object(settings: Settings, organ: str, name: str, labels: dict[str, str]) -> Manifest:
    """The ScaledObject that sizes ``organ``'s worker Deployment ``name`` by its queue's depth, between the organ's
    ``min_replicas`` and ``max_replicas``, aiming at ``queue_length_target`` messages per worker."""
    worker = settings.worker(organ)
    queue = queue_names(settings)[organ]
    target = str(worker.queue_length_target)
    spec: Manifest = {"scaleTargetRef": {"name": name}, "minReplicaCount": worker.min_replicas,
                      "maxReplicaCount": worker.max_replicas}
    broker = _broker(settings)
    reference = {"name": AUTHENTICATION}
    if isinstance(broker, AmqpBroker):
        vhost = Connection(settings.broker).virtual_host
        spec["triggers"] = [{"type": "rabbitmq", "metadata": {
            "protocol": "amqp", "queueName": queue, "mode": "QueueLength", "value": target, "vhostName": vhost},
            "authenticationRef": reference}]
    else:
        lists = redis_lists(settings, queue)
        spec["triggers"] = [{"type": "redis", "name": f"priority{step}", "metadata": _redis_metadata(
            settings, name=listed, length=target), "authenticationRef": reference} for step, listed in lists.items()]
        if len(lists) > 1:  # one replica count for the queue: its lists' lengths added up
            spec["advanced"] = {"scalingModifiers": {
                "formula": " + ".join(f"priority{step}" for step in lists), "target": target,
                "metricType": "AverageValue"}}
    return {"apiVersion": API_VERSION, "kind": "ScaledObject", "metadata": {"name": name, "labels": labels},
            "spec": spec}


def secret_examples(settings: Settings) -> dict[str, str]:
    """The keys beyond the ``ORGANISM_*`` settings that the scalers read from :data:`SECRET`, with example values."""
    return {REDIS_PASSWORD_KEY: ""} if isinstance(_broker(settings), RedisBroker) else {}


def _redis_metadata(settings: Settings, name: str, length: str) -> dict[str, str]:
    url = Connection(settings.broker)
    metadata = {"address": f"{url.hostname or 'localhost'}:{url.port or 6379}", "listName": name,
                "listLength": length, "databaseIndex": str(int(url.virtual_host.strip("/") or 0))}
    if url.userid:
        metadata["username"] = url.userid
    if settings.broker.startswith("rediss://"):
        metadata["enableTLS"] = "true"
    return metadata


def _broker(settings: Settings) -> AmqpBroker | RedisBroker:
    """The settings' broker, if KEDA can scale by it (with a URL KEDA can read)."""
    broker = broker_for(settings.broker)
    if isinstance(broker, AmqpBroker):
        if not settings.broker.startswith(KEDA_AMQP_SCHEMES):
            raise SettingsError("setting ORGANISM_BROKER_URL: KEDA's RabbitMQ scaler reads this URL and knows only "
                                "amqp:// and amqps://; write it so (Celery reads those the same)")
        return broker
    if isinstance(broker, RedisBroker):
        return broker
    raise SettingsError("setting ORGANISM_BROKER_URL: a cluster needs a broker every pod reaches, not the embedded "
                        "profile's SQLite file; render with ORGANISM_PROFILE=production (RabbitMQ) or redis, or "
                        "set ORGANISM_BROKER_URL")
