"""A call's time to live: the call's over the skill's, one line for a bad one, and what an expired call's record
says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from organism.errors import CallOptionError, SkillDefinitionError
from organism.expiry import expired_message, with_ttl
from organism.skill import skill

AT = datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC)


def test_the_calls_ttl_becomes_celerys_expires_over_the_skills() -> None:
    assert with_ttl({"ttl_s": 30, "queue": "x"}, 600) == {"expires": 30.0, "queue": "x"}
    assert with_ttl({"expires": AT}, 600) == {"expires": AT}
    assert with_ttl({}, 600) == {"expires": 600}
    assert with_ttl({"expires": None}, 600) == {"expires": 600}, "a retry of a call without expiry"
    assert with_ttl({}, None) == {}


@pytest.mark.parametrize(("options", "line"), [
    ({"ttl_s": 5, "expires": AT}, "give ttl_s or expires, not both"),
    ({"ttl_s": 0}, "ttl_s must be a positive number of seconds, got 0"),
    ({"ttl_s": -1.5}, "ttl_s must be a positive number of seconds, got -1.5"),
    ({"ttl_s": "30"}, "ttl_s must be a positive number of seconds, got '30'"),
    ({"ttl_s": float("inf")}, "ttl_s must be a positive number of seconds, got inf"),
])
def test_a_bad_time_to_live_is_one_line(options: dict[str, object], line: str) -> None:
    with pytest.raises(CallOptionError) as raised:
        with_ttl(options, None)
    assert str(raised.value) == line


def test_a_skill_declares_its_calls_time_to_live_and_a_bad_one_fails_at_declaration() -> None:
    @skill(organ="evolution", name="test.unit_fleeting", ttl_s=45)
    def fleeting() -> None:
        return None

    assert fleeting.skill.ttl_s == 45.0
    with pytest.raises(CallOptionError, match=r"^test.unit_fleeting: give ttl_s or expires, not both$"):
        fleeting.apply_async(ttl_s=1, expires=60)
    with pytest.raises(SkillDefinitionError, match=r"\.stale: ttl_s must be a positive number of seconds, got 0$"):

        @skill(organ="evolution", ttl_s=0)
        def stale() -> None:
            return None


def test_the_record_says_when_the_call_expired_and_how_late_the_worker_was() -> None:
    assert expired_message("q1p0.scan", AT.isoformat(), AT + timedelta(seconds=4.2)) == (
        "q1p0.scan expired at 2026-12-06T01:02:03.000Z, 4.2 s before a worker took it")
    assert expired_message("q1p0.scan", "2026-12-06T09:02:03.5+08:00", AT + timedelta(seconds=0.75)) == (
        "q1p0.scan expired at 2026-12-06T01:02:03.500Z, 0.250 s before a worker took it")
    assert expired_message("q1p0.scan", AT, AT + timedelta(minutes=2)) == (
        "q1p0.scan expired at 2026-12-06T01:02:03.000Z, 120.0 s before a worker took it")
