"""Whisper base against a real server: speech in other languages is detected and transcribed in
its language, or translated into English; English-only models refuse what they can't do.

The clips are synthetic (espeak-ng), shipped in exported_models/samples/whisper_base with what
was said; whisper_base itself is built by `make speech-models` (`make test` builds it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from clients import Client, ClientError, StreamItem
from contract.wer import normalise_text, word_error_rate
from tests.support.server import running_server
from toolchain.whisper.languages import MAX_WORD_ERROR_RATE

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "exported_models"
SAMPLES = ZOO / "samples" / "whisper_base"
MODELS = ("whisper_base", "whisper_base_decoder", "whisper_tiny_en", "whisper_tiny_en_decoder")
GERMAN_WORDS = {"das", "wetter", "ist", "heute", "sehr", "schön", "und", "die", "sonne", "scheint"}


def _samples() -> list[dict]:
    return json.loads((SAMPLES / "expected.json").read_text())["samples"]


@pytest.fixture(scope="module")
def server():
    missing = [m for m in MODELS if not (ZOO / m / "1" / "model.onnx").exists()]
    if missing:
        pytest.skip(f"{missing} not built: run `make speech-models`")
    loads = [arg for model in MODELS for arg in ("--load-model", model)]
    with running_server(ZOO, "--model-control-mode", "explicit", *loads) as running:
        yield running


@pytest.fixture()
def client(server):
    with Client(server.grpc_url, timeout_s=120) as client:
        yield client


@pytest.mark.parametrize("sample", _samples(), ids=lambda s: s["language"])
def test_language_is_detected_and_the_text_is_in_it(client, sample):
    result = client.transcribe(SAMPLES / sample["audio"], model="whisper_base")
    assert result.language == sample["language"]
    assert result.language_probability > 0.5
    assert word_error_rate(sample["expected"], result.text) <= MAX_WORD_ERROR_RATE, result.text


def test_translate_gives_english(client):
    sample = next(s for s in _samples() if s["language"] == "de")
    result = client.transcribe(SAMPLES / sample["audio"], model="whisper_base", translate=True)
    assert result.language == "de"
    words = set(normalise_text(result.text))
    assert len(words & set(normalise_text(sample["meaning"]))) >= 3, result.text
    assert not words & GERMAN_WORDS, result.text


def test_a_named_language_is_used_not_detected(client):
    sample = next(s for s in _samples() if s["language"] == "fr")
    result = client.transcribe(SAMPLES / sample["audio"], model="whisper_base", language="fr")
    assert (result.language, result.language_probability) == ("fr", 0.0)
    assert word_error_rate(sample["expected"], result.text) <= MAX_WORD_ERROR_RATE


def test_unknown_language_is_refused_with_what_it_knows(client):
    audio = SAMPLES / _samples()[0]["audio"]
    with pytest.raises(ClientError) as error:
        client.transcribe(audio, model="whisper_base", language="xx")
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "'xx'" in error.value.message and "de" in error.value.message
    assert client.transcribe(audio, model="whisper_base").text


def test_english_only_model_refuses_other_languages_and_translation(client):
    audio = SAMPLES / _samples()[0]["audio"]
    for options in ({"language": "de"}, {"translate": True}):
        with pytest.raises(ClientError) as error:
            client.transcribe(audio, model="whisper_tiny_en", **options)
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "English only" in error.value.message
    assert client.transcribe(audio, model="whisper_tiny_en").language == "en"


def test_stream_carries_the_language_options(client):
    sample = next(s for s in _samples() if s["language"] == "es")
    items = [StreamItem("plain", "transcribe", SAMPLES / sample["audio"], "whisper_base"),
             StreamItem("english", "transcribe", SAMPLES / sample["audio"], "whisper_base",
                        options={"translate": True})]
    results = dict(client.stream(items))
    assert results["plain"].language == "es"
    assert word_error_rate(sample["expected"], results["plain"].text) <= MAX_WORD_ERROR_RATE
    assert word_error_rate(sample["meaning"], results["english"].text) < word_error_rate(
        sample["meaning"], results["plain"].text)


def test_cli_translates_and_shows_the_language(server):
    sample = next(s for s in _samples() if s["language"] == "de")
    done = subprocess.run(
        [sys.executable, "-m", "clients", "transcribe", str(SAMPLES / sample["audio"]),
         "--model", "whisper_base", "--translate", "--server", server.grpc_url],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[de (")
    assert not set(normalise_text(done.stdout.split("] ", 1)[1])) & GERMAN_WORDS


def test_other_languages_go_to_the_multilingual_model_by_default(client):
    audio = SAMPLES / next(s for s in _samples() if s["language"] == "de")["audio"]
    assert client.transcribe(audio).model == "whisper_tiny_en"  # the default for English
    assert client.transcribe(audio, language="de").model == "whisper_base"
    assert client.transcribe(audio, translate=True).model == "whisper_base"
