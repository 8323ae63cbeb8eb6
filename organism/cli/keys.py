"""``organism keys``: make the keys that protect messages."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from organism.cli.context import settings_or_exit
from organism.security.payload_settings import KEY_ID, new_key
from organism.security.signing_keys import KEY_BITS, VALID_DAYS, KeysExist, default_name, generate
from organism.security.signing_settings import CERTIFICATE_NAME, KEY_NAME


@click.group()
def keys() -> None:
    """Make the keys that protect messages."""


@keys.command("generate")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help=f"Write {KEY_NAME} and {CERTIFICATE_NAME} here (default: where the settings look, "
                   "<data_dir>/signing unless ORGANISM_SIGNING__KEY_FILE and __CERTIFICATE_FILE say otherwise).")
@click.option("--name", help="The certificate's common name  [default: organism@<this host>]")
@click.option("--days", type=click.IntRange(1, 36_500), default=VALID_DAYS, show_default=True,
              help="How long the certificate is valid.")
@click.option("--bits", type=click.Choice(["2048", "3072", "4096"]), default=str(KEY_BITS), show_default=True,
              help="RSA key size (Celery's signing takes RSA keys only).")
@click.option("--force", is_flag=True, help="Replace a key and certificate already there.")
def generate_command(directory: Path | None, name: str | None, days: int, bits: str, force: bool) -> None:
    """Write a message-signing key (mode 0600) and its self-signed X.509 certificate, and print the settings
    that turn signing on with them. The key is encrypted with ORGANISM_SIGNING__KEY_PASSWORD when that is set.

    \b
    Example:
      organism keys generate
      organism keys generate --dir /etc/organism/signing --name worker-fleet
    """
    settings = settings_or_exit(signing_files=False)
    signing = settings.signing
    if directory is None:
        key_path, certificate_path = signing.key_path(settings.data_dir), signing.certificate_path(settings.data_dir)
    else:
        key_path, certificate_path = directory / KEY_NAME, directory / CERTIFICATE_NAME
    password = signing.key_password.get_secret_value() if signing.key_password else None
    try:
        made = generate(key_path, certificate_path, name or default_name(), days, int(bits), password, force)
    except KeysExist as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"cannot write {error.filename or key_path.parent}: {error.strerror}") from None
    key, certificate = made.key.resolve(), made.certificate.resolve()
    click.echo(f"wrote {key} (private key, mode 0600{', encrypted' if password else ''})")
    click.echo(f"wrote {certificate} ({made.subject}, valid until {made.not_after:%Y-%m-%d})")
    click.echo("\nEvery process (workers, beat, the CLI, the console, Flower) needs both files and these settings:")
    click.echo("ORGANISM_SIGNING__ENABLED=true")
    click.echo(f"ORGANISM_SIGNING__KEY_FILE={key}")
    click.echo(f"ORGANISM_SIGNING__CERTIFICATE_FILE={certificate}")
    click.echo("\nor in the settings file:\n[signing]\nenabled = true")
    click.echo(f"key_file = {json.dumps(str(key))}\ncertificate_file = {json.dumps(str(certificate))}")
    if signing.cert_store is not None:
        click.echo(f"\nPut the certificate in the store the workers trust ({signing.cert_store}) before they see "
                   "messages it signed.")


@keys.command("payload-key")
@click.option("--id", "key_id", help="The key's id, which sealed messages name  [default: today's date]")
def payload_key_command(key_id: str | None) -> None:
    """Print a new AES-256 key that seals the arguments of skills declared sensitive, and the setting that puts it
    first (it seals from then on; the keys in use stay after it and still open what they sealed).

    \b
    Example:
      organism keys payload-key --id 2026-05
    """
    settings = settings_or_exit(signing_files=False)
    key_id = key_id or date.today().isoformat()
    if not KEY_ID.fullmatch(key_id):
        raise click.BadParameter("1 to 64 letters, digits, '.', '_' or '-'", param_hint="--id")
    if key_id in settings.payloads.keys:
        raise click.BadParameter(f"{key_id!r} is a payload key in use; give the new key another id", param_hint="--id")
    entries = {key_id: new_key(), **{old: f"<key {old}, as now>" for old in settings.payloads.keys}}
    click.echo(f"new payload key {key_id}: every worker, and every process that calls a sensitive skill or replays "
               "its dead letters, needs these settings (keep the old keys until nothing they sealed is left):")
    click.echo(f"ORGANISM_PAYLOADS__KEYS='{json.dumps(entries)}'")
    click.echo("\nor in the settings file:\n[payloads]")
    click.echo("keys = { " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in entries.items()) + " }")
