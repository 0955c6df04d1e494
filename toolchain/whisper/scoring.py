"""The word error rate of a runner over recordings (scored by contract/wer.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tqdm import tqdm

from contract.log_mel import log_mel_spectrogram
from contract.wer import normalise_text, word_errors
from toolchain.whisper.audio import Recording, read_audio
from toolchain.whisper.runtime import OnnxWhisper


@dataclass
class Evaluation:
    rows: list[dict]
    word_errors: int
    reference_words: int
    agreement_with_pytorch: float | None  # share of recordings with PyTorch's greedy tokens
    seconds: float  # onnxruntime time: encoder, decoding loop and tokenizer

    @property
    def wer(self) -> float:
        return self.word_errors / max(1, self.reference_words)

    def summary(self) -> dict:
        return {"word_error_rate": round(self.wer, 4), "word_errors": self.word_errors,
                "reference_words": self.reference_words,
                "same_tokens_as_pytorch": self.agreement_with_pytorch,
                "onnxruntime_seconds": round(self.seconds, 1)}

    def as_json(self) -> dict:
        """The summary and every recording's row."""
        return {**self.summary(), "recordings": self.rows}


def evaluate(runner: OnnxWhisper, recordings: list[Recording],
             reference_tokens: dict[str, list[int]] | None = None) -> Evaluation:
    """Transcribe every recording greedily with onnxruntime; WER against the transcripts, and
    the share of recordings whose tokens equal `reference_tokens` (PyTorch's)."""
    rows, errors, words, same, seconds = [], 0, 0, 0, 0.0
    for recording in tqdm(recordings, desc="transcribing", unit="clip"):
        audio = read_audio(recording.path)
        started = time.perf_counter()
        tokens = runner.log_mel_tokens(log_mel_spectrogram(audio))
        text = runner.decode(tokens)
        seconds += time.perf_counter() - started
        reference = normalise_text(recording.transcript)
        wrong = word_errors(reference, normalise_text(text))
        errors, words = errors + wrong, words + len(reference)
        row = {"recording": recording.name, "reference": recording.transcript,
               "transcript": text, "word_errors": wrong}
        if reference_tokens is not None:
            row["same_tokens_as_pytorch"] = tokens == reference_tokens[recording.name]
            same += row["same_tokens_as_pytorch"]
        rows.append(row)
    agreement = same / max(1, len(recordings)) if reference_tokens is not None else None
    return Evaluation(rows, errors, words, agreement, seconds)
