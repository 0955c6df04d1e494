"""One real server on the shipped zoo for the web tests (HTTP task API and the demo page)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.support.server import ROOT, running_server

ZOO = ROOT / "exported_models"
SAMPLES = ZOO / "samples"
# Above what the zoo sends (Whisper encoder outputs: 18 MB, in test_v2_rest_zoo); the 413 test
# sends headers only, so the limit costs nothing there
MAX_MESSAGE_MB = 64


@pytest.fixture(scope="package")
def zoo_server():
    with running_server(ZOO, "--max-message-mb", str(MAX_MESSAGE_MB)) as server:
        yield server


def post_file(url: str, data: bytes, filename: str = "upload",
              fields: dict[str, str] | None = None) -> tuple[int, dict, dict[str, str]]:
    """POST a multipart form (`file` plus text fields); returns status, JSON body, headers."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             .encode() for name, value in (fields or {}).items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                 .encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    return send(request)


def post_options(url: str, options: dict[str, str]) -> tuple[int, dict, dict[str, str]]:
    """POST a task that takes no file, its options in the query; returns status, JSON body,
    headers."""
    request = urllib.request.Request(f"{url}?{urllib.parse.urlencode(options)}", data=b"",
                                     method="POST")
    return send(request)


def send(request: urllib.request.Request) -> tuple[int, dict, dict[str, str]]:
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def served_models(server) -> set[str]:
    with urllib.request.urlopen(f"{server.http_url}/tasks", timeout=30) as response:
        return {model["name"] for model in json.loads(response.read())["models"]}


def sample_path(model: str, file: str) -> Path:
    return SAMPLES / model / file
