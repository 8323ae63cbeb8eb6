"""The checks a message passes before a worker acts on it, on kombu's own message objects."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kombu.message import Message

from organism.failures.message_checks import Limits, problem, task_id

LIMITS = Limits(max_bytes=4096, max_depth=20)
GOOD_HEADERS = {"task": "test.echo", "id": "0b3c1f9e-8d1a-4a51-9d0e-3c2b1a0f9e8d", "lang": "py", "retries": 0,
                "timelimit": [None, None], "eta": None, "expires": "2026-12-04T10:00:00+00:00",
                "organism_run": "run-1", "organism_retry": {"max_retries": 1}}


def message(body: Any = ([1], {}, {}), headers: Any = None, raw: bytes | None = None, **properties: Any) -> Message:
    made = Message(body=raw if raw is not None else json.dumps(body).encode(), content_type="application/json",
                   content_encoding="utf-8", headers={}, properties=properties, accept=["application/json"])
    made.headers = GOOD_HEADERS if headers is None else headers  # set after: kombu's constructor reads a mapping
    return made


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_a_well_formed_celery_message_passes() -> None:
    assert problem(message(), LIMITS) is None
    assert problem(message({"args": [1], "kwargs": {"label": "x"}}), LIMITS) is None  # Celery's hybrid form
    assert problem(message(([nested(18)], {}, {"callbacks": None, "chain": [], "chord": None})), LIMITS) is None
    signature = {"task": "test.judge", "args": [], "kwargs": {}, "options": {}, "subtask_type": None}
    assert problem(message(([1], {}, {"chain": [signature], "chord": signature, "errbacks": [signature]})),
                   LIMITS) is None


@pytest.mark.parametrize(("headers", "words"), [
    ({**GOOD_HEADERS, "id": None}, "id header None is not a task id"),
    ({k: v for k, v in GOOD_HEADERS.items() if k != "id"}, "id header None"),
    ({**GOOD_HEADERS, "id": 42}, "id header 42"),
    ({**GOOD_HEADERS, "id": "x" * 65}, "is not a task id"),
    ({**GOOD_HEADERS, "id": "line\nbreak"}, "is not a task id"),
    ({k: v for k, v in GOOD_HEADERS.items() if k != "task"}, "task header is missing"),
    ({**GOOD_HEADERS, "task": {"name": "x"}}, "task header {'name': 'x'} is not a task name"),
    ({**GOOD_HEADERS, "organism_run": 5}, "header organism_run is int 5, expected str"),
    ({**GOOD_HEADERS, "retries": True}, "header retries is bool"),
    ({**GOOD_HEADERS, "timelimit": [1, "2"]}, "not [soft, hard] seconds"),
    ({**GOOD_HEADERS, "expires": "soon"}, "header expires 'soon' is not an ISO 8601 time"),
    (["task", "test.echo"], "headers are list, not a mapping"),
])
def test_a_bad_envelope_is_named(headers: Any, words: str) -> None:
    found = problem(message(headers=headers), LIMITS)
    assert found is not None and words in found


@pytest.mark.parametrize(("body", "words"), [
    ("text", "body is str 'text', not [args, kwargs, embed]"),
    ([[1], {}], "body is list"),
    ([5, {}, {}], "args are int 5, not a list"),
    ([[5], ["not", "a", "dict"], {}], "kwargs are list"),
    ([[5], {}, []], "embed is list"),
    ([[5], {}, {"callbacks": "x"}], "embed callbacks is str"),
    ([[5], {}, {"chain": [7]}], "embed chain holds 7, not a task signature"),
    ([[5], {}, {"errbacks": [{"args": []}]}], "embed errbacks holds"),
    ([[5], {}, {"chord": {"task": ""}}], "embed chord {'task': ''} is not a task signature"),
    ([[5], {}, {"chain": [{"task": "test.judge"}]}], "embed chain holds"),
    ([[5], {}, {"chain": [{"task": "test.judge", "options": {"task_id": 5}}]}], "embed chain holds"),
    ([[nested(30)], {}, {}], "nested deeper than 20 levels"),
    ({"args": "x"}, "args are str"),
    ({"a": 1, "b": 2, "c": 3}, "body is a mapping {'a': 1, 'b': 2, 'c': 3} without args"),
])
def test_a_bad_body_is_named(body: Any, words: str) -> None:
    found = problem(message(body), LIMITS)
    assert found is not None and words in found


def test_size_and_properties_are_checked() -> None:
    assert "5000 bytes exceeds the limit of 4096" in (problem(message(raw=b" " * 5000), LIMITS) or "")
    assert "property priority is str" in (problem(message(priority="high"), LIMITS) or "")
    assert "property reply_to is int" in (problem(message(reply_to=3), LIMITS) or "")


def test_an_undecodable_body_is_left_to_the_decoder_and_its_report() -> None:
    assert problem(message(raw=b"{not json"), LIMITS) is None


def test_a_depth_far_past_the_stack_is_found_without_recursion() -> None:
    deep = Message(body=b"[" * 5000 + b"]" * 5000, content_type="application/json", content_encoding="utf-8",
                   headers=GOOD_HEADERS, accept=["application/json"])
    assert problem(deep, Limits(max_bytes=2**20, max_depth=100)) in (None, "body is list [[[[...]]]], not [args, "
                                                                           "kwargs, embed]")


def test_task_id_is_given_only_when_usable() -> None:
    assert task_id(message()) == GOOD_HEADERS["id"]
    assert task_id(message(headers={**GOOD_HEADERS, "id": 7})) is None
    assert task_id(message(headers="junk")) is None


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(headers=st.dictionaries(st.sampled_from([*GOOD_HEADERS, "group", "shadow", "stamps", "organism_replay_of"]),
                               JSON, max_size=8) | JSON,
       body=JSON, raw=st.none() | st.binary(max_size=64))
def test_any_message_gets_an_answer_and_never_an_exception(headers: Any, body: Any, raw: bytes | None) -> None:
    found = problem(message(body, headers=headers, raw=raw), LIMITS)
    assert found is None or (isinstance(found, str) and "\n" not in found and len(found) < 300)
