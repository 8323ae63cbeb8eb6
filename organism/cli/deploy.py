"""``organism deploy``: render what runs Organism elsewhere from the settings that define its organs."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

import click

from organism.cli.context import settings_or_exit
from organism.settings import Settings


@click.group()
def deploy() -> None:
    """Render deployment files from the settings (each organ's worker, its limits and scaling)."""


def _render(render: Callable[[Settings], str], command: str, default: Path, out: Path | None, check: bool) -> None:
    """Print what ``render`` makes of the settings, write it to ``out``, or with ``check`` compare ``out`` (default:
    ``default``) with it: a difference is one line and exit 1."""
    text = render(settings_or_exit())
    if check:
        path = out or default
        fix = f"`{command} --out {path}` writes it"
        if not path.is_file():
            raise click.ClickException(f"{path}: no such file; {fix}")
        differs = _difference(path.read_text(encoding="utf-8"), text)
        if differs:
            raise click.ClickException(f"{path} is not what `{command}` renders from these settings: {differs}; {fix}")
        click.echo(f"{path} is what `{command}` renders")
    elif out is not None:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(text, nl=False)


def _difference(found: str, rendered: str) -> str:
    """How ``found`` differs from ``rendered``, in a few words: how many lines, and the first."""
    old, new = found.splitlines(), rendered.splitlines()
    changed = [(tag, i1, i2, j1, j2) for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes()
               if tag != "equal"]
    if not changed:
        return ""
    lines = sum(max(i2 - i1, j2 - j1) for _, i1, i2, j1, j2 in changed)
    _, i1, i2, j1, j2 = changed[0]
    where = f"{lines} line{'s differ' if lines != 1 else ' differs'}, the first at line {i1 + 1}"
    if i1 == i2:
        return f"{where}, which lacks {new[j1].strip()!r}"
    if j1 == j2:
        return f"{where}, {old[i1].strip()!r}, which the rendering lacks"
    return f"{where}, {old[i1].strip()!r} where the rendering has {new[j1].strip()!r}"


@deploy.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the Procfile here (default: "
              "print it).")
@click.option("--check", is_flag=True, help="Exit 1 if the file (--out, default ./Procfile) is not what this renders.")
def procfile(out: Path | None, check: bool) -> None:
    """Render the Procfile: a worker per organ (its limits in a comment), beat, Flower, the console, the exporter.

    \b
    Example:
      organism deploy procfile --out Procfile
      organism deploy procfile --check          # in CI: the committed file is what the settings render
    """
    from organism.deploy import procfile as rendering

    _render(rendering.render, "organism deploy procfile", Path("Procfile"), out, check)


@deploy.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the compose file here "
              "(default: print it).")
@click.option("--check", is_flag=True, help="Exit 1 if the file (--out, default ./docker-compose.yml) is not what "
              "this renders.")
def compose(out: Path | None, check: bool) -> None:
    """Render docker-compose.yml: the brokers, the store and migrations, a worker per organ sized by its limits
    (mem_limit, mem_reservation, cpus, stop grace), beat, Flower, the console and the exporter.

    \b
    Example:
      ORGANISM_WORKERS__PERCEPTION__CONCURRENCY=4 organism deploy compose --out docker-compose.yml
      organism deploy compose --check
    """
    from organism.deploy import compose as rendering

    _render(rendering.render, "organism deploy compose", Path("docker-compose.yml"), out, check)


@deploy.command("k8s")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The kustomize directory to write (made if missing; secrets.env and audit-key.pem there stay).")
@click.option("--image", default="organism:latest", show_default=True, help="The image every pod runs.")
@click.option("--namespace", default="organism", show_default=True, help="The namespace of every object.")
def k8s(out: Path, image: str, namespace: str) -> None:
    """Render Kubernetes manifests (kustomize): a Deployment and a KEDA ScaledObject per organ, beat, Flower, the
    console, the metrics exporter, the migration Job, the settings' ConfigMap and the Secret's example.

    \b
    Example (docs/deploy.md walks through the rest):
      ORGANISM_PROFILE=production organism deploy k8s --out deploy/kubernetes --image registry.example/organism:1.0
      cp deploy/kubernetes/secrets.env.example deploy/kubernetes/secrets.env   # then fill it in
      kubectl apply -k deploy/kubernetes
    """
    from organism.deploy import kubernetes
    from organism.settings import SettingsError

    try:
        files = kubernetes.render(settings_or_exit(), image=image, namespace=namespace)
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    kubernetes.write(files, out)
    click.echo(f"wrote {len(files)} files to {out}")
    if not (out / "secrets.env").exists():
        click.echo(f"next: copy {out / 'secrets.env.example'} to {out / 'secrets.env'} and fill it in")
