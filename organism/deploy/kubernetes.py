"""Kubernetes manifests, rendered from the settings as a kustomize directory (``organism deploy k8s --out DIR``;
``kubectl apply -k DIR``).

Plain YAML and kustomize, not a Helm chart: the settings already are the values, so a template language would
only add a second place to give them, and ``kubectl`` carries kustomize, so nothing else needs installing. What
changes between clusters (image, namespace, an extra setting) is what kustomize overlays do.

The directory holds a Deployment per organ worker (the organ's resources, probes on its heartbeat file, sized by
a KEDA ScaledObject on its queue: :mod:`organism.deploy.keda`), beat (one replica, ``Recreate``), Flower, the
console and the metrics exporter (each with a Service), the migration Job, the ConfigMap of the settings the
manifests follow (``settings.env``) and the Secret the operator writes (``secrets.env``, from the example beside
it; no secret value is ever rendered).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from organism.deploy import keda
from organism.security.signing_settings import CERTIFICATE_NAME, KEY_NAME
from organism.settings import Settings, SettingsError

APP = "organism"
SETTINGS = "organism-settings"
AUDIT_KEY = "organism-audit-key"
IMAGE = "organism"  # the name the manifests use; kustomization.yaml's images: says which image it is
DATA_DIR = "/app/var"  # the image's working directory is /app; heartbeats, metric samples and Flower's events
AUDIT_KEY_DIR = "/etc/organism/audit"
SIGNING = "organism-signing"  # the Secret of the message-signing key and certificate (`organism keys generate`)
SIGNING_DIR = "/etc/organism/signing"
HEADER = "# Rendered by `organism deploy k8s` from the settings: render again rather than edit (docs/deploy.md).\n"
OPERATOR_FILES = ("secrets.env", "audit-key.pem", KEY_NAME, CERTIFICATE_NAME)  # the operator's, never rendered
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# A worker's heartbeat file names it <organ>@<hostname>, and a pod's hostname is its name (probes run no shell
# of Kubernetes' own, so the command runs under sh to read $HOSTNAME).
HEARTBEAT = 'exec organism health worker --node {organ}@"$HOSTNAME"'
WAIT_READY = "until organism health ready; do sleep 5; done"
GRACE_S = 30  # on top of the hard time limit: a worker stopping finishes its tasks first (Celery's warm shutdown)

Manifest = dict[str, Any]


class _Dumper(yaml.SafeDumper):
    """Writes a value used twice (a probe, a label set) out in full each time, never as a YAML anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _yaml(documents: list[Manifest]) -> str:
    return HEADER + yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=120)


def render(settings: Settings, image: str = "organism:latest", namespace: str = "organism") -> dict[str, str]:
    """The kustomize directory for ``settings``, as file name → text.

    Raises:
        SettingsError: the settings name something a cluster cannot run (an SQLite store, the embedded broker, an
            organ name that is no Kubernetes name); the message names the setting.
    """
    _check_cluster_urls(settings)
    names = _worker_names(settings)
    workers = [_worker(settings, organ, names[organ]) for organ in settings.organs]
    scalers = [keda.authentication(settings, _labels("worker")),
               *(keda.scaled_object(settings, organ, names[organ], _labels("worker", organ))
                 for organ in settings.organs)]
    documents = {
        "workers.yaml": workers,
        "beat.yaml": [_beat()],
        "flower.yaml": _served("flower", 5555, _http_probe("/healthcheck", 5555)),
        "console.yaml": _served("console", 8800, _http_probe("/healthz", 8800), audit_key=True),
        "metrics.yaml": _served("metrics", 9808, {"tcpSocket": {"port": "http"}}),
        "migrate.yaml": [_migrate()],
        "scalers.yaml": scalers,
    }
    if settings.signing.enabled:
        _mount_signing([doc for docs in documents.values() for doc in docs])
    files = {name: _yaml(docs) for name, docs in documents.items()}
    files["kustomization.yaml"] = _yaml([_kustomization(list(documents), image, namespace, settings)])
    files["kustomizeconfig.yaml"] = _yaml([_name_references()])
    files["settings.env"] = _settings_env(settings)
    files["secrets.env.example"] = _secrets_example(settings)
    files[".gitignore"] = "".join(f"{name}\n" for name in OPERATOR_FILES)
    return files


def write(files: dict[str, str], out: Path) -> None:
    """Write the rendered ``files`` into ``out`` (made if missing); what the operator wrote there stays."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)


def worker_name(organ: str) -> str:
    """The Kubernetes name of ``organ``'s worker Deployment and ScaledObject.

    Raises:
        SettingsError: the organ's name does not make a DNS label (lower case, digits and dashes, 63 at most).
    """
    name = f"{APP}-worker-{organ.lower().replace('_', '-')}"
    if not DNS_LABEL.fullmatch(name):
        raise SettingsError(f"setting ORGANISM_ORGANS: organ {organ!r} makes the Kubernetes name {name!r}, which is "
                            "no DNS label (letters, digits and inner underscores, 47 characters at most)")
    return name


def _worker_names(settings: Settings) -> dict[str, str]:
    """Each organ's :func:`worker_name`, refusing two organs that make the same one (``Vision`` and ``vision``)."""
    names = {organ: worker_name(organ) for organ in settings.organs}
    clash = sorted(organ for organ, name in names.items() if list(names.values()).count(name) > 1)
    if clash:
        raise SettingsError(f"setting ORGANISM_ORGANS: organs {', '.join(clash)} make the same Kubernetes name "
                            f"{names[clash[0]]!r}; rename one")
    return names


def _check_cluster_urls(settings: Settings) -> None:
    """Refuse settings whose pods would each keep their own SQLite files."""
    for setting, url in (("ORGANISM_DATABASE_URL", settings.database), ("ORGANISM_RESULT_BACKEND", settings.results),
                         ("ORGANISM_MEMORY_URL", settings.memory)):
        if url.removeprefix("db+").startswith("sqlite"):
            raise SettingsError(f"setting {setting}: each pod would keep its own SQLite file; use a server every pod "
                                "reaches (ORGANISM_PROFILE=production: PostgreSQL and Redis)")
    keda.authentication(settings, {})  # refuses a broker KEDA cannot scale by


def _labels(component: str, organ: str | None = None) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": component}
    if organ is not None:
        labels["organism/organ"] = organ
    return labels


def _resources(settings: Settings, organ: str) -> Manifest:
    worker = settings.worker(organ)
    requests = {"cpu": worker.cpu_request, "memory": worker.memory_request}
    limits = {"memory": worker.memory_limit}
    if worker.cpu_limit is not None:
        limits["cpu"] = worker.cpu_limit
    return {"requests": requests, "limits": limits}


def _container(name: str, command: list[str], **extra: Any) -> Manifest:
    """A container of the image with the settings and secrets in its environment and the data folder mounted."""
    container: Manifest = {
        "name": name, "image": IMAGE, "command": command,
        "envFrom": [{"configMapRef": {"name": SETTINGS}}, {"secretRef": {"name": keda.SECRET}}],
        "env": [{"name": "ORGANISM_DATA_DIR", "value": DATA_DIR}, *extra.pop("env", [])],
        "volumeMounts": [{"name": "var", "mountPath": DATA_DIR}, *extra.pop("volumeMounts", [])],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    return container | extra


def _pod(labels: dict[str, str], containers: list[Manifest], **extra: Any) -> Manifest:
    """A pod template. Service links are off: for each Service named organism-<role>, Kubernetes would put
    variables named after it (<ROLE>_PORT with the prefix of the settings) into every container, and the settings
    refuse a name with their prefix that is no setting."""
    volumes = [{"name": "var", "emptyDir": {}}, *extra.pop("volumes", [])]
    return {"metadata": {"labels": labels},
            "spec": {"enableServiceLinks": False, **extra, "containers": containers, "volumes": volumes}}


def _deployment(name: str, labels: dict[str, str], pod: Manifest, **spec: Any) -> Manifest:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {**spec, "selector": {"matchLabels": labels}, "template": pod}}


def _wait_ready() -> Manifest:
    """An init container that waits for the broker and for the store at the current schema (the migration Job)."""
    return _container("wait-ready", ["sh", "-c", WAIT_READY])


def _worker(settings: Settings, organ: str, name: str) -> Manifest:
    """``organ``'s worker: no replica count (its ScaledObject owns it), time to finish a task when stopped."""
    labels = _labels("worker", organ)
    heartbeat = {"exec": {"command": ["sh", "-c", HEARTBEAT.format(organ=organ)]}, "timeoutSeconds": 15}
    container = _container(
        "worker", ["organism", "worker", "--organ", organ], resources=_resources(settings, organ),
        startupProbe=heartbeat | {"periodSeconds": 10, "failureThreshold": 30},
        livenessProbe=heartbeat | {"periodSeconds": 30, "failureThreshold": 3},
        readinessProbe=heartbeat | {"periodSeconds": 30, "failureThreshold": 1})
    grace = math.ceil(settings.worker(organ).time_limit_s) + GRACE_S
    return _deployment(name, labels, _pod(labels, [container], initContainers=[_wait_ready()],
                                          terminationGracePeriodSeconds=grace))


def _beat() -> Manifest:
    """Beat: exactly one, and the old one gone before a new one starts (``Recreate``)."""
    labels = _labels("beat")
    return _deployment(f"{APP}-beat", labels, _pod(labels, [_container("beat", ["organism", "beat"])],
                                                   initContainers=[_wait_ready()]),
                       replicas=1, strategy={"type": "Recreate"})


def _http_probe(path: str, port: int) -> Manifest:
    return {"httpGet": {"path": path, "port": port}}


def _served(role: str, port: int, probe: Manifest, audit_key: bool = False) -> list[Manifest]:
    """A Deployment of one process serving HTTP on ``port``, and its Service."""
    labels = _labels(role)
    extra: dict[str, Any] = {}
    volumes = []
    if audit_key:  # the console signs the audit trail; `kubectl exec` into it runs the CLI with the same key
        extra = {"env": [{"name": "ORGANISM_AUDIT_KEY_FILE", "value": f"{AUDIT_KEY_DIR}/audit-key.pem"}],
                 "volumeMounts": [{"name": "audit-key", "mountPath": AUDIT_KEY_DIR, "readOnly": True}]}
        # Readable by the image's user, whatever its uid; no other user runs in the container.
        volumes = [{"name": "audit-key", "secret": {"secretName": AUDIT_KEY, "defaultMode": 0o444}}]
    container = _container(role, ["organism", role, "--host", "0.0.0.0", "--port", str(port)],
                           ports=[{"name": "http", "containerPort": port}],
                           livenessProbe=probe | {"periodSeconds": 30, "timeoutSeconds": 10, "failureThreshold": 3},
                           readinessProbe=probe | {"periodSeconds": 10, "timeoutSeconds": 5}, **extra)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{APP}-{role}", "labels": labels},
               "spec": {"selector": labels, "ports": [{"name": "http", "port": port, "targetPort": "http"}]}}
    return [_deployment(f"{APP}-{role}", labels, _pod(labels, [container], volumes=volumes), replicas=1), service]


def _migrate() -> Manifest:
    """``organism migrate`` once per release; a Job's pod template is immutable, so delete it before the next."""
    labels = _labels("migrate")
    pod = _pod(labels, [_container("migrate", ["organism", "migrate"])], restartPolicy="Never")
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": f"{APP}-migrate", "labels": labels},
            "spec": {"backoffLimit": 6, "template": pod}}


def _image(image: str) -> dict[str, str]:
    """kustomize's ``images:`` entry for ``image`` (name[:tag] or name@digest; a registry port is no tag)."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return {"name": IMAGE, "newName": name, "digest": digest}
    name, colon, tag = image.rpartition(":")
    if not colon or "/" in tag:
        return {"name": IMAGE, "newName": image}
    return {"name": IMAGE, "newName": name, "newTag": tag}


def _kustomization(resources: Iterable[str], image: str, namespace: str, settings: Settings) -> Manifest:
    secrets = [{"name": keda.SECRET, "envs": ["secrets.env"]}, {"name": AUDIT_KEY, "files": ["audit-key.pem"]}]
    if settings.signing.enabled:
        secrets.append({"name": SIGNING, "files": [KEY_NAME, CERTIFICATE_NAME]})
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "namespace": namespace,
        "resources": list(resources),
        "configMapGenerator": [{"name": SETTINGS, "envs": ["settings.env"]}],
        "secretGenerator": secrets,
        "images": [_image(image)],
        "configurations": ["kustomizeconfig.yaml"],
    }


def _mount_signing(documents: list[Manifest]) -> None:
    """With message signing on, every pod (init containers included: they build the app, which checks the key)
    mounts the Secret organism-signing and points the signing settings at its files. One key and certificate for
    the whole deployment; a store of several certificates is an overlay's (docs/deploy.md)."""
    env = [{"name": "ORGANISM_SIGNING__ENABLED", "value": "true"},
           {"name": "ORGANISM_SIGNING__KEY_FILE", "value": f"{SIGNING_DIR}/{KEY_NAME}"},
           {"name": "ORGANISM_SIGNING__CERTIFICATE_FILE", "value": f"{SIGNING_DIR}/{CERTIFICATE_NAME}"}]
    for document in documents:
        pod = document.get("spec", {}).get("template")
        if pod is None:  # a Service or a scaler
            continue
        # Readable by the image's user, whatever its uid; no other user runs in the container.
        pod["spec"]["volumes"].append({"name": "signing", "secret": {"secretName": SIGNING, "defaultMode": 0o444}})
        for container in [*pod["spec"]["containers"], *pod["spec"].get("initContainers", [])]:
            container["env"] += env
            container["volumeMounts"].append({"name": "signing", "mountPath": SIGNING_DIR, "readOnly": True})


def _name_references() -> Manifest:
    """Tells kustomize that a TriggerAuthentication names the Secret, so that it follows the Secret's hashed name."""
    return {"nameReference": [{"kind": "Secret", "fieldSpecs": [
        {"kind": "TriggerAuthentication", "group": "keda.sh", "path": "spec/secretTargetRef/name"}]}]}


def _settings_env(settings: Settings) -> str:
    """The ConfigMap: the profile, the organs, their workers and the time limits, as the manifests read them. The
    environment wins over a settings file, so every pod resolves the workers these manifests were sized for."""
    workers = {organ: given.model_dump(mode="json", exclude_unset=True) for organ, given in settings.workers.items()}
    lines = [f"ORGANISM_PROFILE={settings.profile.value}",
             f"ORGANISM_ORGANS={json.dumps(list(settings.organs))}",
             f"ORGANISM_WORKERS={json.dumps(workers, separators=(',', ':'))}",
             f"ORGANISM_TASK_SOFT_TIME_LIMIT_S={json.dumps(settings.task_soft_time_limit_s)}",
             f"ORGANISM_TASK_TIME_LIMIT_S={json.dumps(settings.task_time_limit_s)}"]
    return HEADER + "".join(f"{line}\n" for line in lines)


def _secrets_example(settings: Settings) -> str:
    """The Secret's example: the settings' URLs with each password replaced by CHANGE-ME."""
    lines = [
        "# The Secret organism-secrets, read by every pod (and by KEDA's scalers): copy this file to secrets.env",
        "# (kept out of git), put in the real values, and add any other secret setting (ORGANISM_GATEWAY__API_KEY,",
        "# ...). Empty means unset. The console's audit key is the file audit-key.pem beside it:",
        "#   openssl genpkey -algorithm ed25519 -out audit-key.pem",
        f"ORGANISM_BROKER_URL={_without_password(settings.broker)}",
        f"ORGANISM_RESULT_BACKEND={_without_password(settings.results)}",
        f"ORGANISM_DATABASE_URL={_without_password(settings.database)}",
        "# Prometheus's bearer token for /metrics (16 characters or more); without it, only operator accounts scrape",
        "ORGANISM_OBSERVABILITY__SCRAPE_TOKEN=",
        "# Signs console and Flower sessions, so that a restart signs no one out",
        "ORGANISM_OBSERVABILITY__CONSOLE_SECRET_KEY=",
    ]
    for key, value in keda.secret_examples(settings).items():
        lines += ["# The broker's password again, for KEDA's Redis scaler (it takes no URL); empty: none",
                  f"{key}={value}"]
    return "".join(f"{line}\n" for line in lines)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:CHANGE-ME@{host}"))
