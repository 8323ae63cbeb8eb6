"""Settings that work but that a production checklist rejects: ``organism doctor`` prints one warning line for each.

Every check reads only the settings (no service is contacted) and returns a :class:`Caution` naming the setting,
what is wrong and the fix, or None. Warnings never change doctor's exit code: each is a choice a deployment may
make on purpose (a broker on a private network, a quorum queue without priorities), unlike an unreachable service.
No line shows a password: URLs are named by their setting, hosts by name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from celery.app.defaults import DEFAULTS
from kombu import Connection
from sqlalchemy.engine import make_url

from organism.brokers import broker_for
from organism.brokers.amqp import AmqpBroker
from organism.brokers.redis import RedisBroker
from organism.brokers.sql import SqlBroker
from organism.settings import Profile, Settings

# RabbitMQ's own default (3.8.15 and later): a consumer that holds a message unacknowledged longer has its channel
# closed and the message redelivered. The server's value cannot be read over AMQP, so the check says "default".
RABBITMQ_CONSUMER_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Caution:
    """One setting a production checklist rejects."""

    setting: str
    problem: str
    fix: str

    def line(self) -> str:
        return f"WARN  {self.setting}: {self.problem} — {self.fix}"


def guest_on_a_remote_broker(settings: Settings) -> Caution | None:
    """RabbitMQ's guest user (also what a URL without a user logs in as) on a broker that is not on this host."""
    broker = broker_for(settings.broker)
    if not isinstance(broker, AmqpBroker):
        return None
    parts = urlsplit(broker.url)
    host = parts.hostname or "localhost"
    if (parts.username or "guest") != "guest" or _loopback(host):
        return None
    return Caution("ORGANISM_BROKER_URL", f"logs in as RabbitMQ's guest user on {host}, whose password everyone "
                   "knows (RabbitMQ refuses guest off loopback unless loopback_users was cleared)",
                   "create a user of its own (rabbitmqctl add_user organism; rabbitmqctl set_permissions -p <vhost> "
                   "organism '.*' '.*' '.*'), put it in the URL, and delete guest (rabbitmqctl delete_user guest)")


def broker_heartbeats_off(settings: Settings) -> Caution | None:
    """AMQP heartbeats switched off: Celery asks for ``broker_heartbeat`` (120 s) unless the URL says
    ``heartbeat=0``, and py-amqp then turns them off whatever the server proposes."""
    broker = broker_for(settings.broker)
    if not isinstance(broker, AmqpBroker):
        return None
    # kombu reads the URL's query over the heartbeat it is given, as it does for the workers' connections.
    if Connection(broker.celery_url, heartbeat=DEFAULTS["broker_heartbeat"]).heartbeat:
        return None
    return Caution("ORGANISM_BROKER_URL", "heartbeat=0 switches AMQP heartbeats off: a connection dropped "
                   "silently (a firewall's idle timeout, a host gone) is noticed only when TCP gives up, and until "
                   "then the broker keeps that worker's messages unacknowledged and the worker waits for nothing",
                   "remove heartbeat=0 from the URL (Celery's broker_heartbeat of 120 s then applies)")


def redis_visibility_too_short(settings: Settings) -> Caution | None:
    """A Redis message unacknowledged past the visibility timeout is handed to a second worker.

    Each retry is a new message, so one message is held at most for its own countdown (the worker keeps it until
    it is due), then the wait behind the messages prefetched before it and its own run: prefetch x time limit.
    The settings already refuse a timeout below one time limit plus the longest countdown; this catches what a
    prefetch above 1 adds.
    """
    if not isinstance(broker_for(settings.broker), RedisBroker):
        return None
    organ, held_s, how = _longest_unacked(settings, countdown_held=True)
    if settings.redis_visibility_timeout_s > held_s:
        return None
    return Caution("ORGANISM_REDIS_VISIBILITY_TIMEOUT_S", f"{settings.redis_visibility_timeout_s:g} s is not longer "
                   f"than a message can stay unacknowledged on {organ}'s worker ({how} = {held_s:g} s): such a "
                   "message is run a second time by another worker",
                   f"raise it above {held_s:g} s, or lower [workers.{organ}] prefetch or time_limit_s")


def rabbitmq_consumer_timeout(settings: Settings) -> Caution | None:
    """RabbitMQ closes the channel of a consumer that holds a message unacknowledged past its ``consumer_timeout``.

    On classic queues the worker holds a retry until its countdown is due; on quorum queues the broker does
    (native delayed delivery), so only prefetch x time limit counts there.
    """
    if not isinstance(broker_for(settings.broker), AmqpBroker):
        return None
    held_by_worker = settings.rabbitmq_queue_type == "classic"
    organ, held_s, how = _longest_unacked(settings, countdown_held=held_by_worker)
    if held_s <= RABBITMQ_CONSUMER_TIMEOUT_S:
        return None
    return Caution(f"ORGANISM_WORKERS__{organ.upper()}", f"a message can stay unacknowledged on {organ}'s worker "
                   f"for {how} = {held_s:g} s, past RabbitMQ's default consumer_timeout "
                   f"({RABBITMQ_CONSUMER_TIMEOUT_S} s): the broker would close the channel and redeliver it",
                   f"set consumer_timeout above {round(held_s * 1000)} (ms) in rabbitmq.conf, or lower the organ's "
                   "prefetch or time_limit_s")


def quorum_queues(settings: Settings) -> Caution | None:
    """Quorum organ queues ignore priorities (RabbitMQ 3.x); on any other broker the setting does nothing."""
    if settings.rabbitmq_queue_type != "quorum":
        return None
    if not isinstance(broker_for(settings.broker), AmqpBroker):
        return Caution("ORGANISM_RABBITMQ_QUEUE_TYPE", "quorum has no effect: the broker is not RabbitMQ",
                       "unset it")
    return Caution("ORGANISM_RABBITMQ_QUEUE_TYPE", "quorum organ queues have no priorities on RabbitMQ 3.x: a "
                   "call's priority is ignored and it waits behind every call queued before it",
                   "keep classic queues where priorities matter (docs/deploy.md, Quorum queues)")


def sqlite_on_the_production_profile(settings: Settings) -> Caution | None:
    """The production profile with a SQLite file as broker, results or store: one host only."""
    if settings.profile is not Profile.PRODUCTION:
        return None
    broker = broker_for(settings.broker)
    uses = {"ORGANISM_BROKER_URL": (broker.celery_url if isinstance(broker, SqlBroker) else None,
                                    "RabbitMQ; a killed worker's message is not redelivered there"),
            "ORGANISM_RESULT_BACKEND": (settings.results.removeprefix("db+") if settings.results.startswith("db+")
                                        else None, "Redis"),
            "ORGANISM_DATABASE_URL": (settings.database, "PostgreSQL")}
    for setting, (url, instead) in uses.items():
        if url is not None and _sqlite(url):
            return Caution(setting, "a SQLite file on the production profile serves the processes of one host only",
                           f"point it at {instead}")
    return None


CHECKS: tuple[Callable[[Settings], Caution | None], ...] = (
    guest_on_a_remote_broker, broker_heartbeats_off, redis_visibility_too_short, rabbitmq_consumer_timeout,
    quorum_queues, sqlite_on_the_production_profile)


def cautions(settings: Settings) -> list[Caution]:
    """Every warning :data:`CHECKS` finds in ``settings``."""
    return [found for check in CHECKS if (found := check(settings)) is not None]


def _longest_unacked(settings: Settings, countdown_held: bool) -> tuple[str, float, str]:
    """The organ whose worker can hold a message unacknowledged longest, how long, and the sum that says so.

    With late acks a message is unacknowledged while it waits behind the ones prefetched before it and while it
    runs: at most prefetch x the organ's time limit; plus the longest countdown (every one is capped at
    ``retry_after_max_s``) where the worker holds a retry until it is due.
    """
    countdown_s = settings.retry_after_max_s if countdown_held else 0.0

    def held(organ: str) -> float:
        worker = settings.worker(organ)
        return worker.prefetch * worker.time_limit_s + countdown_s

    organ = max(settings.organs, key=held)
    worker = settings.worker(organ)
    how = f"prefetch {worker.prefetch} x time limit {worker.time_limit_s:g} s"
    if countdown_held:
        how += f" + the longest countdown {countdown_s:g} s"
    return organ, held(organ), how


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: only the resolver knows, and another host's name is the usual case
        return False


def _sqlite(url: str) -> bool:
    try:
        return make_url(url).get_backend_name() == "sqlite"
    except Exception:  # not a SQLAlchemy URL: doctor's reachability line says what is wrong with it
        return False
