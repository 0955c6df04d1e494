"""Whisper's log-mel front end in numpy: 16 kHz audio to the encoder's `input_features`.

The one implementation used by the server (task `speech`, `frontend: whisper_log_mel`) and by
the toolchain's verification. It reproduces Hugging Face's `WhisperFeatureExtractor`
(itself a port of OpenAI's `whisper/audio.py`): 25 ms Hann windows every 10 ms, power
spectrum, 80 Slaney mel bands up to 8 kHz, log10, a dynamic range of 8 decades, and the
scaling `(x + 4) / 4`. Audio is zero-padded or cut to 30 s, so the result is always
`[80, 3000]`.

This module imports numpy only, so the server needs no torch or librosa for it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80
CHUNK_SECONDS = 30
N_SAMPLES = SAMPLE_RATE * CHUNK_SECONDS  # 480 000 samples in one window
N_FRAMES = N_SAMPLES // HOP_LENGTH  # 3 000 frames

_SLANEY_LINEAR_STEP_HZ = 200.0 / 3.0  # below 1 kHz the Slaney scale is linear
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_LINEAR_STEP_HZ  # 15 mels
_SLANEY_LOG_STEP = np.log(6.4) / 27.0  # above 1 kHz: 27 mels per factor 6.4


def hz_to_mel(frequencies: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale (as librosa's `htk=False`): linear to 1 kHz, logarithmic above."""
    frequencies = np.asarray(frequencies, dtype=np.float64)
    linear = frequencies / _SLANEY_LINEAR_STEP_HZ
    logarithmic = (
        _SLANEY_BREAK_MEL
        + np.log(np.maximum(frequencies, _SLANEY_BREAK_HZ) / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP
    )
    return np.where(frequencies >= _SLANEY_BREAK_HZ, logarithmic, linear)


def mel_to_hz(mels: np.ndarray | float) -> np.ndarray:
    """The inverse of `hz_to_mel`."""
    mels = np.asarray(mels, dtype=np.float64)
    linear = mels * _SLANEY_LINEAR_STEP_HZ
    logarithmic = _SLANEY_BREAK_HZ * np.exp(
        _SLANEY_LOG_STEP * (np.maximum(mels, _SLANEY_BREAK_MEL) - _SLANEY_BREAK_MEL)
    )
    return np.where(mels >= _SLANEY_BREAK_MEL, logarithmic, linear)


@lru_cache(maxsize=4)
def mel_filter_bank(
    n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Triangular, area-normalised (Slaney) mel filters, `[n_fft // 2 + 1, n_mels]` float64.

    Filter m rises from the (m)th to the (m+1)th of `n_mels + 2` points equally spaced in mels
    between 0 Hz and Nyquist, falls to the (m+2)th, and is scaled by 2 / its width in Hz.
    """
    fft_frequencies = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    mel_points = np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2)
    edges_hz = mel_to_hz(mel_points)
    widths = np.diff(edges_hz)
    distance = edges_hz[np.newaxis, :] - fft_frequencies[:, np.newaxis]
    rising = -distance[:, :-2] / widths[:-1]
    falling = distance[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= 2.0 / (edges_hz[2:] - edges_hz[:-2])
    filters.setflags(write=False)
    return filters


@lru_cache(maxsize=2)
def _hann_window(length: int) -> np.ndarray:
    """The periodic Hann window (as `torch.hann_window`), float64."""
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)
    window.setflags(write=False)
    return window


def pad_or_trim(audio: np.ndarray, length: int = N_SAMPLES) -> np.ndarray:
    """Zero-pad at the end, or cut, to exactly `length` samples."""
    if audio.shape[0] >= length:
        return audio[:length]
    return np.pad(audio, (0, length - audio.shape[0]))


def power_spectrogram(audio: np.ndarray) -> np.ndarray:
    """|STFT|^2, `[n_fft // 2 + 1, frames]`, frames centred with reflect padding."""
    padded = np.pad(audio, N_FFT // 2, mode="reflect")
    frame_count = 1 + (padded.shape[0] - N_FFT) // HOP_LENGTH
    starts = np.arange(frame_count)[:, np.newaxis] * HOP_LENGTH
    frames = padded[starts + np.arange(N_FFT)[np.newaxis, :]] * _hann_window(N_FFT)
    spectrum = np.fft.rfft(frames, n=N_FFT, axis=1)
    return (spectrum.real**2 + spectrum.imag**2).T


def log_mel_spectrogram(audio_16k: np.ndarray) -> np.ndarray:
    """Whisper's encoder input for one clip: float32 `[80, 3000]`.

    `audio_16k` is mono float audio at 16 kHz in [-1, 1] (any length; the first 30 s are
    used, shorter clips are zero-padded). Raises ValueError for anything but a 1-D array.
    """
    audio = np.asarray(audio_16k, dtype=np.float64)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio as a 1-D array, got shape {audio.shape}")
    power = power_spectrogram(pad_or_trim(audio))[:, :N_FRAMES]
    mel = mel_filter_bank().T @ power
    log_mel = np.log10(np.maximum(mel, 1e-10))
    log_mel = np.maximum(log_mel, log_mel.max() - 8.0)
    return ((log_mel + 4.0) / 4.0).astype(np.float32)
