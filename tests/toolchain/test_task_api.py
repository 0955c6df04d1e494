"""The server's task API runs the exported folders as they are (random weights: the answers
are meaningless, but every task completes and speaks in the folder's own labels)."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from PIL import Image

from clients.client import Client


def png(width: int, height: int, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def wav(seconds: float, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def labels(folder) -> list[str]:
    return (folder / "labels.txt").read_text().splitlines()


@pytest.fixture(scope="module")
def client(server):
    with Client(server.grpc_url) as connected:
        yield connected


def test_classify(client, exported) -> None:
    (folder,) = exported["mobilenet_v3_small"]
    result = client.classify(png(97, 61), model=folder.name, top_k=3)
    assert len(result.classes) == 3 and result.top.label in labels(folder)


def test_detect_maps_boxes_to_the_original_image(client, exported) -> None:
    (folder,) = exported["fasterrcnn_mobilenet_v3_large_320_fpn"]
    result = client.detect(png(200, 120), model=folder.name, score_threshold=0.0)
    assert (result.width, result.height) == (200, 120)
    assert all(d.label in labels(folder) for d in result.detections)


def test_segment_returns_a_map_of_the_original_size(client, exported) -> None:
    (folder,) = exported["lraspp_mobilenet_v3_large"]
    result = client.segment(png(75, 50), model=folder.name)
    assert result.class_map.shape == (50, 75)
    assert {share.label for share in result.shares} <= set(labels(folder))


@pytest.mark.parametrize(
    "export_name", ["vision_encoder_decoder", "vision_encoder_decoder_full_sequence"]
)
def test_caption_uses_the_vocabulary(client, exported, export_name: str) -> None:
    encoder, _ = exported[export_name]
    result = client.caption(png(40, 40), model=encoder.name, max_tokens=5)
    vocabulary = set((encoder / "vocabulary.txt").read_text().split())
    assert set(result.text.split()) <= vocabulary


def test_answer_a_question(client, exported) -> None:
    (folder,) = exported["vilt_vqa"]
    result = client.ask(png(64, 48), "what color is the circle", model=folder.name, top_k=2)
    assert len(result.answers) == 2 and all(a.text in labels(folder) for a in result.answers)


@pytest.mark.parametrize("architecture", ["whisper", "wav2vec2_ctc"])
def test_transcribe(client, exported, architecture: str) -> None:
    folder = exported[architecture][0]
    result = client.transcribe(wav(1.5), model=folder.name)
    assert result.duration_s == pytest.approx(1.5, abs=0.01)
    assert isinstance(result.text, str)
