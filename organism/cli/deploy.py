"""``organism deploy``: render what runs Organism elsewhere from the settings that define its organs."""

from __future__ import annotations

from pathlib import Path

import click

from organism.cli.context import settings_or_exit


@click.group()
def deploy() -> None:
    """Render deployment files from the settings (each organ's worker, its limits and scaling)."""


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
