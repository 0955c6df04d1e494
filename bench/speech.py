"""Whisper tiny.en against Whisper base on this CPU, in one run: word error rate on the real
pocketsphinx recordings and onnxruntime seconds per recording (greedy, as the server decodes).

    python bench/speech.py [--repository exported_models] [--rounds 2]

Needs both models built (`make speech-models`) and Debian's pocketsphinx-testdata. The two
models take turns on every recording, so load from elsewhere falls on both alike.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from contract.log_mel import log_mel_spectrogram
from contract.wer import normalise_text, word_errors
from toolchain.whisper.audio import pocketsphinx_recordings, read_audio
from toolchain.whisper.runtime import load_model_folder

MODELS = ("whisper_tiny_en", "whisper_base")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repository", type=Path, default=Path("exported_models"))
    parser.add_argument("--rounds", type=int, default=2, help="passes over the recordings")
    args = parser.parse_args()
    runners = {name: load_model_folder(args.repository / name) for name in MODELS}
    recordings = pocketsphinx_recordings()
    seconds = dict.fromkeys(MODELS, 0.0)
    errors = dict.fromkeys(MODELS, 0)
    words = sum(len(normalise_text(r.transcript)) for r in recordings)
    audio_seconds = 0.0
    for _ in range(args.rounds):
        for recording in recordings:
            log_mel = log_mel_spectrogram(audio := read_audio(recording.path))
            audio_seconds += audio.size / 16_000
            for name, runner in runners.items():
                started = time.perf_counter()
                text = runner.decode(runner.log_mel_tokens(log_mel))
                seconds[name] += time.perf_counter() - started
                errors[name] += word_errors(normalise_text(recording.transcript),
                                            normalise_text(text))
    print(f"{len(recordings)} recordings x {args.rounds} rounds, {words} words each round")
    print("| model | WER | s per recording | real-time factor | relative time |")
    print("|---|---|---|---|---|")
    for name in MODELS:
        per = seconds[name] / (len(recordings) * args.rounds)
        print(f"| {name} | {errors[name] / (words * args.rounds):.1%} | {per:.2f} | "
              f"{seconds[name] / audio_seconds:.3f} | "
              f"{seconds[name] / seconds[MODELS[0]]:.2f}x |")


if __name__ == "__main__":
    main()
