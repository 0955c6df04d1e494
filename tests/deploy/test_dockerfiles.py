"""The images: hadolint-clean, slim, non-root, and their command agrees with the server's CLI."""

from __future__ import annotations

import re
import subprocess
import urllib.parse

from .conftest import ROOT, Dockerfile, ServerCli, tool

COMPILERS = ("gcc", "g++", "build-essential", "clang", "cmake")


def test_hadolint_finds_nothing(dockerfile: Dockerfile) -> None:
    result = subprocess.run([tool("hadolint"), str(dockerfile.path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_command_is_the_server_with_known_flags(dockerfile: Dockerfile,
                                                server_cli: ServerCli) -> None:
    command = dockerfile.exec_form("CMD")
    assert command[:3] == ["python", "-m", "service"]
    flags = server_cli.flags_of(command[3:])
    assert {"--model-repository", "--grpc-port", "--http-port"} <= flags.keys()


def test_ports_are_exposed(dockerfile: Dockerfile, server_cli: ServerCli) -> None:
    flags = server_cli.flags_of(dockerfile.exec_form("CMD")[3:])
    exposed = dockerfile.final.last("EXPOSE").split()
    assert sorted(exposed) == sorted([flags["--grpc-port"], flags["--http-port"]])


def test_repository_is_a_volume(dockerfile: Dockerfile, server_cli: ServerCli) -> None:
    flags = server_cli.flags_of(dockerfile.exec_form("CMD")[3:])
    assert f'"{flags["--model-repository"]}"' in dockerfile.final.last("VOLUME")


def test_healthcheck_asks_for_readiness_on_the_http_port(dockerfile: Dockerfile,
                                                         server_cli: ServerCli) -> None:
    flags = server_cli.flags_of(dockerfile.exec_form("CMD")[3:])
    probe = dockerfile.exec_form("HEALTHCHECK")
    assert probe[:2] == ["python", "-c"], "slim images have no curl: probe with urllib"
    url = urllib.parse.urlparse(re.search(r"'(http://[^']+)'", probe[2]).group(1))
    assert url.hostname == "127.0.0.1"
    assert str(url.port) == flags["--http-port"]
    assert url.path == "/v2/health/ready"


def test_runs_as_a_non_root_user(dockerfile: Dockerfile) -> None:
    user = dockerfile.final.last("USER").split(":")[0]
    assert user.isdigit() and int(user) > 0, "a numeric uid lets Kubernetes check runAsNonRoot"


def test_final_stage_only_copies_the_built_environment(dockerfile: Dockerfile) -> None:
    final = dockerfile.final
    runs = " ".join(final.all("RUN"))
    assert "pip install" not in runs
    assert not any(re.search(rf"\b{re.escape(name)}\b", runs) for name in COMPILERS)
    copies = final.all("COPY")
    assert copies and all(c.startswith("--from=") for c in copies)


def test_installs_the_server_extra_without_torch(dockerfile: Dockerfile,
                                                 pyproject: dict) -> None:
    installs = " ".join(dockerfile.stages[0].all("RUN"))
    assert '".[server]"' in installs
    project = pyproject["project"]
    served = project["dependencies"] + project["optional-dependencies"]["server"]
    assert not [d for d in served if re.match(r"(torch|tensorflow)\b", d)]


def test_copied_sources_exist_and_pass_dockerignore(dockerfile: Dockerfile) -> None:
    ignore = (ROOT / ".dockerignore").read_text().split()
    for copy in dockerfile.stages[0].all("COPY"):
        for source in copy.split()[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
            if "*" in ignore:
                assert f"!{source}" in ignore, f"{source} is left out of the build context"


def test_cpu_image_is_slim_python(cpu_dockerfile: Dockerfile, server_cli: ServerCli) -> None:
    assert re.fullmatch(r"python:3\.\d+-slim.*", cpu_dockerfile.final.base)
    flags = server_cli.flags_of(cpu_dockerfile.exec_form("CMD")[3:])
    assert flags.get("--device", server_cli.defaults["--device"]) == "cpu"


def test_gpu_image_is_cuda_13_with_cudnn_and_runs_on_cuda(gpu_dockerfile: Dockerfile,
                                                          server_cli: ServerCli) -> None:
    assert re.fullmatch(r"nvidia/cuda:13\.[\d.]+-cudnn-runtime-ubuntu[\d.]+",
                        gpu_dockerfile.final.base)
    assert gpu_dockerfile.stages[0].base == gpu_dockerfile.final.base
    flags = server_cli.flags_of(gpu_dockerfile.exec_form("CMD")[3:])
    assert flags["--device"] == "cuda"


def test_gpu_image_swaps_onnxruntime_for_the_same_gpu_version(gpu_dockerfile: Dockerfile,
                                                               pyproject: dict) -> None:
    install = " ".join(gpu_dockerfile.stages[0].all("RUN"))
    order = [install.index(s) for s in ('".[server]"', "uninstall --yes onnxruntime", '".[gpu]"')]
    assert order == sorted(order)
    extras = pyproject["project"]["optional-dependencies"]
    cpu_pin = next(d for d in extras["server"] if re.match(r"onnxruntime\s*==", d))
    gpu_pin = next(d for d in extras["gpu"] if re.match(r"onnxruntime-gpu\s*==", d))
    assert cpu_pin.split("==")[1] == gpu_pin.split("==")[1]
