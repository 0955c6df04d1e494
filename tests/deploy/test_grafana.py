"""The Grafana dashboard: provisioned the way compose mounts it, reading the compose
Prometheus, and querying only metrics a real server exports."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as triton
import yaml
from onnx import TensorProto

from tests.support import models
from tests.support.server import running_server

from .conftest import ROOT

DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))


def _mount(compose: dict, target: str) -> Path:
    for volume in compose["services"]["grafana"]["volumes"]:
        source, mounted = volume.split(":")[:2]
        if mounted == target:
            return ROOT / source
    raise AssertionError(f"grafana mounts nothing at {target}")


def _queries(dashboard: dict) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


@pytest.fixture(scope="module")
def exported_metrics(tmp_path_factory) -> dict[str, str]:
    """Metric name (as the text exposition's TYPE lines give it) -> type, from /metrics of a
    real server after one request."""
    repository = tmp_path_factory.mktemp("repository")
    models.save(models.scale_model(TensorProto.FLOAT), repository, "scale")
    with running_server(repository) as server:
        client = triton.InferenceServerClient(server.grpc_url)
        request = triton.InferInput("x", [1, 4], "FP32")
        request.set_data_from_numpy(np.ones((1, 4), dtype=np.float32))
        client.infer("scale", [request])
        with urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10) as response:
            text = response.read().decode()
    assert re.search(r'^striate_\w+\{[^}]*model="scale"', text, re.M), text
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def test_dashboards_exist_and_are_provisioned(compose: dict) -> None:
    assert DASHBOARDS
    provisioning = _mount(compose, "/etc/grafana/provisioning")
    providers = yaml.safe_load((provisioning / "dashboards" / "striate.yml").read_text())
    paths = {p["options"]["path"] for p in providers["providers"]}
    assert paths == {"/var/lib/grafana/dashboards"}
    assert _mount(compose, "/var/lib/grafana/dashboards") == DASHBOARDS[0].parent


def test_data_source_is_the_compose_prometheus(compose: dict) -> None:
    provisioning = _mount(compose, "/etc/grafana/provisioning")
    (source,) = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    host, port = re.fullmatch(r"http://([\w-]+):(\d+)", source["url"]).groups()
    assert host in compose["services"]
    assert f"{port}:{port}" in compose["services"][host]["ports"]
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        uids = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
        assert uids == {source["uid"]}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_queries_use_metrics_the_server_exports(path: Path,
                                                exported_metrics: dict[str, str]) -> None:
    dashboard = json.loads(path.read_text())
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    counters = {name for name, kind in exported_metrics.items() if kind == "counter"}
    for query in _queries(dashboard):
        used = set(re.findall(r"\bstriate_\w+", query))
        assert used and used <= exported_metrics.keys(), f"{query}: {used} not all exported"
        if used & counters:
            assert "rate(" in query, f"{query}: a counter needs rate()"
