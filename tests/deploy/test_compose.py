"""docker-compose.yml: valid against the Compose spec, and consistent with the images, the
server's CLI, the Prometheus and Envoy configs and the files it mounts."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml

from .conftest import ROOT, Dockerfile, ServerCli, parse_dockerfile, tool

SERVERS = ("striate", "striate-cpu", "striate-replica")


def _image_of(service: dict) -> Dockerfile:
    return parse_dockerfile(ROOT / service["build"]["context"] / service["build"]["dockerfile"])


def _server_flags(service: dict, server_cli: ServerCli) -> dict[str, str]:
    return server_cli.flags_of(_image_of(service).exec_form("CMD")[3:])


def _published(service: dict) -> dict[str, str]:
    """Container port -> host port, for `HOST:CONTAINER` or `IP:HOST:CONTAINER` entries."""
    pairs = [str(p).rsplit(":", 2)[-2:] for p in service.get("ports", [])]
    return {container: host for host, container in pairs}


def _grace_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return float(text)


def test_matches_the_compose_spec() -> None:
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
         str(ROOT / "docker-compose.yml")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _compose_config(options: tuple[str, ...] = (), services: tuple[str, ...] = (),
                    env: dict[str, str] | None = None) -> dict:
    """The model Docker Compose itself resolves (profiles, merges, interpolation) for `up`
    with these options and services; needs no engine."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRIATE_", "COMPOSE_"))}
    result = subprocess.run(
        [tool("docker-compose"), *options, "config", "--format", "json", *services],
        cwd=ROOT, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_docker_compose_accepts_every_profile() -> None:
    resolved = _compose_config(("--profile", "cpu", "--profile", "scale"))
    assert set(resolved["services"]) == set(yaml.safe_load(
        (ROOT / "docker-compose.yml").read_text())["services"])
    assert resolved["services"]["striate-replica"]["deploy"]["replicas"] >= 2, "several replicas"


def test_plain_up_starts_the_gpu_server_and_monitoring_only() -> None:
    services = set(_compose_config()["services"])
    assert services == {"striate", "prometheus", "grafana"}


def test_default_service_reserves_the_gpu(compose: dict) -> None:
    striate = compose["services"]["striate"]
    assert "profiles" not in striate, "`docker compose up` must start the GPU server"
    devices = striate["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert _image_of(striate).path.name == "Dockerfile.gpu"


def test_cpu_profile_uses_the_cpu_image_without_a_gpu(compose: dict) -> None:
    cpu = compose["services"]["striate-cpu"]
    assert cpu["profiles"] == ["cpu"]
    assert "deploy" not in cpu
    assert _image_of(cpu).path.name == "Dockerfile"


@pytest.mark.parametrize("name", SERVERS)
def test_server_ports_match_the_image(name: str, compose: dict, server_cli: ServerCli) -> None:
    service = compose["services"][name]
    flags = _server_flags(service, server_cli)
    wanted = {flags["--grpc-port"], flags["--http-port"]}
    exposed = set(_image_of(service).final.last("EXPOSE").split())
    assert wanted == exposed
    if name == "striate-replica":
        assert {str(p) for p in service["expose"]} == wanted
    else:
        assert _published(service) == {port: port for port in wanted}


@pytest.mark.parametrize("name", SERVERS)
def test_repository_is_mounted_read_only(name: str, compose: dict,
                                         server_cli: ServerCli) -> None:
    service = compose["services"][name]
    repository = _server_flags(service, server_cli)["--model-repository"]
    mounts = [v.split(":") for v in service["volumes"]]
    host, target, mode = next(m for m in mounts if m[1] == repository)
    assert mode == "ro"
    assert (ROOT / host).is_dir()
    assert host.removeprefix("./") == server_cli.defaults["--model-repository"], \
        "compose serves the same folder as `make serve`"


@pytest.mark.parametrize("name", SERVERS)
def test_health_check_is_the_image_health_check(name: str, compose: dict) -> None:
    service = compose["services"][name]
    assert service["healthcheck"]["test"] == ["CMD", *_image_of(service).exec_form("HEALTHCHECK")]


@pytest.mark.parametrize("name", SERVERS)
def test_restarts_and_stops_gracefully(name: str, compose: dict, server_cli: ServerCli) -> None:
    service = compose["services"][name]
    assert service["restart"] in ("always", "unless-stopped", "on-failure")
    grace = float(server_cli.defaults["--shutdown-grace"])
    assert _grace_seconds(service["stop_grace_period"]) > grace


def test_mounted_files_exist(compose: dict) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is missing"


def _mounted_config(compose: dict, service: str, target_suffix: str) -> dict:
    for volume in compose["services"][service]["volumes"]:
        source, target = volume.split(":")[:2]
        if target.endswith(target_suffix):
            return yaml.safe_load((ROOT / source).read_text())
    raise AssertionError(f"{service} mounts no {target_suffix}")


def test_prometheus_scrapes_every_server(compose: dict, server_cli: ServerCli) -> None:
    config = _mounted_config(compose, "prometheus", "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert len(jobs) == len(config["scrape_configs"]), "job names must be unique"
    striate = jobs["striate"]
    assert striate.get("metrics_path", "/metrics") == "/metrics"
    discovered = striate["dns_sd_configs"]
    names = {n for sd in discovered for n in sd["names"]}
    assert names == set(SERVERS) and names <= compose["services"].keys()
    assert {str(sd["port"]) for sd in discovered} == {server_cli.defaults["--http-port"]}
    assert all(sd["type"] == "A" for sd in discovered)


def test_prometheus_config_is_well_formed(compose: dict) -> None:
    config = _mounted_config(compose, "prometheus", "prometheus.yml")
    assert set(config) <= {"global", "scrape_configs", "rule_files", "alerting"}
    for job in config["scrape_configs"]:
        discovery = {k for k in job if k.endswith("_sd_configs") or k == "static_configs"}
        assert discovery, f"job {job['job_name']} has no targets"
        for sd in job.get("static_configs", []):
            assert all(":" in target for target in sd["targets"])
    command = compose["services"]["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command


def test_envoy_balances_grpc_over_the_replicas(compose: dict, server_cli: ServerCli) -> None:
    envoy = compose["services"]["envoy"]
    assert envoy["profiles"] == compose["services"]["striate-replica"]["profiles"] == ["scale"]
    assert "striate-replica" in envoy["depends_on"]
    config = _mounted_config(compose, "envoy", "envoy.yaml")
    (cluster,) = config["static_resources"]["clusters"]
    options = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    assert "http2_protocol_options" in options["explicit_http_config"], "gRPC needs HTTP/2"
    assert cluster["type"] == "STRICT_DNS", "one endpoint per replica address"
    (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    address = endpoint["endpoint"]["address"]["socket_address"]
    assert address["address"] == "striate-replica"
    assert str(address["port_value"]) == server_cli.defaults["--grpc-port"]
    health = cluster["health_checks"][0]
    assert health["http_health_check"]["path"] == "/v2/health/ready"
    health_port = endpoint["endpoint"]["health_check_config"]["port_value"]
    assert str(health_port) == server_cli.defaults["--http-port"]


def test_envoy_listens_where_compose_publishes(compose: dict) -> None:
    config = _mounted_config(compose, "envoy", "envoy.yaml")
    listening = {str(listener["address"]["socket_address"]["port_value"])
                 for listener in config["static_resources"]["listeners"]}
    listening.add(str(config["admin"]["address"]["socket_address"]["port_value"]))
    assert set(_published(compose["services"]["envoy"])) == listening
    for listener in config["static_resources"]["listeners"]:
        (chain,) = listener["filter_chains"]
        manager = chain["filters"][0]["typed_config"]
        routes = manager["route_config"]["virtual_hosts"][0]["routes"]
        clusters = {c["name"] for c in config["static_resources"]["clusters"]}
        assert {r["route"]["cluster"] for r in routes} <= clusters


def _documented_up_commands() -> list[tuple[dict[str, str], list[str], list[str]]]:
    """(environment, options, services) of each `docker compose ... up` line of the docs."""
    found = []
    for line in (ROOT / "docs" / "deploy.md").read_text().splitlines():
        match = re.match(r"((?:\w+=\S+ )*)docker compose ((?:--\S+ \S+ )*)up(?: -d)?([\w -]*)",
                         line)
        if match:
            env = dict(pair.split("=", 1) for pair in match.group(1).split())
            found.append((env, match.group(2).split(), match.group(3).split()))
    return found


@pytest.mark.parametrize("env,options,services", _documented_up_commands(),
                         ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_documented_commands_start_services_without_port_clashes(
        env: dict[str, str], options: list[str], services: list[str]) -> None:
    resolved = _compose_config(tuple(options), tuple(services), env)["services"]
    if services:
        assert set(services) <= set(resolved)
    published = [port["published"] for service in resolved.values()
                 for port in service.get("ports", [])]
    assert len(published) == len(set(published)), f"host ports clash: {sorted(published)}"
    if "striate-cpu" in services:
        assert not [s for s in resolved.values() if "deploy" in s], "no GPU on this path"
