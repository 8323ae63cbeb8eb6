"""Message signing without a broker: the Celery settings it makes, each mistake in its files as one line, the
refusals of what a signing worker must not run, and `organism keys generate`."""

from __future__ import annotations

import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from kombu.message import Message
from kombu.serialization import dumps

from organism.app import celery_config, create_app
from organism.cli.main import main
from organism.security import refusals, signing
from organism.security.signing_keys import Generated
from organism.settings import Settings, SettingsError, load
from tests.support.signing import make_keys, signed_by, signing_undone

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return make_keys(tmp_path_factory.mktemp("ours"), "ours")


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return make_keys(tmp_path_factory.mktemp("stranger"), "stranger")


def signing_on(keys: Generated, **more: Any) -> Settings:
    return load(profile="redis", signing={"enabled": True, "key_file": keys.key,
                                          "certificate_file": keys.certificate, **more})


def test_signing_is_off_by_default_and_then_every_message_is_json() -> None:
    config = celery_config(load(profile="production"))

    assert not load().signing.enabled
    assert config["task_serializer"] == "json" and config["accept_content"] == ["json"]
    assert not any(name.startswith("security_") for name in config)


def test_signing_on_signs_task_and_control_messages_and_leaves_results_and_events_json(ours: Generated) -> None:
    config = celery_config(signing_on(ours, key_password=PASSWORD))

    assert config["task_serializer"] == "auth" and config["accept_content"] == ["auth"]
    assert config["result_serializer"] == "json" and config["result_accept_content"] == ["json"]
    assert "event_serializer" not in config  # Celery's default: JSON
    assert (config["security_key"], config["security_certificate"], config["security_cert_store"]) == (
        str(ours.key), str(ours.certificate), str(ours.certificate))  # the store: its own certificate alone
    assert PASSWORD not in repr(config)


def test_unset_paths_are_where_keys_generate_writes_them(tmp_path: Path) -> None:
    found = signing.files(load(data_dir=tmp_path, signing={"enabled": True}))

    assert found.key == tmp_path / "signing/organism-key.pem"
    assert found.certificate == found.store == tmp_path / "signing/organism-cert.pem"


def test_files_that_fit_together_pass_the_check(ours: Generated, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    shutil.copy(ours.certificate, store / "ours.pem")
    signing.check(signing_on(ours, cert_store=store))


def _mistakes(ours: Generated, stranger: Generated, tmp_path: Path) -> list[tuple[str, dict[str, Any], str]]:
    encrypted = make_keys(tmp_path / "encrypted", "encrypted", password=PASSWORD)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not a certificate")
    other_store = tmp_path / "other-store"
    other_store.mkdir()
    shutil.copy(stranger.certificate, other_store / "stranger.pem")
    return [
        ("a key file that is missing", {"key_file": tmp_path / "nope.pem"},
         "ORGANISM_SIGNING__KEY_FILE: no such file"),
        ("a key that is no key", {"key_file": ours.certificate}, "ORGANISM_SIGNING__KEY_FILE"),
        ("an encrypted key without its passphrase", {"key_file": encrypted.key,
                                                     "certificate_file": encrypted.certificate},
         "ORGANISM_SIGNING__KEY_PASSWORD"),
        ("an encrypted key with the wrong passphrase", {"key_file": encrypted.key, "key_password": "wrong",
                                                        "certificate_file": encrypted.certificate},
         "ORGANISM_SIGNING__KEY_PASSWORD"),
        ("the certificate of another key", {"certificate_file": stranger.certificate},
         "is not the certificate of"),
        ("a store that does not hold the certificate", {"cert_store": other_store}, "does not hold"),
        ("a store holding something else", {"cert_store": junk}, "ORGANISM_SIGNING__CERT_STORE"),
        ("a store that is missing", {"cert_store": tmp_path / "gone"}, "no such file or directory"),
    ]


def test_each_mistake_in_the_signing_files_is_one_line_naming_its_setting(
        ours: Generated, stranger: Generated, tmp_path: Path) -> None:
    for what, given, words in _mistakes(ours, stranger, tmp_path):
        with pytest.raises(SettingsError) as refused:
            signing.check(signing_on(ours, **given))
        line = str(refused.value)
        assert words in line and "\n" not in line, f"{what}: {line}"
        assert PASSWORD not in line


def test_an_encrypted_key_with_its_passphrase_passes(tmp_path: Path) -> None:
    encrypted = make_keys(tmp_path, "encrypted", password=PASSWORD)
    signing.check(signing_on(encrypted, key_password=PASSWORD))


def test_an_expired_certificate_is_refused_at_start(ours: Generated, tmp_path: Path) -> None:
    expired = make_keys(tmp_path, "expired", days=0)  # valid from five minutes ago until now

    with pytest.raises(SettingsError, match="expired"):
        signing.check(signing_on(expired))


def test_the_app_will_not_start_with_signing_on_and_no_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="organism keys generate"):
        create_app(load(profile="redis", data_dir=tmp_path, signing={"enabled": True}))


# -- refusals: what a worker with signing on does not run -----------------------------------------------------


@pytest.fixture
def signing_app(ours: Generated) -> Iterator[None]:
    """The auth serializer registered with our key (process-wide, as in a worker), undone afterwards."""
    with signing_undone():
        create_app(signing_on(ours))
        yield


def _message(body: str | bytes, content_type: str, task: str = "test.echo", task_id: str = "id-1") -> Message:
    return Message(body=body, content_type=content_type, content_encoding="utf-8",
                   headers={"task": task, "id": task_id}, accept=["application/data"])


def _ours(body: Any) -> str:
    content_type, _, payload = dumps(body, serializer="auth")
    assert content_type == signing.SIGNED_CONTENT_TYPE
    return str(payload)


def test_a_message_signed_by_us_for_its_task_and_id_is_accepted(signing_app: None) -> None:
    body = [[5], {}, {signing.BOUND: {"task": "test.echo", "id": "id-1"}}]

    assert refusals.refusal(_message(_ours(body), signing.SIGNED_CONTENT_TYPE)) is None


def test_an_unsigned_message_is_refused_as_unsigned_and_its_arguments_kept_as_evidence(signing_app: None) -> None:
    message = _message('[[5], {"token": "x"}, {}]', "application/json")

    refused = refusals.refusal(message)

    assert isinstance(refused, refusals.Unsigned) and refused.reason == "unsigned"
    assert "not signed" in str(refused)
    assert refusals.carried(message) == [[5], {"token": "x"}, {}]


def test_a_message_signed_by_a_stranger_is_refused_naming_the_unknown_certificate(
        signing_app: None, stranger: Generated) -> None:
    body = [[5], {}, {signing.BOUND: {"task": "test.echo", "id": "id-1"}}]
    message = _message(signed_by(stranger.key, stranger.certificate, body), signing.SIGNED_CONTENT_TYPE)

    refused = refusals.refusal(message)

    assert isinstance(refused, refusals.BadSignature) and refused.reason == "bad-signature"
    assert "Unknown certificate" in str(refused) and "stranger" in str(refused)
    assert refusals.carried(message) == body  # read, unverified, for the record


def test_a_stranger_claiming_our_certificate_is_refused_for_a_bad_signature(
        signing_app: None, ours: Generated, stranger: Generated) -> None:
    body = [[5], {}, {signing.BOUND: {"task": "test.echo", "id": "id-1"}}]
    forged = signed_by(stranger.key, ours.certificate, body)

    refused = refusals.refusal(_message(forged, signing.SIGNED_CONTENT_TYPE))

    assert isinstance(refused, refusals.BadSignature) and "Bad signature" in str(refused)


@pytest.mark.parametrize(("bound", "words"), [
    ({"task": "test.refuse", "id": "id-1"}, "published for task 'test.refuse'"),
    ({"task": "test.echo", "id": "id-2"}, "id 'id-2'"),
    (None, "names no task and id"),
])
def test_a_signed_body_sent_under_other_headers_is_refused(signing_app: None, bound: Any, words: str) -> None:
    embed = {} if bound is None else {signing.BOUND: bound}

    refused = refusals.refusal(_message(_ours([[5], {}, embed]), signing.SIGNED_CONTENT_TYPE))

    assert isinstance(refused, refusals.BadSignature) and words in str(refused), refused


def test_a_tampered_signed_body_is_refused(signing_app: None) -> None:
    good = _ours([[5], {}, {signing.BOUND: {"task": "test.echo", "id": "id-1"}}])
    tampered = good[:-8] + ("A" if good[-8] != "A" else "B") + good[-7:]

    assert isinstance(refusals.refusal(_message(tampered, signing.SIGNED_CONTENT_TYPE)), refusals.BadSignature)


def test_every_published_body_names_its_task_and_id(signing_app: None) -> None:
    from celery import signals

    body: tuple[Any, ...] = ([1], {}, {"callbacks": None})
    signals.before_task_publish.send(sender="test.echo", body=body, headers={"task": "test.echo", "id": "abc"})

    assert body[2][signing.BOUND] == {"task": "test.echo", "id": "abc"}


# -- organism keys generate -----------------------------------------------------------------------------------


def _generate(tmp_path: Path, *args: str, **env: str) -> Any:
    return CliRunner().invoke(main, ["keys", "generate", *args],
                              env={"ORGANISM_DATA_DIR": str(tmp_path / "var"), **env})


def test_keys_generate_writes_a_key_only_its_owner_reads_and_prints_the_settings(tmp_path: Path) -> None:
    done = _generate(tmp_path, "--bits", "2048", "--name", "fleet")

    assert done.exit_code == 0, done.output
    key, certificate = tmp_path / "var/signing/organism-key.pem", tmp_path / "var/signing/organism-cert.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(certificate.stat().st_mode) == 0o644
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert isinstance(load_pem_private_key(key.read_bytes(), password=None), rsa.RSAPrivateKey)
    parsed = x509.load_pem_x509_certificate(certificate.read_bytes())
    assert parsed.subject == parsed.issuer and "CN=fleet" in parsed.subject.rfc4514_string()
    assert "ORGANISM_SIGNING__ENABLED=true" in done.output
    assert f"ORGANISM_SIGNING__KEY_FILE={key}" in done.output
    # what it printed is what the app needs: the defaults find the files, and they fit together
    signing.check(load(data_dir=tmp_path / "var", signing={"enabled": True}))


def test_keys_generate_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert _generate(tmp_path, "--bits", "2048").exit_code == 0
    key = tmp_path / "var/signing/organism-key.pem"
    first = key.read_bytes()

    again = _generate(tmp_path, "--bits", "2048")

    assert again.exit_code == 1
    assert again.output.strip() == f"Error: {key} exists; pass --force to replace it (messages signed with the " \
                                   "old key are refused once its certificate leaves the store)"
    assert key.read_bytes() == first
    forced = _generate(tmp_path, "--bits", "2048", "--force")
    assert forced.exit_code == 0 and key.read_bytes() != first
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_keys_generate_encrypts_the_key_with_the_configured_passphrase(tmp_path: Path) -> None:
    done = _generate(tmp_path, "--bits", "2048", "--dir", str(tmp_path / "keys"),
                     ORGANISM_SIGNING__KEY_PASSWORD=PASSWORD)

    assert done.exit_code == 0 and "encrypted" in done.output and PASSWORD not in done.output
    with pytest.raises(TypeError):
        load_pem_private_key((tmp_path / "keys/organism-key.pem").read_bytes(), password=None)
    load_pem_private_key((tmp_path / "keys/organism-key.pem").read_bytes(), password=PASSWORD.encode())


def test_keys_generate_works_while_signing_is_on_and_its_files_do_not_exist_yet(tmp_path: Path) -> None:
    done = _generate(tmp_path, "--bits", "2048", ORGANISM_SIGNING__ENABLED="true")

    assert done.exit_code == 0, done.output


def test_keys_generate_into_a_place_it_cannot_write_is_one_line(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")

    done = _generate(tmp_path, "--bits", "2048", "--dir", str(blocked / f"sub-{uuid.uuid4().hex}"))

    assert done.exit_code == 1
    assert done.output.startswith("Error: cannot write ") and len(done.output.strip().splitlines()) == 1


def test_the_production_example_turns_signing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parents[2] / "config/organism.production.example.toml"
    monkeypatch.setenv("ORGANISM_CONFIG_FILE", str(example))
    settings = load()

    assert settings.profile == "production" and settings.signing.enabled
    assert celery_config(settings)["accept_content"] == ["auth"]
