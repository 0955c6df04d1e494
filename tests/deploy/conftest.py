"""Shared facts for the deployment checks: the repository, the server's CLI, the Dockerfiles.

Nothing here imports `service`: the server's flags and defaults are read from the output of
`python -m service --help`, run in a subprocess, so the checks compare the deployment files
with what the server really accepts.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent


def tool(name: str) -> str:
    """Path of a command-line tool installed by the test extra; fails the test if missing."""
    found = shutil.which(name, path=f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        pytest.fail(f"{name} is not installed: run `make install-test` (pyproject's test extra)")
    return found


def load_yaml_documents(path: Path) -> list[dict]:
    """Every non-empty YAML document in a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@dataclass
class ServerCli:
    """The server's flags, as `python -m service --help` prints them."""

    defaults: dict[str, str | None]
    choices: dict[str, list[str]]

    def flags_of(self, argv: list[str]) -> dict[str, str]:
        """Map each `--flag value` of an argument list to its value; unknown flags fail."""
        values = {}
        for index, arg in enumerate(argv):
            if not arg.startswith("--"):
                continue
            assert arg in self.defaults, f"{arg} is not a flag of `python -m service`"
            values[arg] = argv[index + 1]
            if arg in self.choices:
                assert values[arg] in self.choices[arg], f"{arg} {values[arg]} is not allowed"
        return values


def _parse_help(text: str) -> ServerCli:
    defaults: dict[str, str | None] = {}
    choices: dict[str, list[str]] = {}
    options = text.split("options:", 1)[1]
    for block in re.split(r"\n(?=  -)", options):
        words = " ".join(block.split())
        flag = re.match(r"(?:-\w, )?(--[\w-]+)", words)
        if flag is None:
            continue
        default = re.search(r"\(default: ([^)]*)\)", words)
        defaults[flag.group(1)] = default.group(1) if default else None
        listed = re.match(r"--[\w-]+ \{([^}]*)\}", words)
        if listed:
            choices[flag.group(1)] = listed.group(1).split(",")
    return ServerCli(defaults, choices)


def cli_of(*command: str) -> ServerCli:
    """Flags of a command of this repository (run with this Python), read from its --help."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIATE_")}
    result = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return _parse_help(result.stdout)


@pytest.fixture(scope="session")
def server_cli() -> ServerCli:
    return cli_of("-m", "service")


@dataclass
class Stage:
    """One stage of a Dockerfile: its base image and its instructions in order."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]


@dataclass
class Dockerfile:
    path: Path
    args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def exec_form(self, keyword: str) -> list[str]:
        """The JSON (exec) form of the final stage's CMD or HEALTHCHECK CMD."""
        text = self.final.last(keyword)
        if keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1]
        return json.loads(text)


def parse_dockerfile(path: Path) -> Dockerfile:
    """Instructions grouped by stage, continuation lines joined and comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, value = rest.partition("=")
            args[name] = value
        elif keyword == "FROM":
            words = shlex.split(rest)
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            stages.append(Stage(base, words[2] if len(words) > 2 else None))
        else:
            stages[-1].instructions.append((keyword, rest))
    return Dockerfile(path, args, stages)


@pytest.fixture(scope="session")
def cpu_dockerfile() -> Dockerfile:
    return parse_dockerfile(ROOT / "docker" / "Dockerfile")


@pytest.fixture(scope="session")
def gpu_dockerfile() -> Dockerfile:
    return parse_dockerfile(ROOT / "docker" / "Dockerfile.gpu")


@pytest.fixture(scope="session", params=["Dockerfile", "Dockerfile.gpu"])
def dockerfile(request) -> Dockerfile:
    return parse_dockerfile(ROOT / "docker" / request.param)


@pytest.fixture(scope="session")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="session")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())
