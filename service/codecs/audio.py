"""Audio decoding: WAV (8/16/24/32-bit PCM, float) and FLAC with soundfile, to mono float32."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile
import soxr

from ..errors import InvalidInput

SUPPORTED_FORMATS = ("WAV", "WAVEX", "FLAC")
MIN_RATE, MAX_RATE = 8_000, 384_000
MAX_CHANNELS = 8


@dataclass(frozen=True)
class AudioLimits:
    """What an uploaded recording may be."""

    max_seconds: float = 300.0


def _reason(exc: Exception) -> str:
    """libsndfile's own words, without the file object's repr."""
    return getattr(exc, "error_string", None) or str(exc)


def _info(data: bytes) -> soundfile._SoundFileInfo:
    if not data:
        raise InvalidInput("the audio is empty; send the bytes of a WAV or FLAC file")
    try:
        return soundfile.info(io.BytesIO(data))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise InvalidInput(
            "the audio could not be read as WAV or FLAC (unsupported format, or corrupt): "
            f"{_reason(exc)}"
        ) from exc


def _read(data: bytes, max_frames: int) -> tuple[np.ndarray, int]:
    try:
        samples, rate = soundfile.read(io.BytesIO(data), frames=max_frames, dtype="float32",
                                       always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        raise InvalidInput(
            f"the audio could not be decoded (corrupt or truncated): {_reason(exc)}"
        ) from exc
    return samples, rate


def resample(audio: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling of a 1-D signal with soxr's polyphase filter (memory linear in
    the signal, unlike one FFT of all of it)."""
    if rate == target_rate or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio.astype(np.float32, copy=False), rate, target_rate, quality="HQ")


def _checked_info(data: bytes, limits: AudioLimits) -> soundfile._SoundFileInfo:
    """The header, checked: format, sample rate, channels and duration within the limits."""
    info = _info(data)
    if info.format not in SUPPORTED_FORMATS:
        raise InvalidInput(f"unsupported audio format {info.format}; send WAV or FLAC")
    if info.frames <= 0 or info.samplerate <= 0:
        raise InvalidInput("the audio has no samples; send a recording at least a moment long")
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise InvalidInput(f"the audio header gives a sample rate of {info.samplerate} Hz; "
                           f"send {MIN_RATE} to {MAX_RATE} Hz")
    if info.channels > MAX_CHANNELS:
        raise InvalidInput(f"the audio has {info.channels} channels; send at most {MAX_CHANNELS}")
    seconds = info.frames / info.samplerate
    if seconds > limits.max_seconds:
        raise InvalidInput(
            f"the recording lasts {seconds:.1f} s; the limit is {limits.max_seconds:.0f} s: "
            "send a shorter one"
        )
    return info


def audio_memory_estimate(data: bytes, target_rate: int,
                          limits: AudioLimits = AudioLimits()) -> int:
    """Bytes decode_audio will hold at most for this upload, from its header (checked)."""
    info = _checked_info(data, limits)
    frames = min(info.frames, int(limits.max_seconds * info.samplerate))
    decoded = frames * info.channels * 4  # float32 samples of every channel
    mono = frames * 4
    resampled = int(frames * target_rate / info.samplerate) * 4
    return decoded + mono + resampled


def decode_audio(data: bytes, target_rate: int, limits: AudioLimits = AudioLimits()) -> np.ndarray:
    """Bytes of a WAV or FLAC file -> mono float32 samples in [-1, 1] at `target_rate` Hz.

    Stereo (or more channels) is averaged to mono. Raises InvalidInput for empty, unsupported,
    corrupt, silent-length or too long recordings, and sample rates outside 8 to 384 kHz;
    never reads more frames than the limit's duration at the header's rate.
    """
    info = _checked_info(data, limits)
    samples, rate = _read(data, int(limits.max_seconds * info.samplerate))
    if samples.size == 0:
        raise InvalidInput("the audio has no samples; send a recording at least a moment long")
    if not np.isfinite(samples).all():
        raise InvalidInput("the audio holds NaN or infinite samples; send a valid recording")
    mono = samples.mean(axis=1)
    return resample(mono, rate, target_rate)
