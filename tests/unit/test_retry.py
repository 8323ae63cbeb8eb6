"""Retry policy and failure classes: the pure decisions behind every retry and dead letter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from organism.errors import Deferred, InvalidArguments, TransientError
from organism.failures.classify import Action, classify
from organism.failures.retry import RetryPolicy, backoff_s, parse_retry_after, retry_delay_s


def test_backoff_doubles_from_two_seconds_within_the_jitter() -> None:
    policy = RetryPolicy()
    assert [backoff_s(policy, n, rand=lambda: 0.5) for n in range(3)] == [2.0, 4.0, 8.0]
    assert backoff_s(policy, 2, rand=lambda: 0.0) == pytest.approx(7.2)
    assert backoff_s(policy, 2, rand=lambda: 1.0) == pytest.approx(8.8)


def test_backoff_is_capped() -> None:
    assert backoff_s(RetryPolicy(backoff_max_s=5, jitter=0), 10) == 5


def test_retry_after_wins_over_backoff_but_not_over_the_ceiling() -> None:
    policy = RetryPolicy(jitter=0)
    assert retry_delay_s(policy, 0, retry_after_s=1.0, ceiling_s=600) == 1.0
    assert retry_delay_s(policy, 0, retry_after_s=7200.0, ceiling_s=600) == 600
    assert retry_delay_s(policy, 1, retry_after_s=None, ceiling_s=600) == 4.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 23, 6, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("Mon, 23 Nov 2026 06:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 23 Nov 2026 05:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_policy_overrides_refuse_unknown_fields() -> None:
    assert RetryPolicy().overridden({"max_retries": 1}).max_retries == 1
    with pytest.raises(ValueError, match="unknown retry option"):
        RetryPolicy().overridden({"retries": 1})
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(jitter=1.5)


def _http_error(status: int, retry_after: str | None = None) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return requests.HTTPError(f"{status}", response=response)


@pytest.mark.parametrize(("exc", "expected"), [
    (_http_error(429, "1"), (Action.RETRY, 1.0)),
    (_http_error(503), (Action.RETRY, None)),
    (_http_error(408), (Action.RETRY, None)),
    (_http_error(400), (Action.DEAD, None)),
    (_http_error(401), (Action.DEAD, None)),
    (_http_error(404), (Action.DEAD, None)),
    (requests.ConnectTimeout("slow"), (Action.RETRY, None)),
    (TransientError("later", retry_after_s=5), (Action.RETRY, 5)),
    (Deferred("circuit open", wait_s=12), (Action.DEFER, 12)),
    (InvalidArguments("bad"), (Action.DEAD, None)),
    (KeyError("surprise"), (Action.RETRY, None)),
])
def test_failure_classes_decide_the_action(exc: BaseException, expected: tuple[Action, float | None]) -> None:
    assert classify(exc) == expected


def test_a_skill_can_declare_errors_permanent_or_transient() -> None:
    assert classify(KeyError("x"), permanent=(KeyError,)) == (Action.DEAD, None)
    assert classify(_http_error(404), transient=(requests.HTTPError,)) == (Action.RETRY, None)


def test_secrets_are_redacted_before_they_reach_a_dead_letter() -> None:
    from organism.redaction import redact

    given = ["token=hunter2 Bearer abc.def", {"api_key": "k", "note": "password: p4ss, ok"}, "sk-abcdefghijkl"]
    assert redact(given) == ["token=*** Bearer ***", {"api_key": "***", "note": "password: ***, ok"}, "***"]
    assert redact({"text": "nothing secret here", "n": 3}) == {"text": "nothing secret here", "n": 3}


@pytest.mark.parametrize("header", ["a string", 5, ["max_retries", 1], {"max_retries": "x"}, {"retries": 1},
                                    {"jitter": 2}, {"max_retries": None}])
def test_a_retry_header_that_cannot_be_read_leaves_the_skills_policy(header: object) -> None:
    from tests.support.faulty import fail_with

    declared = fail_with.policy()
    fail_with.push_request(organism_retry=header)
    try:
        assert fail_with.policy() == declared == RetryPolicy(max_retries=1, backoff_base_s=0, jitter=0)
    finally:
        fail_with.pop_request()


def test_a_retry_header_wins_with_its_values_checked() -> None:
    from tests.support.faulty import fail_with

    fail_with.push_request(organism_retry={"max_retries": "7", "backoff_max_s": 5})
    try:
        assert fail_with.policy() == RetryPolicy(max_retries=7, backoff_base_s=0, backoff_max_s=5, jitter=0)
    finally:
        fail_with.pop_request()


@pytest.mark.parametrize(("header", "run"), [("r-1", "r-1"), (5, None), (["r-1"], None), ("", None), (None, None)])
def test_a_run_header_that_is_not_text_names_no_run(header: object, run: str | None) -> None:
    from celery.app.task import Context

    from organism.headers import RUN_HEADER, run_of

    assert run_of(Context({RUN_HEADER: header})) == run
