"""The four priority levels: their broker numbers, where each lands on Redis, and one line for a level that is none."""

from __future__ import annotations

import pytest
from kombu import Connection, Exchange, Queue

from organism.brokers import broker_for
from organism.brokers.redis_transport import Channel as RedisChannel
from organism.errors import CallOptionError, SkillDefinitionError
from organism.priorities import LEVELS, NUMBERS, Priority, number
from organism.settings import load
from organism.skill import skill

ORDER = [Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.LOW]


def test_each_level_has_its_own_number_and_a_higher_level_a_higher_one() -> None:
    assert {level.value: NUMBERS[level] for level in ORDER} == {"critical": 9, "high": 6, "normal": 3, "low": 0}
    assert [number(level.value) for level in ORDER] == sorted(NUMBERS.values(), reverse=True)
    assert LEVELS == "critical, high, normal, low"


def test_every_level_fits_the_rabbitmq_queues_and_kombus_range() -> None:
    settings = load()
    assert all(0 <= n <= min(9, settings.max_priority) for n in NUMBERS.values())


def test_a_broker_number_is_taken_as_it_is_as_celery_sends_it_on_a_retry() -> None:
    assert number(7) == 7 and number(0) == 0


@pytest.mark.parametrize(("given", "line"), [
    ("urgent", "unknown priority 'urgent'; levels: critical, high, normal, low"),
    ("HIGH", "unknown priority 'HIGH'; levels: critical, high, normal, low"),
    (10, "priority 10 is outside 0..9; name a level: critical, high, normal, low"),
    (True, "unknown priority True; levels: critical, high, normal, low"),
])
def test_anything_else_is_one_line_naming_the_levels(given: object, line: str) -> None:
    with pytest.raises(CallOptionError) as raised:
        number(given)
    assert str(raised.value) == line


def test_on_redis_each_level_has_its_own_list_and_critical_is_read_first() -> None:
    """kombu reads a queue's lists in the order of its priority steps; stock kombu would read priority 0 first."""
    channel = RedisChannel.__new__(RedisChannel)  # the filing needs no connection
    channel.priority_steps = broker_for("redis://localhost").transport_options(load())["priority_steps"]
    lists = {level: channel._q_for_pri("judgment", channel._get_message_priority({"properties": {
        "priority": NUMBERS[level]}})) for level in ORDER}
    read_order = [channel._q_for_pri("judgment", step) for step in channel.priority_steps]
    assert [lists[level] for level in ORDER] == read_order
    assert channel._get_message_priority({"properties": {}}) == channel._get_message_priority(
        {"properties": {"priority": NUMBERS[Priority.LOW]}}), "a message without a priority is not read as low"


def test_the_embedded_transport_hands_out_the_highest_priority_first_then_the_oldest(tmp_path: object) -> None:
    queue = Queue("judgment", Exchange("organism", type="direct"), routing_key="judgment")
    with Connection(f"sqlite:///{tmp_path}/broker.sqlite", transport=broker_for("sqla+sqlite://").transport) as c:
        producer = c.Producer(serializer="json")
        sent = [("low-1", 0), ("normal", 3), ("low-2", 0), ("none", None), ("critical", 9), ("high", 6)]
        for label, priority in sent:
            producer.publish({}, exchange=queue.exchange, routing_key="judgment", declare=[queue], priority=priority,
                             headers={"label": label})
        taken = [message.headers["label"] for message in iter(lambda: queue(c.default_channel).get(no_ack=True), None)]
    assert taken == ["critical", "high", "normal", "low-1", "low-2", "none"]


def test_an_unknown_level_fails_at_declaration_in_one_line() -> None:
    with pytest.raises(SkillDefinitionError) as raised:

        @skill(organ="judgment", priority="urgent")
        def weigh(evidence: list[str]) -> int:
            return len(evidence)

    assert str(raised.value) == (
        "@skill on tests.unit.test_priorities.test_an_unknown_level_fails_at_declaration_in_one_line.<locals>.weigh: "
        "unknown priority 'urgent'; levels: critical, high, normal, low")


def test_a_declaration_names_a_level_not_a_number() -> None:
    with pytest.raises(SkillDefinitionError, match=r"unknown priority 9; levels: critical, high, normal, low$"):

        @skill(organ="judgment", priority=9)  # type: ignore[arg-type]
        def weigh(evidence: list[str]) -> int:
            return len(evidence)


def test_an_unknown_level_fails_at_call_time_in_one_line_before_anything_is_sent() -> None:
    @skill(organ="judgment", name="test.unit_weigh", priority="high")
    def weigh(evidence: list[str]) -> int:
        return len(evidence)

    assert weigh.skill.priority is Priority.HIGH
    with pytest.raises(CallOptionError) as raised:
        weigh.apply_async((["a"],), priority="urgent")  # no broker is reached: the option is refused first
    assert str(raised.value) == "test.unit_weigh: unknown priority 'urgent'; levels: critical, high, normal, low"
    with pytest.raises(CallOptionError, match=r"^test.unit_weigh: unknown priority 'asap'"):
        weigh.s(["a"]).set(priority="asap").apply_async()
