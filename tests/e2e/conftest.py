"""A real server on a repository of tiny models (and one on the zoo where it has landed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients import Client
from tests.e2e.tiny_models import build_repository
from tests.support.server import running_server

ZOO = Path(__file__).resolve().parents[2] / "exported_models"


@pytest.fixture(scope="session")
def tiny_repository(tmp_path_factory) -> Path:
    return build_repository(tmp_path_factory.mktemp("tiny_repository"))


@pytest.fixture(scope="session")
def tiny_server(tiny_repository):
    with running_server(tiny_repository) as server:
        yield server


@pytest.fixture()
def client(tiny_server):
    with Client(tiny_server.grpc_url, timeout_s=60) as client:
        yield client
