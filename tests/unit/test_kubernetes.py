"""`organism deploy k8s` renders manifests that Kubernetes' and KEDA's schemas accept, and that follow the settings.

Core kinds are checked by kubernetes-validate (strict: a field the API does not have is refused). KEDA's kinds are
checked against the OpenAPI schemas of KEDA's own CRDs, vendored in tests/fixtures/keda (nothing is downloaded),
made strict the way ``kubectl apply``'s default field validation is, plus what KEDA's admission webhook and its
scalers check and a schema cannot say: min <= max (the CRD's CEL rule), a scaling formula over named triggers, and
only metadata names the scaler reads (taken from the scalers' vendored source).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from organism.deploy import kubernetes
from organism.local import worker_command
from organism.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
KEDA = ROOT / "tests/fixtures/keda"
COMMITTED = ROOT / "deploy/kubernetes"
KUBERNETES_VERSION = "1.33"  # KEDA 2.20 supports Kubernetes 1.32 to 1.34
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
Manifest = dict[str, Any]


class Invalid(AssertionError):
    """A manifest the cluster would refuse; the message says which and why."""


# -- the validator -------------------------------------------------------------------------------------------------


def _strict(schema: Manifest) -> Manifest:
    """``schema`` refusing fields it does not name, as the API server does under kubectl's default strict field
    validation, except where the schema keeps unknown fields (``x-kubernetes-preserve-unknown-fields``)."""
    strict = dict(schema)
    if "properties" in strict:
        strict["properties"] = {name: _strict(field) for name, field in strict["properties"].items()}
        if "additionalProperties" not in strict and not strict.get("x-kubernetes-preserve-unknown-fields"):
            strict["additionalProperties"] = False
    if isinstance(strict.get("additionalProperties"), dict):
        strict["additionalProperties"] = _strict(strict["additionalProperties"])
    if "items" in strict:
        strict["items"] = _strict(strict["items"])
    for combined in ("anyOf", "allOf", "oneOf"):
        if combined in strict:
            strict[combined] = [_strict(option) for option in strict[combined]]
    return strict


@functools.cache
def _crd_validator(kind: str, version: str) -> jsonschema.Draft202012Validator:
    crd = yaml.safe_load((KEDA / f"keda.sh_{kind.lower()}s.yaml").read_text())
    served = {v["name"]: v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"]}
    return jsonschema.Draft202012Validator(_strict(served[version]))


@functools.cache
def _scaler_parameters(scaler: str) -> frozenset[str]:
    """The metadata and authentication parameter names KEDA's ``scaler`` reads (its ``keda:"name=a;b"`` tags)."""
    source = (KEDA / "scalers" / f"{scaler}_scaler.go").read_text()
    return frozenset(name for names in re.findall(r'keda:"name=([^,"]+)', source) for name in names.split(";"))


def _keda_rules(doc: Manifest) -> None:
    """What KEDA's webhook and scalers check beyond the schema."""
    spec = doc["spec"]
    if doc["kind"] == "TriggerAuthentication":
        return
    if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
        raise Invalid("minReplicaCount must be less than or equal to maxReplicaCount")
    for trigger in spec["triggers"]:
        unknown = set(trigger["metadata"]) - _scaler_parameters(trigger["type"])
        if unknown:
            raise Invalid(f"the {trigger['type']} scaler reads no {sorted(unknown)}")
    modifiers = spec.get("advanced", {}).get("scalingModifiers")
    if modifiers:
        named = {trigger.get("name") for trigger in spec["triggers"]}
        used = set(re.findall(r"[A-Za-z_]\w*", modifiers["formula"]))
        if used - named:
            raise Invalid(f"the formula names no trigger {sorted(used - named)}")
        if float(modifiers.get("target") or 0) <= 0:
            raise Invalid("a scaling formula needs a target above 0")


def validate(doc: Manifest) -> None:
    """Raise :class:`Invalid` for a manifest the API server (or KEDA) would refuse."""
    if not DNS_SUBDOMAIN.fullmatch(doc.get("metadata", {}).get("name", "")):
        raise Invalid(f"{doc.get('kind')}: no valid metadata.name")
    group, _, version = doc["apiVersion"].rpartition("/")
    if group == "keda.sh":
        errors = sorted(_crd_validator(doc["kind"], version).iter_errors(doc), key=str)
        if errors:
            raise Invalid(f"{doc['kind']} {doc['metadata']['name']}: {errors[0].message} at "
                          f"{'.'.join(map(str, errors[0].absolute_path))}")
        _keda_rules(doc)
        return
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        raise Invalid(f"{doc['kind']} {doc['metadata']['name']}: {error.message} at "
                      f"{'.'.join(map(str, error.absolute_path))}") from None


# -- helpers -------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _own_settings_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The settings each test gives, not the environment's nor a settings file in the working directory."""
    for name in [name for name in os.environ if name.startswith("ORGANISM_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _documents(files: dict[str, str]) -> list[Manifest]:
    return [doc for name, text in files.items() if name.endswith(".yaml") and not name.startswith("kustomiz")
            for doc in yaml.safe_load_all(text)]


def _find(files: dict[str, str], kind: str, name: str) -> Manifest:
    return next(doc for doc in _documents(files) if doc["kind"] == kind and doc["metadata"]["name"] == name)


def _settings(**given: Any) -> Settings:
    return Settings(**given)


def _production(**given: Any) -> Settings:
    return _settings(profile="production", **given)


# -- the tests -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [
    {"profile": "production"},
    {"profile": "redis", "broker_url": "redis://redis.organism.svc:6379/2", "database_url": "postgresql://pg/organism"},
], ids=["rabbitmq", "redis"])
def test_every_rendered_manifest_is_accepted_by_the_kubernetes_and_keda_schemas(given: dict[str, Any]) -> None:
    documents = _documents(kubernetes.render(_settings(**given)))

    for doc in documents:
        validate(doc)
    kinds = sorted(doc["kind"] for doc in documents)
    assert kinds == sorted(["Deployment"] * 8 + ["Service"] * 3 + ["Job", "TriggerAuthentication"]
                           + ["ScaledObject"] * 4)


def test_the_validator_refuses_what_the_cluster_would() -> None:
    files = kubernetes.render(_production())
    scaled = _find(files, "ScaledObject", "organism-worker-judgment")

    misspelt = json.loads(json.dumps(scaled))
    misspelt["spec"]["minReplicas"] = misspelt["spec"].pop("minReplicaCount")
    with pytest.raises(Invalid, match="minReplicas"):
        validate(misspelt)
    number = json.loads(json.dumps(scaled))
    number["spec"]["triggers"][0]["metadata"]["value"] = 20  # KEDA's metadata takes strings only
    with pytest.raises(Invalid, match="is not of type 'string'"):
        validate(number)
    unread = json.loads(json.dumps(scaled))
    unread["spec"]["triggers"][0]["metadata"]["queue"] = "judgment"
    with pytest.raises(Invalid, match="reads no"):
        validate(unread)
    deployment = _find(files, "Deployment", "organism-worker-judgment")
    deployment["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(Invalid, match="resource"):
        validate(deployment)


def test_the_committed_rendering_is_what_the_command_renders_for_the_default_production_settings() -> None:
    rendered = kubernetes.render(_production())
    committed = {path.name: path.read_text() for path in COMMITTED.iterdir()}

    fix = "render it again: ORGANISM_PROFILE=production organism deploy k8s --out deploy/kubernetes"
    assert sorted(committed) == sorted(rendered), fix
    for name, text in rendered.items():
        assert committed[name] == text, f"deploy/kubernetes/{name} is stale; {fix}"


def test_an_organ_added_in_the_settings_gets_its_deployment_and_its_queue_scaler() -> None:
    settings = _production(organs=("perception", "judgment", "relationship", "evolution", "vision_2"))

    files = kubernetes.render(settings)

    deployment = _find(files, "Deployment", "organism-worker-vision-2")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "organism", "worker", "--organ", "vision_2"]
    trigger = _find(files, "ScaledObject", "organism-worker-vision-2")["spec"]["triggers"][0]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"] == {"protocol": "amqp", "queueName": "vision_2", "mode": "QueueLength",
                                   "value": "20", "vhostName": "/"}
    assert "vision_2" in json.loads(_env(files)["ORGANISM_ORGANS"])
    for doc in _documents(files):
        validate(doc)


def test_resources_replicas_and_the_queue_target_follow_each_organs_worker_settings() -> None:
    settings = _production(workers={"judgment": {"cpu_request": "750m", "cpu_limit": "2", "memory_request": "768Mi",
                                                 "memory_limit": "3Gi", "min_replicas": 0, "max_replicas": 12,
                                                 "queue_length_target": 5, "time_limit_s": 900,
                                                 "soft_time_limit_s": 600}},
                           broker_url="amqp://organism@rabbitmq.organism.svc:5672/organism")

    files = kubernetes.render(settings)

    pod = _find(files, "Deployment", "organism-worker-judgment")["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {"requests": {"cpu": "750m", "memory": "768Mi"},
                                                 "limits": {"cpu": "2", "memory": "3Gi"}}
    assert pod["terminationGracePeriodSeconds"] == 900 + kubernetes.GRACE_S  # a stopping worker finishes its task
    scaled = _find(files, "ScaledObject", "organism-worker-judgment")["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (0, 12)
    assert scaled["triggers"][0]["metadata"]["value"] == "5"
    assert scaled["triggers"][0]["metadata"]["vhostName"] == "organism"
    other = _find(files, "Deployment", "organism-worker-relationship")["spec"]["template"]["spec"]["containers"][0]
    assert other["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1280Mi"}}


def _env(files: dict[str, str]) -> dict[str, str]:
    lines = [line for line in files["settings.env"].splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_pods_resolve_the_workers_the_manifests_were_sized_for(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _production(organs=("perception", "judgment", "scribe"), task_time_limit_s=500,
                           workers={"perception": {"concurrency": 3, "max_replicas": 6},
                                    "scribe": {"bound": "io", "concurrency": 8}})

    for name, value in _env(kubernetes.render(settings)).items():  # what the ConfigMap puts in every pod
        monkeypatch.setenv(name, value)
    in_pod = _settings()

    assert in_pod.organs == settings.organs
    assert [in_pod.worker(organ) for organ in in_pod.organs] == [settings.worker(o) for o in settings.organs]


def test_worker_probes_read_the_heartbeat_of_the_node_the_worker_names_itself() -> None:
    settings = _production()
    files = kubernetes.render(settings)

    for organ in settings.organs:
        pod = _find(files, "Deployment", kubernetes.worker_name(organ))["spec"]["template"]["spec"]
        assert f"{organ}@%h" in worker_command(settings, [organ])  # %h: the hostname, which is the pod's name
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            command = pod["containers"][0][probe]["exec"]["command"]
            assert command == ["sh", "-c", f'exec organism health worker --node {organ}@"$HOSTNAME"'], probe


def test_beat_is_one_replica_replaced_by_recreation() -> None:
    files = kubernetes.render(_production())

    beats = [doc for doc in _documents(files)
             if doc["kind"] == "Deployment" and "beat" in doc["spec"]["template"]["spec"]["containers"][0]["command"]]
    assert [(b["spec"]["replicas"], b["spec"]["strategy"]) for b in beats] == [(1, {"type": "Recreate"})]


def test_no_pod_gets_service_links_which_the_settings_would_refuse_as_unknown_organism_variables() -> None:
    for doc in _documents(kubernetes.render(_production())):
        if doc["kind"] in ("Deployment", "Job"):
            assert doc["spec"]["template"]["spec"]["enableServiceLinks"] is False, doc["metadata"]["name"]


def test_no_secret_value_is_rendered_and_the_secret_names_what_keda_reads() -> None:
    secrets = ("rabbit-s3cret", "pg-s3cret", "redis-s3cret", "scrape-token-s3cret-value", "console-s3cret",
               "model-api-s3cret")
    settings = _settings(profile="redis", broker_url=f"redis://:{secrets[2]}@redis:6379/0",
                        result_backend=f"redis://:{secrets[2]}@redis:6379/1",
                        database_url=f"postgresql+psycopg://organism:{secrets[1]}@postgres/organism",
                        gateway={"base_url": "https://models.example/v1", "model": "m", "api_key": secrets[5]},
                        observability={"scrape_token": secrets[3], "console_secret_key": secrets[4]})

    files = kubernetes.render(settings)

    for name, text in files.items():
        for secret in secrets:
            assert secret not in text, f"{name} holds {secret}"
    example = {line.split("=", 1)[0] for line in files["secrets.env.example"].splitlines() if "=" in line
               and not line.startswith("#")}
    auth = _find(files, "TriggerAuthentication", "organism-broker")["spec"]["secretTargetRef"]
    assert {ref["key"] for ref in auth} <= example
    assert {ref["name"] for ref in auth} == {"organism-secrets"}


def test_with_signing_on_every_container_reads_the_key_and_certificate_from_their_secret() -> None:
    files = kubernetes.render(_production(signing={"enabled": True}))

    pods = [doc["spec"]["template"]["spec"] for doc in _documents(files) if doc["kind"] in ("Deployment", "Job")]
    assert len(pods) == 9
    for pod in pods:
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert volumes["signing"]["secret"]["secretName"] == kubernetes.SIGNING
        for container in [*pod["containers"], *pod.get("initContainers", [])]:
            env = {variable["name"]: variable["value"] for variable in container["env"]}
            assert env["ORGANISM_SIGNING__ENABLED"] == "true"
            assert env["ORGANISM_SIGNING__KEY_FILE"] == "/etc/organism/signing/organism-key.pem"
            assert {"name": "signing", "mountPath": "/etc/organism/signing", "readOnly": True} in \
                container["volumeMounts"]
    for doc in _documents(files):
        validate(doc)
    generated = yaml.safe_load(files["kustomization.yaml"])["secretGenerator"]
    assert {"name": kubernetes.SIGNING, "files": ["organism-key.pem", "organism-cert.pem"]} in generated
    assert "signing" not in kubernetes.render(_production())["workers.yaml"]  # off: nothing to mount


def test_redis_scalers_add_up_the_lists_kombu_keeps_per_priority() -> None:
    settings = _settings(profile="redis", broker_url="rediss://worker@redis.organism.svc:6380/3",
                        database_url="postgresql://pg/organism")

    scaled = _find(kubernetes.render(settings), "ScaledObject", "organism-worker-evolution")["spec"]

    lists = [trigger["metadata"]["listName"] for trigger in scaled["triggers"]]
    assert lists == ["evolution", "evolution\x06\x163", "evolution\x06\x166", "evolution\x06\x169"]
    assert scaled["advanced"]["scalingModifiers"]["formula"] == "priority0 + priority3 + priority6 + priority9"
    assert {trigger["metadata"]["address"] for trigger in scaled["triggers"]} == {"redis.organism.svc:6380"}
    assert {(t["metadata"]["databaseIndex"], t["metadata"]["enableTLS"], t["metadata"]["username"])
            for t in scaled["triggers"]} == {("3", "true", "worker")}


def test_the_kustomization_names_only_rendered_files_and_the_ones_the_operator_writes() -> None:
    files = kubernetes.render(_production(signing={"enabled": True}), image="registry.example:5000/organism:1.4",
                              namespace="agents")
    kustomization = yaml.safe_load(files["kustomization.yaml"])

    named = [*kustomization["resources"], *kustomization["configurations"],
             *(f for generator in kustomization["configMapGenerator"] + kustomization["secretGenerator"]
               for f in generator.get("envs", []) + generator.get("files", []))]
    assert set(named) - set(files) == set(kubernetes.OPERATOR_FILES)
    assert set(files[".gitignore"].split()) == set(kubernetes.OPERATOR_FILES)  # kept out of git
    assert kustomization["namespace"] == "agents"
    assert kustomization["images"] == [{"name": "organism", "newName": "registry.example:5000/organism",
                                        "newTag": "1.4"}]


@pytest.mark.parametrize(("given", "problem"), [
    ({"profile": "embedded"}, "ORGANISM_DATABASE_URL: each pod would keep its own SQLite file"),
    ({"profile": "production", "broker_url": "pyamqp://rabbitmq//"}, "knows only amqp:// and amqps://"),
    ({"profile": "production", "organs": ("perception", "judgment_")}, "organ 'judgment_' makes the Kubernetes name"),
    ({"profile": "production", "organs": ("vision", "Vision")}, "organs Vision, vision make the same Kubernetes name"),
])
def test_settings_a_cluster_cannot_run_are_refused_naming_the_setting(given: dict[str, Any], problem: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(problem)):
        kubernetes.render(_settings(**given))


def test_the_command_writes_the_directory_and_keeps_the_operators_secrets(tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    out.mkdir()
    (out / "secrets.env").write_text("ORGANISM_BROKER_URL=amqp://organism:kept@rabbitmq//\n")
    command = [sys.executable, "-m", "organism", "deploy", "k8s", "--out", str(out)]

    done = subprocess.run(command, env={"ORGANISM_PROFILE": "production", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, cwd=tmp_path)
    refused = subprocess.run(command, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([*kubernetes.render(_production()), "secrets.env"])
    assert (out / "secrets.env").read_text() == "ORGANISM_BROKER_URL=amqp://organism:kept@rabbitmq//\n"
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1:] == [
        "Error: setting ORGANISM_DATABASE_URL: each pod would keep its own SQLite file; use a server every pod "
        "reaches (ORGANISM_PROFILE=production: PostgreSQL and Redis)"]
