"""The deploy files show how to turn the locks on (TLS, bearer tokens), with settings the server
knows and files they mount."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from .conftest import ROOT, ServerCli, load_yaml_documents
from .test_compose import _compose_config

LOCK_FLAGS = ("--tls-cert", "--tls-key", "--token-file")
LOCKED_COMPOSE = ("-f", "docker-compose.yml", "-f", "deploy/compose/locked.yml",
                  "--profile", "cpu")


def _deployment_container() -> tuple[dict, dict]:
    documents = load_yaml_documents(ROOT / "deploy/kubernetes/plain/deployment.yaml")
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return pod, container


def test_kubernetes_deployment_reads_tls_and_tokens_from_secrets(server_cli: ServerCli) -> None:
    pod, container = _deployment_container()
    flags = server_cli.flags_of(container["args"])
    secret_volumes = {v["name"] for v in pod["volumes"] if "secret" in v}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    for flag in LOCK_FLAGS:
        folder = str(PurePosixPath(flags[flag]).parent)
        assert mounts.get(folder) in secret_volumes, f"{flag} {flags[flag]} is not in a Secret"


def test_kubernetes_probes_speak_https() -> None:
    _, container = _deployment_container()
    for name in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[name]["httpGet"]["scheme"] == "HTTPS", name


@pytest.fixture(scope="module")
def locked_compose() -> dict:
    return _compose_config(LOCKED_COMPOSE, ("striate-cpu",))


def test_compose_override_sets_known_settings_to_its_secrets(locked_compose: dict,
                                                             server_cli: ServerCli) -> None:
    service = locked_compose["services"]["striate-cpu"]
    targets = {f"/run/secrets/{s['source']}" for s in service["secrets"]}
    locks = {k: v for k, v in service["environment"].items() if k.startswith("STRIATE_")}
    assert locks, "the override sets no STRIATE_ setting"
    for variable, path in locks.items():
        flag = "--" + variable.removeprefix("STRIATE_").lower().replace("_", "-")
        assert flag in server_cli.defaults, f"{variable} is not a server setting"
        assert path in targets, f"{variable}={path} is not a mounted secret"
    assert set(LOCK_FLAGS) <= {"--" + v.removeprefix("STRIATE_").lower().replace("_", "-")
                               for v in locks}


def test_compose_override_health_check_uses_https(locked_compose: dict) -> None:
    check = " ".join(locked_compose["services"]["striate-cpu"]["healthcheck"]["test"])
    assert "https://127.0.0.1:8000/v2/health/ready" in check
