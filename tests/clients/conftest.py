"""A real server on the tiny task models for the CLI tests."""

from __future__ import annotations

import pytest

from tests.e2e.tiny_models import build_repository
from tests.support.server import running_server


@pytest.fixture(scope="session")
def tiny_server(tmp_path_factory):
    repository = build_repository(tmp_path_factory.mktemp("tiny_repository"))
    with running_server(repository) as server:
        yield server
