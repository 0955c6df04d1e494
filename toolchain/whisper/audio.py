"""16 kHz mono clips, and the real recordings of Debian's pocketsphinx-testdata with their
words."""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")


def pcm16_to_float(pcm: np.ndarray) -> np.ndarray:
    """16-bit PCM samples -> float32 in [-1, 1)."""
    return pcm.astype(np.float32) / 32768.0


def read_audio(path: Path) -> np.ndarray:
    """16 kHz mono 16-bit audio (WAV, or headerless .raw as pocketsphinx ships) as float32."""
    if path.suffix == ".raw":
        return pcm16_to_float(np.fromfile(path, dtype="<i2"))
    with wave.open(str(path), "rb") as reader:
        if (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) != (
            SAMPLE_RATE, 1, 2
        ):
            raise ValueError(f"{path}: expected 16 kHz mono 16-bit PCM")
        frames = reader.readframes(reader.getnframes())
    return pcm16_to_float(np.frombuffer(frames, dtype="<i2"))


def write_wav(path: Path, audio: np.ndarray) -> None:
    """float audio in [-1, 1] -> 16 kHz mono 16-bit WAV."""
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm.tobytes())


@dataclass(frozen=True)
class Recording:
    name: str
    path: Path
    transcript: str  # what the speaker says, lower case, words only


def _sphinx_transcripts(path: Path) -> dict[str, str]:
    """`<s> words </s> (id)` lines -> {id: words}."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"\s*(?:<s>)?(.*?)(?:</s>)?\s*\((\S+)\)\s*", line)
        if match:
            found[match.group(2)] = " ".join(match.group(1).split())
    return found


# Two recordings whose words the package states outside a transcription file: the JSGF
# grammar goforward.gram spells the sentence of goforward.raw, and TIDIGITS file names spell
# their digits (2934z: two nine three four zero).
_STATED_ELSEWHERE = {
    "goforward.raw": "go forward ten meters",
    "tidigits/dhd.2934z.raw": "two nine three four zero",
}


def pocketsphinx_recordings(data_dir: Path = POCKETSPHINX_DATA) -> list[Recording]:
    """The real recordings of Debian's pocketsphinx-testdata that come with their words
    (12 of its 14; numbers.raw and something.raw have none)."""
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir} is missing: apt-get install pocketsphinx-testdata")
    recordings = []
    for folder, listing in (("cards", "cards.transcription"), ("librivox", "transcription")):
        for key, words in _sphinx_transcripts(data_dir / folder / listing).items():
            path = data_dir / folder / f"{key}.wav"
            recordings.append(Recording(f"{folder}/{key}", path, words))
    for relative, words in _STATED_ELSEWHERE.items():
        recordings.append(Recording(relative, data_dir / relative, words))
    return [r for r in recordings if r.path.is_file()]
