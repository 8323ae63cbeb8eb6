"""Sealing a sensitive skill's arguments: the codec and its keys, the sealed call, the messages the app builds, and
what is hidden of the opened arguments. No broker: the app builds messages without sending them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from celery import chain, chord

from organism.app import Organism, create_app
from organism.errors import InvalidArguments, SkillDefinitionError
from organism.observability.events import argument_reprs
from organism.redaction import hide_known
from organism.security import sealed_calls
from organism.security.payload_settings import new_key
from organism.security.payloads import Keyring, PayloadError
from organism.settings import Settings, SettingsError, load
from organism.skill import skill

TOKEN = "tok-4f1b9c2e77"
NEW, OLD = new_key(), new_key()


@skill(organ="relationship", name="test.unit_sensitive", sensitive=True)
def notify(account: str, note: str = "", times: int = 1) -> dict[str, Any]:
    return {"sent": times}


@skill(organ="relationship", name="test.unit_plain")
def plain(value: int) -> int:
    return value


def settings(keys: dict[str, str] | None = None) -> Settings:
    return load(payloads={"keys": keys or {}})


def app_with(keys: dict[str, str] | None) -> Organism:
    return create_app(settings(keys))


def keyring(keys: dict[str, str]) -> Keyring:
    return sealed_calls.keyring(settings(keys))


def message(app: Organism, name: str, args: Any = (), kwargs: Any = None, **options: Any) -> Any:
    """The message the app's producer would send for ``name``, as Celery builds it (nothing is sent)."""
    return app.amqp.as_task_v2("a-task-id", name, args, kwargs or {}, **options)


def test_a_payload_opens_with_its_key_under_its_context_and_each_seal_has_a_fresh_nonce() -> None:
    keys = keyring({"new": NEW})
    first, second = keys.seal(TOKEN.encode(), b"skill"), keys.seal(TOKEN.encode(), b"skill")

    assert first["key"] == "new" and set(first) == {"key", "nonce", "ciphertext"}
    assert first["nonce"] != second["nonce"] and first["ciphertext"] != second["ciphertext"]
    assert TOKEN not in json.dumps(first) and len(base64.b64decode(first["nonce"])) == 12
    assert keys.open(first, b"skill") == TOKEN.encode()
    with pytest.raises(PayloadError, match="fail authentication under payload key 'new': altered, sealed for "
                                           "another skill"):
        keys.open(first, b"another skill")


def test_the_first_key_seals_and_every_key_listed_opens() -> None:
    sealed_by_old = keyring({"old": OLD}).seal(b"x", b"s")
    rotated = keyring({"new": NEW, "old": OLD})

    assert rotated.open(sealed_by_old, b"s") == b"x"
    assert rotated.seal(b"x", b"s")["key"] == "new"


def test_a_removed_key_or_an_altered_payload_is_one_line_that_shows_no_key_and_no_plaintext() -> None:
    sealed = keyring({"old": OLD}).seal(TOKEN.encode(), b"s")
    tampered = {**sealed, "ciphertext": base64.b64encode(b"\x00" + base64.b64decode(sealed["ciphertext"])[1:]).decode()}

    with pytest.raises(PayloadError) as removed:
        keyring({"new": NEW}).open(sealed, b"s")
    with pytest.raises(PayloadError) as altered:
        keyring({"old": OLD}).open(tampered, b"s")
    with pytest.raises(PayloadError, match="are not a sealed payload"):
        keyring({"old": OLD}).open({"key": "old"}, b"s")

    assert str(removed.value) == ("need payload key 'old', which is not configured (configured: 'new'); put it "
                                  "back in ORGANISM_PAYLOADS__KEYS to open them")
    assert "fail authentication under payload key 'old'" in str(altered.value)
    for said in (str(removed.value), str(altered.value)):
        assert "\n" not in said and TOKEN not in said and NEW not in said and OLD not in said


def test_payload_keys_from_settings_are_checked_without_showing_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    short = base64.b64encode(b"sixteen bytes!!!").decode()
    for given, expected in [({"k1": short}, "key 'k1' is not 32 bytes in base64 (its value is not shown)"),
                            ({"a key": NEW}, "key id 'a key' must be 1 to 64 letters"),
                            ([NEW], "must map key ids to base64 keys")]:
        monkeypatch.setenv("ORGANISM_PAYLOADS__KEYS", json.dumps(given))
        with pytest.raises(SettingsError) as raised:
            load()
        assert expected in str(raised.value) and NEW not in str(raised.value) and short not in str(raised.value)
    monkeypatch.setenv("ORGANISM_PAYLOADS__KEYS", json.dumps({"2026-05": NEW, "2026-01": OLD}))
    loaded = load()
    assert list(loaded.payloads.secrets) == ["2026-05", "2026-01"] and NEW not in repr(loaded)


def test_a_sealed_call_opens_to_its_arguments_after_those_celery_put_in_front() -> None:
    keys = keyring({"new": NEW})
    when = datetime(2026, 11, 23, 6, tzinfo=UTC)
    args, kwargs = sealed_calls.seal(keys, "test.unit_sensitive", [TOKEN], {"note": "at", "when": when})

    assert args == [] and list(kwargs) == [sealed_calls.SEALED] and TOKEN not in json.dumps(kwargs)
    assert sealed_calls.seal(keys, "test.unit_sensitive", args, kwargs) == (args, kwargs)  # sealed once
    assert sealed_calls.open_call(keys, "test.unit_sensitive", ["result"], kwargs) == (
        ["result", TOKEN], {"note": "at", "when": when})
    resealed = sealed_calls.seal(keys, "test.unit_sensitive", ["result"], kwargs)  # a chain's step, sent on
    assert resealed[0] == [] and sealed_calls.open_call(keys, "test.unit_sensitive", [], resealed[1])[0] == [
        "result", TOKEN]


def test_the_app_seals_a_sensitive_call_and_shows_only_which_key_sealed_it() -> None:
    app = app_with({"new": NEW, "old": OLD})
    built = message(app, notify.name, [TOKEN], {"note": f"for {TOKEN}"})

    assert TOKEN not in json.dumps(built.body) and TOKEN not in json.dumps(built.headers)
    assert built.headers["kwargsrepr"] == "{'organism_sealed': '<sealed with payload key new>'}"
    assert argument_reprs(built.body[0], built.body[1], 1024, 4) == (
        "[]", "{'organism_sealed': '<sealed with payload key new>'}")
    assert sealed_calls.open_call(keyring({"old": OLD, "new": NEW}), notify.name, [], built.body[1]) == (
        [TOKEN], {"note": f"for {TOKEN}"})


def test_sensitive_calls_inside_a_canvas_are_sealed_and_a_message_without_any_is_left_as_celery_built_it() -> None:
    app = app_with({"new": NEW})
    steps = chain(plain.s(1), notify.s(TOKEN), plain.s())
    body = notify.s(TOKEN)
    # A chain's first message carries the steps after it; chord_unlock (database backends) carries the body.
    first = message(app, plain.name, [1], chain=list(reversed(steps.tasks[1:])), link=[notify.s(TOKEN)])
    unlock = message(app, "celery.chord_unlock", ["group-id", body])
    nested = message(app, plain.name, [2], chord=chord([plain.s(1)], chain(plain.s(), body)))

    for built in (first, unlock, nested):
        assert TOKEN not in json.dumps(built.body), built.body
    untouched = message(app, plain.name, [1], chain=[plain.s()])
    assert untouched.body[2]["chain"][0] is not None and isinstance(untouched.body[2]["chain"][0], type(plain.s()))


def test_a_sensitive_call_with_no_key_is_refused_in_one_line_before_anything_is_built() -> None:
    app = app_with(None)

    with pytest.raises(PayloadError) as raised:
        message(app, notify.name, [TOKEN])
    with pytest.raises(PayloadError):
        app.amqp.check_sealable(chord([plain.s(1)], notify.s(TOKEN)))

    assert str(raised.value) == ("test.unit_sensitive is declared sensitive, but no payload key is configured: set "
                                 "ORGANISM_PAYLOADS__KEYS ([payloads] keys; `organism keys payload-key` makes one)")
    app.amqp.check_sealable(chain(plain.s(1), plain.s()))  # nothing sensitive: nothing needs a key


def test_a_worker_opens_a_sealed_call_and_refuses_a_sensitive_one_that_arrived_unsealed() -> None:
    with_keys = settings({"new": NEW})
    args, kwargs = sealed_calls.seal(sealed_calls.keyring(with_keys), notify.name, [TOKEN], {"note": "n"})

    call = sealed_calls.opened(with_keys, notify.name, True, args, kwargs, by_message=True)
    with pytest.raises(PayloadError, match="declared sensitive, but its arguments arrived unsealed"):
        sealed_calls.opened(with_keys, notify.name, True, [TOKEN], {}, by_message=True)

    assert (call.args, call.kwargs) == ([TOKEN], {"note": "n"}) and TOKEN in call.secrets
    assert sealed_calls.opened(with_keys, notify.name, True, [TOKEN], {}, by_message=False).args == [TOKEN]
    assert sealed_calls.opened(with_keys, plain.name, False, [1], {}, by_message=True).secrets == frozenset()


def test_what_is_written_about_an_opened_call_hides_its_texts() -> None:
    call = sealed_calls.Opened([TOKEN], {"note": "abc"}, frozenset({TOKEN}))
    try:
        try:
            raise KeyError(TOKEN)
        except KeyError as cause:
            raise ValueError(f"no account {TOKEN}", {"account": TOKEN}) from cause
    except ValueError as error:
        call.hide_in(error)
        raised = error

    assert raised.args == ("no account ***", {"account": "***"}) and str(raised.__cause__) == "'***'"
    assert call.hidden({"echo": f"to {TOKEN}", TOKEN: [TOKEN]}, "here") == {"echo": "to ***", "***": ["***"]}
    assert hide_known(("a", 1, None), {TOKEN}) == ("a", 1, None)


def test_a_sensitive_skill_names_the_wrong_parameter_without_quoting_its_value() -> None:
    with pytest.raises(InvalidArguments) as checked:
        notify.check_call([TOKEN], {"times": "many-" + TOKEN})
    with pytest.raises(InvalidArguments) as ran:
        notify.run(TOKEN, times="many-" + TOKEN)
    with pytest.raises(InvalidArguments, match=r"value: .* \(got 'x'\)"):  # a skill not sensitive quotes it
        plain.check_call(["x"], {})

    for error in (checked.value, ran.value):
        assert str(error).startswith("test.unit_sensitive: invalid arguments: times:") and TOKEN not in str(error)


def test_sensitive_must_be_a_boolean() -> None:
    with pytest.raises(SkillDefinitionError, match="sensitive must be True or False, got 'yes'"):

        @skill(organ="perception", sensitive="yes")  # type: ignore[arg-type]
        def look(at: str) -> str:
            return at
