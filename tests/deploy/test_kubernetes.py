"""deploy/kubernetes: core kinds valid against Kubernetes' schemas (kubernetes-validate), the
KServe resources checked field by field, and both consistent with the image and the CLI."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from .conftest import ROOT, ServerCli, load_yaml_documents, parse_dockerfile

MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").rglob("*.yaml"))
KSERVE_GROUP = "serving.kserve.io/"
KSERVE_MODEL_FIELDS = {"modelFormat", "runtime", "storageUri", "protocolVersion"}
# ComponentExtensionSpec: what a KServe predictor adds to a PodSpec.
KSERVE_PREDICTOR_FIELDS = {"model", "minReplicas", "maxReplicas", "scaleMetric", "scaleTarget",
                           "containerConcurrency", "timeout", "canaryTrafficPercent", "logger",
                           "batcher", "labels", "annotations", "deploymentStrategy"}


def _documents() -> list[tuple[Path, dict]]:
    return [(path, doc) for path in MANIFESTS for doc in load_yaml_documents(path)]


def _one(kind: str) -> dict:
    (found,) = [doc for _, doc in _documents() if doc["kind"] == kind]
    return found


def _validate_containers(containers: list[dict], **pod_spec) -> None:
    """Check containers (and Pod fields) against the core schemas by wrapping them in a Pod."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "check"},
           "spec": {"containers": containers, **pod_spec}}
    kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)


def _probe_paths(container: dict) -> dict[str, tuple[str, str]]:
    return {name: (probe["httpGet"]["path"], str(probe["httpGet"]["port"]))
            for name, probe in container.items() if name.endswith("Probe")}


def _port_number(container: dict, port: str) -> str:
    named = {p.get("name"): str(p["containerPort"]) for p in container.get("ports", [])}
    return named.get(port, port)


def test_manifests_exist() -> None:
    kinds = {doc["kind"] for _, doc in _documents()}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PersistentVolumeClaim",
            "ServingRuntime", "InferenceService"} <= kinds


@pytest.mark.parametrize(
    "path,doc", [(p, d) for p, d in _documents() if not d["apiVersion"].startswith(KSERVE_GROUP)],
    ids=lambda value: value.name if isinstance(value, Path) else value["kind"])
def test_core_kinds_match_the_kubernetes_schema(path: Path, doc: dict) -> None:
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_deployment_runs_the_server_with_known_flags(server_cli: ServerCli) -> None:
    (container,) = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "service"]
    flags = server_cli.flags_of(container["args"])
    ports = {p["name"]: str(p["containerPort"]) for p in container["ports"]}
    assert ports == {"grpc": flags["--grpc-port"], "http": flags["--http-port"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[flags["--model-repository"]]["readOnly"] is True


def test_deployment_probes_the_health_endpoints(server_cli: ServerCli) -> None:
    (container,) = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    http = server_cli.flags_of(container["args"])["--http-port"]
    probes = {name: (path, _port_number(container, port))
              for name, (path, port) in _probe_paths(container).items()}
    assert probes["readinessProbe"] == ("/v2/health/ready", http)
    assert probes["livenessProbe"] == ("/v2/health/live", http)


def test_deployment_matches_the_image_user_and_drain_time(server_cli: ServerCli) -> None:
    pod = _one("Deployment")["spec"]["template"]["spec"]
    image_user = parse_dockerfile(ROOT / "docker" / "Dockerfile.gpu").final.last("USER")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == image_user.split(":")[0]
    grace = float(server_cli.defaults["--shutdown-grace"])
    assert pod["terminationGracePeriodSeconds"] > grace


def test_deployment_mounts_the_model_claim() -> None:
    volumes = _one("Deployment")["spec"]["template"]["spec"]["volumes"]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in volumes
              if "persistentVolumeClaim" in v}
    assert claims == {_one("PersistentVolumeClaim")["metadata"]["name"]}


def test_services_and_autoscaler_select_the_deployment() -> None:
    deployment = _one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    port_names = {p["name"] for p in container["ports"]}
    services = [doc for _, doc in _documents() if doc["kind"] == "Service"]
    assert services
    for service in services:
        assert service["spec"]["selector"].items() <= labels.items()
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
        grpc = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
        assert grpc["appProtocol"] == "kubernetes.io/h2c"
    target = _one("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_serving_runtime_has_the_required_fields(server_cli: ServerCli) -> None:
    runtime = _one("ServingRuntime")
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1"
    spec = runtime["spec"]
    assert spec["supportedModelFormats"] and all("name" in f for f in spec["supportedModelFormats"])
    assert "v2" in spec["protocolVersions"]
    _validate_containers(spec["containers"])
    (container,) = spec["containers"]
    assert container["name"] == "kserve-container"
    assert container["command"] == ["python", "-m", "service"]
    flags = server_cli.flags_of(container["args"])
    assert flags["--model-repository"] == "/mnt/models", "KServe's storage initializer target"
    (port,) = container["ports"]
    assert (port["name"], str(port["containerPort"])) == ("h2c", flags["--grpc-port"])
    probes = _probe_paths(container)
    assert probes["readinessProbe"] == ("/v2/health/ready", flags["--http-port"])
    assert spec["annotations"]["prometheus.kserve.io/port"] == flags["--http-port"]


def test_inference_service_uses_the_runtime_over_grpc_v2() -> None:
    service = _one("InferenceService")
    runtime = _one("ServingRuntime")
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    formats = {(f["name"], f.get("version")) for f in runtime["spec"]["supportedModelFormats"]}
    assert (model["modelFormat"]["name"], model["modelFormat"].get("version")) in formats
    assert model["protocolVersion"] == "v2"
    (port,) = model["ports"]
    (runtime_port,) = runtime["spec"]["containers"][0]["ports"]
    assert port == runtime_port
    claim = _one("PersistentVolumeClaim")["metadata"]["name"]
    assert model["storageUri"].rstrip("/") == f"pvc://{claim}"
    container_fields = {k: v for k, v in model.items() if k not in KSERVE_MODEL_FIELDS}
    predictor = service["spec"]["predictor"]
    pod_fields = {k: v for k, v in predictor.items() if k not in KSERVE_PREDICTOR_FIELDS}
    _validate_containers([{"name": "kserve-container", **container_fields}], **pod_fields)
    assert predictor.get("scaleMetric", "cpu") in {"cpu", "memory", "concurrency", "rps"}
    assert 1 <= predictor["minReplicas"] <= predictor["maxReplicas"]
