"""Tiny configurations exported once per session, and one real server serving them.

The export runs in this process (it imports torch and the toolchain, never `service`); the
server runs in its own process and is reached through tritonclient, as a user would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import running_server
from toolchain.architectures import BuildOptions
from toolchain.exporter import ExportRequest, export

# The architectures the issue asks to be served and compared with PyTorch.
SERVED = [
    "resnet18",
    "mobilenet_v3_small",
    "alexnet",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "lraspp_mobilenet_v3_large",
    "vision_encoder_decoder",
    "vision_encoder_decoder_full_sequence",
    "vilt_vqa",
    "whisper",
    "wav2vec2_ctc",
]


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Architecture name -> the model folders its tiny export wrote (one repository)."""
    repository = tmp_path_factory.mktemp("exported")
    return {name: export(request(name, repository)) for name in SERVED}


def request(name: str, repository: Path) -> ExportRequest:
    """`<architecture>` or `<architecture>_full_sequence` (the decoder without a cache)."""
    if name.endswith("_full_sequence"):
        architecture = name.removesuffix("_full_sequence")
        options = BuildOptions(tiny=True, decoder_kind="full_sequence")
        return ExportRequest(architecture, repository, name=f"{name}_tiny", options=options)
    return ExportRequest(name, repository, options=BuildOptions(tiny=True))


@pytest.fixture(scope="session")
def server(exported: dict[str, list[Path]]):
    repository = next(iter(exported.values()))[0].parent
    with running_server(repository) as running:
        yield running
