"""deploy/ checked without a container engine: the compose file against the Compose Specification's JSON Schema,
the Kubernetes manifests against Kubernetes' JSON Schemas (strict: an unknown field is an error), the Dockerfile's
structure, and that the files agree with each other and with the repository (paths, names, probes, plugins)."""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from success_metrics.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
FIXTURES = Path(__file__).parent / "fixtures"
KINDS = {("apps/v1", "Deployment"): "deployment-apps-v1.json", ("v1", "Service"): "service-v1.json",
         ("v1", "Secret"): "secret-v1.json", ("v1", "ConfigMap"): "configmap-v1.json"}
PLUGINS = {"simpod-json-datasource", "yesoreyeram-infinity-datasource"}


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def compose_errors(doc: dict[str, Any]) -> list[str]:
    schema = load_json(FIXTURES / "compose-spec.json")
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def manifests() -> list[dict[str, Any]]:
    return [doc for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def manifest_errors(doc: dict[str, Any]) -> list[str]:
    name = KINDS.get((str(doc.get("apiVersion")), str(doc.get("kind"))))
    if name is None:
        return [f"no schema vendored for {doc.get('apiVersion')} {doc.get('kind')}"]
    schema = load_json(FIXTURES / "kubernetes" / name)
    registry: Registry[Any] = Registry().with_resources([
        (schema["$id"], Resource.from_contents(schema)),
        (load_json(FIXTURES / "kubernetes" / "_definitions.json")["$id"],
         Resource.from_contents(load_json(FIXTURES / "kubernetes" / "_definitions.json")))])
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def by_kind(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in manifests() if d["kind"] == kind]
    return doc


# ── compose ──────────────────────────────────────────────────────────────────────────────────

def test_compose_file_follows_the_compose_specification() -> None:
    assert compose_errors(compose()) == []


def test_the_compose_schema_check_catches_a_misspelt_key() -> None:
    doc = copy.deepcopy(compose())
    doc["services"]["success-metrics"]["helthcheck"] = doc["services"]["success-metrics"].pop("depends_on")
    assert any("helthcheck" in e for e in compose_errors(doc))


def test_compose_mounts_and_builds_only_what_the_repository_has() -> None:
    services = compose()["services"]
    build = services["demo-data"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist"


def test_compose_loads_the_demo_into_its_postgresql_before_serving() -> None:
    services = compose()["services"]
    loader, server = services["demo-data"], services["success-metrics"]
    assert loader["command"] == ["demo", "--load-only"]
    assert loader["environment"]["DATABASE_URL"] == server["environment"]["DATABASE_URL"]
    assert "@db:5432/" in server["environment"]["DATABASE_URL"]
    assert server["depends_on"]["demo-data"]["condition"] == "service_completed_successfully"
    assert loader["depends_on"]["db"]["condition"] == "service_healthy"
    # the config and dev issuer key the loader writes under SM_DATA_DIR are the ones the server reads
    data = "/var/lib/success-metrics"
    assert f"sm-data:{data}" in loader["volumes"] and f"sm-data:{data}" in server["volumes"]
    assert server["environment"]["SM_CONFIG"] == f"{data}/demo-config.yaml"
    assert server["command"][:1] == ["serve"] and "0.0.0.0" in server["command"]


def test_grafana_gets_both_plugins_and_every_dashboard_in_its_providers_folder() -> None:
    grafana = compose()["services"]["grafana"]
    assert set(grafana["environment"]["GF_INSTALL_PLUGINS"].split(",")) == PLUGINS
    mounts = dict(v.removesuffix(":ro").split(":", 1) for v in grafana["volumes"])
    providers = {}
    for path in (ROOT / "grafana-provisioning" / "dashboards").glob("*.yaml"):
        for provider in yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]:
            providers[provider["name"]] = provider["options"]["path"]
    json_api = {f"{providers['success-metrics']}/{p.name}" for p in (ROOT / "dashboards").glob("*.json")}
    assert json_api and json_api <= set(mounts.values())
    assert mounts["../dashboards/infinity"] == providers["success-metrics-infinity"]
    assert mounts["../grafana-provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"
    assert mounts["../grafana-provisioning/alerting"] == "/etc/grafana/provisioning/alerting"
    # the data sources the dashboards and alert rules name, pointed at the service in the compose network
    sources = yaml.safe_load((DEPLOY / "compose" / "grafana" / "datasources.yaml").read_text(encoding="utf-8"))
    assert {(d["uid"], d["type"], d["url"]) for d in sources["datasources"]} == {
        ("success-metrics", "simpod-json-datasource", "http://success-metrics:8080"),
        ("success-metrics-infinity", "yesoreyeram-infinity-datasource", "http://success-metrics:8080")}
    assert grafana["depends_on"]["success-metrics"]["condition"] == "service_healthy"


# ── kubernetes ───────────────────────────────────────────────────────────────────────────────

def test_manifests_follow_the_kubernetes_schemas() -> None:
    docs = manifests()
    assert {d["kind"] for d in docs} == {"Deployment", "Service", "Secret", "ConfigMap"}
    assert {d["metadata"]["name"]: manifest_errors(d) for d in docs} == {d["metadata"]["name"]: [] for d in docs}


def test_the_manifest_schema_check_catches_a_misspelt_field_and_a_wrong_type() -> None:
    doc = copy.deepcopy(by_kind("Deployment"))
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    doc["spec"]["replicas"] = "two"
    errors = " ".join(manifest_errors(doc))
    assert "readinesProbe" in errors and "'two'" in errors


def test_deployment_probes_keys_and_config_fit_the_service(tmp_path: Path) -> None:
    deployment = by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["args"] == ["serve", "--host", "0.0.0.0", "--port", str(port["http"])]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["envFrom"] == [{"secretRef": {"name": by_kind("Secret")["metadata"]["name"]}}]
    assert "DATABASE_URL" in by_kind("Secret")["stringData"]  # a server install has no embedded database
    env = {e["name"]: e["value"] for e in container["env"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    config_dir, config_file = env["SM_CONFIG"].rsplit("/", 1)
    config_map = by_kind("ConfigMap")
    assert volumes[mounts[config_dir]]["configMap"]["name"] == config_map["metadata"]["name"]
    assert env["SM_DATA_DIR"] in mounts  # writable: the root filesystem is read-only
    service = by_kind("Service")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    # the ConfigMap's SM_CONFIG is one the service accepts
    path = tmp_path / config_file
    path.write_text(config_map["data"][config_file], encoding="utf-8")
    settings = load_settings({"SM_CONFIG": str(path), "DATABASE_URL": "postgresql://sm@db/sm"})
    assert settings.port == port["http"] and [t.id for t in settings.tenants] == ["acme"]


# ── Dockerfile ───────────────────────────────────────────────────────────────────────────────

def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, args = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), args.strip()))
    return stages


def test_dockerfile_is_multi_stage_and_runs_the_server_install_unprivileged_with_a_healthcheck() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    build, final = stages[0], stages[-1]
    build_name = build[0][1].split(" AS ")[-1]
    assert any(i == "RUN" and "pip install ." in a and "[embedded]" not in a for i, a in build)
    assert any(i == "COPY" and a.startswith(f"--from={build_name} ") for i, a in final)
    assert not any(i in ("RUN",) and "pip install" in a for i, a in final)  # no build tools in the image
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    (healthcheck,) = [a for i, a in final if i == "HEALTHCHECK"]
    assert "CMD" in healthcheck and "/healthz" in healthcheck
    cmd = json.loads(next(a for i, a in final if i == "CMD"))
    entry = json.loads(next(a for i, a in final if i == "ENTRYPOINT"))
    assert entry == ["success-metrics"] and cmd[0] == "serve" and "0.0.0.0" in cmd
    port = cmd[cmd.index("--port") + 1]
    assert f"127.0.0.1:{port}/healthz" in healthcheck
    assert any(i == "EXPOSE" and a == port for i, a in final)
    # what the build copies is in the repository
    for i, a in build:
        if i == "COPY" and not a.startswith("--"):
            for source in shlex.split(a)[:-1]:
                assert (ROOT / source).exists(), source
