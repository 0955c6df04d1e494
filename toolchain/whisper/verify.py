"""The exported graphs checked against PyTorch (transformers' model with the same weights)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from contract.log_mel import log_mel_spectrogram
from toolchain.whisper.audio import SAMPLE_RATE, Recording, read_audio
from toolchain.whisper.graphs import CrossAttentionEncoder
from toolchain.whisper.runtime import OnnxWhisper, torch_encoder_states, torch_greedy_tokens
from toolchain.whisper.source import SpecialTokens

ENCODER_TOLERANCE = 2e-3
DECODER_TOLERANCE = 2e-3


@torch.no_grad()
def verify_encoder(whisper: nn.Module, runner: OnnxWhisper, log_mels: np.ndarray) -> float:
    """Max abs difference of `features` between onnxruntime and PyTorch on a batch."""
    expected = CrossAttentionEncoder(whisper).eval()(torch.from_numpy(log_mels)).numpy()
    return float(np.abs(runner.encode(log_mels) - expected).max())


@torch.no_grad()
def verify_decoder(whisper: nn.Module, runner: OnnxWhisper, log_mel: np.ndarray,
                   tokens: list[int], logit_bias: torch.Tensor) -> dict[str, float]:
    """Step the ONNX decoder through `tokens` with its cache and compare every step's logits
    with transformers' full forward pass over the same tokens (suppressed entries left out)."""
    sequence = list(runner.special.prompt) + tokens
    hidden = torch_encoder_states(whisper, log_mel)
    expected = (whisper(encoder_outputs=(hidden,), decoder_input_ids=torch.tensor([sequence]))
                .logits[0] + logit_bias).numpy()
    features = runner.encode(log_mel[np.newaxis])[0]
    prompt = len(runner.special.prompt)
    logits, past = runner.step(features, np.array(sequence[:prompt]), runner.empty_past())
    rows = [logits]
    for token in sequence[prompt:]:
        logits, past = runner.step(features, np.array([token]), past)
        rows.append(logits)
    actual = np.concatenate(rows)[: len(sequence)]
    finite = np.isfinite(expected)
    if not np.array_equal(finite, np.isfinite(actual)):
        raise AssertionError("the ONNX decoder suppresses other tokens than PyTorch")
    return {
        "max_abs_diff": float(np.abs(actual[finite] - expected[finite]).max()),
        "top1_agreement": float((actual.argmax(-1) == expected.argmax(-1)).mean()),
    }


def pytorch_tokens(whisper: nn.Module, recordings: list[Recording], special: SpecialTokens,
                   logit_bias: torch.Tensor, max_tokens: int) -> dict[str, list[int]]:
    """PyTorch's greedy tokens for every recording (the reference for agreement)."""
    return {r.name: torch_greedy_tokens(whisper, log_mel_spectrogram(read_audio(r.path)),
                                        special, logit_bias, max_tokens)
            for r in tqdm(recordings, desc="PyTorch reference", unit="clip")}


def _check(label: str, value: float, tolerance: float) -> dict:
    if not value <= tolerance:
        raise AssertionError(f"{label}: max abs diff {value:.3g} exceeds {tolerance:g}; "
                             "nothing was written")
    return {"check": label, "max_abs_diff": value, "tolerance": tolerance}


def _verification_clips(recordings: list[Recording]) -> list[np.ndarray]:
    """Log-mels of up to three recordings, or of a synthetic tone when there are none."""
    if recordings:
        return [log_mel_spectrogram(read_audio(r.path)) for r in recordings[:3]]
    time_s = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    return [log_mel_spectrogram((0.3 * np.sin(2 * np.pi * 440 * time_s)).astype(np.float32))]


def verify_decoder_rows(whisper: nn.Module, runner: OnnxWhisper, recordings: list[Recording],
                        bias: torch.Tensor) -> dict[str, float]:
    """The worst `verify_decoder` result over the verification clips, each decoded greedily."""
    worst = {"max_abs_diff": 0.0, "top1_agreement": 1.0}
    for log_mel in _verification_clips(recordings):
        tokens = runner.log_mel_tokens(log_mel) or [runner.special.end]
        check = verify_decoder(whisper, runner, log_mel, tokens, bias)
        worst = {"max_abs_diff": max(worst["max_abs_diff"], check["max_abs_diff"]),
                 "top1_agreement": min(worst["top1_agreement"], check["top1_agreement"])}
    return worst


def verify(whisper: nn.Module, runner: OnnxWhisper, recordings: list[Recording],
           bias: torch.Tensor) -> list[dict]:
    """The encoder and float32 decoder checks, as verification.json lists them; raises when
    one exceeds its tolerance."""
    clips = np.stack(_verification_clips(recordings))
    rows = [_check(f"encoder features, batch of {len(clips)}",
                   verify_encoder(whisper, runner, clips), ENCODER_TOLERANCE)]
    decoder = verify_decoder_rows(whisper, runner, recordings, bias)
    row = _check("decoder logits, float32 (step by step with the cache vs full sequence)",
                 decoder["max_abs_diff"], DECODER_TOLERANCE)
    rows.append({**row, "top1_agreement": decoder["top1_agreement"]})
    return rows
