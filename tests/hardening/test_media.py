"""Uploads can't amplify into gigabytes: audio headers are checked (sample rate, channels,
duration) before decoding, and media decodes share a memory budget."""

from __future__ import annotations

import io
import shutil
import struct
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
import soundfile
from PIL import Image

from clients import Client, ClientError
from tests.e2e import media
from tests.e2e.tiny_models import CTC_VOCABULARY, energy_ctc
from tests.hardening.conftest import ZOO
from tests.support import models
from tests.support.server import running_server

SEGMENTER = "shapes_segmenter"
WORST_IMAGES = 8
BUDGET_SLACK = 1 << 30
"""Peak RSS may grow by the decode budget (1 GiB by default) plus this, for the requests'
own bytes, the model's arenas and Python's allocator."""


@pytest.fixture(scope="module")
def media_server(tmp_path_factory):
    repository = tmp_path_factory.mktemp("media-repository")
    shutil.copytree(ZOO / SEGMENTER, repository / SEGMENTER)
    folder = models.save(energy_ctc(), repository, "tiny_ctc", config=(
        'max_batch_size: 0\ninput [{ name: "audio" data_type: TYPE_FP32 dims: [-1] }]\n'
        'parameters { key: "task" value { string_value: "speech" } }\n'
        'parameters { key: "frontend" value { string_value: "waveform" } }\n'
        'parameters { key: "decoding" value { string_value: "ctc" } }\n'))
    (folder / "labels.txt").write_text("\n".join(CTC_VOCABULARY) + "\n")
    with running_server(repository) as server:
        yield server


@pytest.fixture()
def client(media_server):
    with Client(media_server.grpc_url, timeout_s=120) as client:
        yield client
    assert media_server.process.poll() is None
    with Client(media_server.grpc_url, timeout_s=60) as after:
        assert after.transcribe(media.wav(media.bursts(), 16_000)).text == "a a"


def _with_sample_rate(wav: bytes, rate: int) -> bytes:
    """The same WAV with its header's sample rate (and byte rate) rewritten."""
    assert wav[12:16] == b"fmt " and wav[22:24] == b"\x01\x00"  # PCM mono, canonical header
    block = struct.unpack("<H", wav[32:34])[0]
    return wav[:24] + struct.pack("<II", rate, rate * block) + wav[32:]


def test_wav_claiming_two_gigahertz_is_refused(client):
    recording = media.wav(np.zeros(2_000_000), 16_000)  # 4 MB: 2 ms at the claimed rate
    claimed = _with_sample_rate(recording, 2_000_000_000)
    assert soundfile.info(io.BytesIO(claimed)).samplerate == 2_000_000_000
    with pytest.raises(ClientError) as error:
        client.transcribe(claimed)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "8000 to 384000 Hz" in error.value.message


def test_resampling_keeps_the_words(client):
    for rate in (8_000, 44_100, 384_000):
        assert client.transcribe(media.wav(media.bursts(rate), rate)).text == "a a"


def _rss(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {key: int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM")}


def test_burst_of_huge_images_stays_within_the_budget(client, media_server):
    buffer = io.BytesIO()
    Image.new("RGB", (6000, 6000), (200, 30, 30)).save(buffer, format="PNG")
    image = buffer.getvalue()  # ~100 KB that decode to 108 MB of pixels
    before = _rss(media_server.process.pid)["VmRSS"]
    with ThreadPoolExecutor(WORST_IMAGES) as pool:
        results = list(pool.map(client.segment, [image] * WORST_IMAGES))
    assert all((r.width, r.height) == (6000, 6000) for r in results)
    growth = _rss(media_server.process.pid)["VmHWM"] - before
    print(f"peak RSS growth for {WORST_IMAGES} concurrent 6000x6000 segmentations: "
          f"{growth / 2**20:.0f} MiB")
    assert growth < (1 << 30) + BUDGET_SLACK
