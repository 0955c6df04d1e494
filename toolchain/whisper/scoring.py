"""Word error rate: text normalisation, word errors, and the evaluation of a runner over
recordings."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from tqdm import tqdm

from service.tasks.whisper_features import log_mel_spectrogram
from toolchain.whisper.audio import Recording, read_audio
from toolchain.whisper.runtime import OnnxWhisper

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(digits: str) -> str:
    """Numbers below 100 as words ('25' -> 'twenty five'); others digit by digit."""
    value = int(digits)
    if len(digits) > 2 or (len(digits) == 2 and digits[0] == "0"):
        return " ".join(_ONES[int(d)] for d in digits)
    if value < 20:
        return _ONES[value]
    tens, ones = divmod(value, 10)
    return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])


def normalise_text(text: str) -> list[str]:
    """Words for scoring: lower case, digits spelled out, 'mr.' as 'mister', no punctuation."""
    text = text.lower().replace("mr.", "mister").replace("-", " ")
    text = re.sub(r"\d+", lambda m: f" {_number_words(m.group())} ", text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    return text.split()


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance in words (substitutions + deletions + insertions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


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
