"""bench/gpu.sh runs only on a GPU machine; here it is linted and its calls are checked
against the current command-line interfaces of the tools it drives."""

from __future__ import annotations

import re
import subprocess

import pytest

from .conftest import ROOT, cli_of, tool

SCRIPT = ROOT / "bench" / "gpu.sh"


def _invocations(marker: str) -> list[str]:
    """Each shell command (continuation lines joined) of the script that contains `marker`."""
    text = re.sub(r"\\\n\s*", " ", SCRIPT.read_text())
    return [line for line in text.splitlines() if marker in line and not line.lstrip()
            .startswith("#")]


def _flags(command: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][\w-]*", command))


def test_shellcheck_finds_nothing() -> None:
    result = subprocess.run([tool("shellcheck"), str(SCRIPT)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("marker,command", [
    ('"$PYTHON" -m service', ("-m", "service")),
    ("py_gpu bench/load.py", ("bench/load.py",)),
    ('"$PYTHON" -m toolchain export', ("-m", "toolchain", "export")),
])
def test_calls_use_existing_flags(marker: str, command: tuple[str, ...]) -> None:
    (invocation,) = _invocations(marker)
    known = set(cli_of(*command).defaults)
    assert _flags(invocation) <= known, f"unknown: {_flags(invocation) - known}"


def test_the_table_reads_every_measurement() -> None:
    text = SCRIPT.read_text()
    runs = set(re.findall(r"^\s*measure ([\w-]+) ", text, re.M))
    table = re.search(r'for name in \(([^)]*)\)', text).group(1)
    assert runs == set(re.findall(r'"([\w-]+)"', table))
