"""Sample clips for the served model: real recordings and synthesised sentences (16 kHz WAV),
and expected.json with what was said and what the model transcribes."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from tqdm import tqdm

from toolchain.whisper.audio import (
    SAMPLE_RATE,
    pcm16_to_float,
    pocketsphinx_recordings,
    read_audio,
    write_wav,
)
from toolchain.whisper.runtime import load_model_folder

# Real recordings (pocketsphinx-testdata, BSD-2) and sentences to synthesise (engine, voice).
SAMPLE_RECORDINGS = ("librivox/sense_and_sensibility_01_austen_64kb-0930",
                     "librivox/sense_and_sensibility_01_austen_64kb-0890", "cards/005")
SYNTHESISED = (
    ("flite", "rms", "The quick brown fox jumps over the lazy dog."),
    ("flite", "slt", "Please call Stella and ask her to bring these things with her."),
    ("espeak-ng", "en-gb", "Speech recognition turns spoken words into text."),
)


def _sample_file_name(recording_name: str) -> str:
    """'librivox/sense_and_sensibility_01_austen_64kb-0930' -> 'austen-0930.wav'."""
    stem = recording_name.removesuffix(".raw").replace(
        "librivox/sense_and_sensibility_01_austen_64kb", "austen")
    return stem.replace("/", "-") + ".wav"


def resample(audio: np.ndarray, rate: int) -> np.ndarray:
    """Band-limited resampling of a whole clip to 16 kHz (spectrum cut or zero-extended)."""
    if rate == SAMPLE_RATE:
        return audio
    length = round(audio.shape[0] * SAMPLE_RATE / rate)
    spectrum = np.fft.rfft(audio)[: length // 2 + 1]
    return (np.fft.irfft(spectrum, length) * length / audio.shape[0]).astype(np.float32)


def synthesise(engine: str, voice: str, text: str) -> np.ndarray:
    """16 kHz speech from espeak-ng or flite (Debian packages of the same names)."""
    if shutil.which(engine) is None:
        raise FileNotFoundError(f"{engine} is not installed: apt-get install {engine}")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "speech.wav"
        if engine == "flite":
            command = ["flite", "-voice", voice, "-t", text, "-o", str(path)]
        else:
            command = ["espeak-ng", "-v", voice, "-w", str(path), text]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        with wave.open(str(path), "rb") as reader:
            rate = reader.getframerate()
            pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    return resample(pcm16_to_float(pcm), rate)


def write_samples(model_folder: Path, out_dir: Path) -> Path:
    """Sample clips (real and synthesised, 16 kHz WAV) and expected.json with what was said
    and what this model transcribes."""
    runner = load_model_folder(model_folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    recordings = {r.name: r for r in pocketsphinx_recordings()}
    clips = []
    for key in SAMPLE_RECORDINGS:
        recording = recordings[key]
        file = _sample_file_name(key)
        source = "pocketsphinx-testdata (BSD-2, CMU): " + key
        clips.append((file, read_audio(recording.path), recording.transcript, "real", source))
    for index, (engine, voice, text) in enumerate(SYNTHESISED, start=1):
        clips.append((f"{engine}-{voice}-{index}.wav", synthesise(engine, voice, text), text,
                      "synthesised", f"{engine} -v {voice}"))
    samples = []
    for file, audio, said, kind, source in tqdm(clips, desc="samples", unit="clip"):
        write_wav(out_dir / file, audio)
        transcript = runner.transcribe(read_audio(out_dir / file))
        samples.append({"audio": file, "expected": said, "transcript": transcript,
                        "kind": kind, "source": source})
    document = {"model": model_folder.name, "task": "speech",
                "note": "expected: the words said; transcript: this model's greedy output",
                "samples": samples}
    (out_dir / "expected.json").write_text(json.dumps(document, indent=2) + "\n")
    return out_dir
