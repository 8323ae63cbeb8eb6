"""redact(): secrets in URLs, text, keys and values are hidden; ordinary text and plain URLs are not touched."""

from __future__ import annotations

import time

import pytest

from organism.redaction import redact, redact_text


@pytest.mark.parametrize(("given", "expected"), [
    ("amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:***@127.0.0.1:5672//"),
    ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
    ("postgresql+psycopg://app:p@ss@db/x", "postgresql+psycopg://app:***@db/x"),
    ("failed: could not reach https://bot:tok3n@api.example.com/v1 (timeout)",
     "failed: could not reach https://bot:***@api.example.com/v1 (timeout)"),
    ("two: http://a:1@h and http://b:2@i", "two: http://a:***@h and http://b:***@i"),
])
def test_the_password_of_a_url_is_hidden_in_any_text(given: str, expected: str) -> None:
    assert redact_text(given) == expected


@pytest.mark.parametrize("text", [
    "Nothing secret here, 3 items: done.",
    "see https://example.com/a?b=c#d and http://host:8080/x@y",
    "postgresql+psycopg://postgres@127.0.0.1:5432/organism",
    "mail user@example.com at 10:30; compass: north; bypass=1; passes: 3",
    "ratio 3:4, key: value, tokens",
])
def test_ordinary_text_and_urls_without_a_password_are_unchanged(text: str) -> None:
    assert redact_text(text) == text
    assert redact({"note": text, "n": 3}) == {"note": text, "n": 3}


@pytest.mark.parametrize(("given", "expected"), [
    ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
    ("token=hunter2&x=1", "token=***&x=1"),
    ("{'api_key': 'k 1', 'db_password': \"it's\", 'n': 3}", "{'api_key': '***', 'db_password': \"***\", 'n': 3}"),
    ('{"secret": "a\\"b c", "x": 1}', '{"secret": "***", "x": 1}'),
    ("use sk-abcdefghijkl now", "use *** now"),
])
def test_named_secrets_in_text_reprs_and_json_are_hidden_whole(given: str, expected: str) -> None:
    assert redact_text(given) == expected


def test_keys_and_nested_values_are_scrubbed() -> None:
    given = {"redis://u:p@h": 1, "Api-Key": "k", "nested": [("Bearer abc",), {"passwd": 5}], 7: "x"}

    assert redact(given) == {"redis://u:***@h": 1, "Api-Key": "***", "nested": [["Bearer ***"], {"passwd": "***"}],
                             7: "x"}


def test_a_long_text_keeps_its_head_and_tail_with_a_marker_and_secrets_at_the_cuts_stay_hidden() -> None:
    text = "x" * 45 + " password=hunter2-is-long " + "y" * 10_000_000 + "Error: token=abc.def"

    started = time.monotonic()
    cut = redact_text(text, max_chars=100)
    elapsed_s = time.monotonic() - started

    assert cut == "x" * 45 + " pass ...[9999991 of 10000091 characters cut]... " + "y" * 34 + "Error: token=***"
    assert elapsed_s < 0.5, f"cutting a 10 MB text took {elapsed_s:.2f}s"
    assert "hunter" not in redact_text("x" * 45 + "https://u:hunter2@h" + "y" * 5000, max_chars=100)
    assert "hunter" not in redact_text("y" * 5000 + "https://u:hunter2@h" + "x" * 45, max_chars=100)
    assert redact_text("short", max_chars=100) == "short"
    assert redact({"a": ["z" * 300]}, max_chars=100)["a"][0].startswith("z" * 50 + " ...[200 of 300")


@pytest.mark.parametrize(("given", "expected"), [
    ("PASSWORD=hunter2", "PASSWORD=***"),
    ("REDIS://U:P@H", "REDIS://U:***@H"),
    ("Sk-abcdefghijkl", "***"),
    # letters that case-insensitive matching takes for ASCII ones: the long s, the Kelvin sign, the dotless i
    ("pa\u017f\u017fword=hunter2", "pa\u017f\u017fword=***"),
    ("\u212aey: api_\u212aey=abc", "\u212aey: api_\u212aey=***"),
    ("author\u0131zation: x", "author\u0131zation: ***"),
])
def test_secrets_in_any_case_are_hidden_outside_ascii_too(given: str, expected: str) -> None:
    assert redact_text(given) == expected
    assert redact({"note": given}) == {"note": expected}


@pytest.mark.parametrize("key", ["DB_PASSWORD", "pa\u017f\u017fword", "api_\u212aey", "author\u0131zation"])
def test_values_under_secret_keys_in_any_case_are_hidden(key: str) -> None:
    assert redact({key: "x"}) == {key: "***"}
