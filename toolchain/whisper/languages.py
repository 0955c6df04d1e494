"""Multilingual checks on synthetic speech: is the language detected, is the text in it, and
does <|translate|> give English? The sentences are spoken by espeak-ng (Debian), so the audio
is ours to ship; model cards say it is synthetic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from toolchain.whisper.audio import write_wav
from toolchain.whisper.runtime import OnnxWhisper
from toolchain.whisper.samples import synthesise

MAX_WORD_ERROR_RATE = 0.5
"""The samples' bound: Whisper base hears espeak-ng's robotic voices imperfectly (the card
lists every transcript); an English translation or another language scores about 1."""

# (language code, espeak-ng voice, sentence, its English meaning)
SENTENCES = (
    ("de", "de", "Das Wetter ist heute sehr schön und die Sonne scheint.",
     "The weather is very nice today and the sun is shining."),
    ("fr", "fr", "Je voudrais une tasse de café et un croissant, s'il vous plaît.",
     "I would like a cup of coffee and a croissant, please."),
    ("es", "es", "El perro duerme en el jardín porque hace mucho calor.",
     "The dog sleeps in the garden because it is very hot."),
    ("it", "it", "La stazione dei treni è vicina alla piazza principale.",
     "The train station is near the main square."),
)


def synthetic_clips() -> list[tuple[str, str, np.ndarray, str, str]]:
    """(file name, language, 16 kHz audio, sentence, English meaning) for every sentence."""
    return [(f"espeak-ng-{voice}.wav", code, synthesise("espeak-ng", voice, said), said, meaning)
            for code, voice, said, meaning in SENTENCES]


def evaluate_languages(runner: OnnxWhisper, out_dir: Path | None = None) -> list[dict]:
    """Detect, transcribe and translate every synthetic sentence; with `out_dir`, also write
    the clips there (the served samples)."""
    rows = []
    for file, code, audio, said, meaning in tqdm(synthetic_clips(), desc="languages",
                                                 unit="clip"):
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            write_wav(out_dir / file, audio)
        detected, probability = runner.detect_language_of(audio)
        rows.append({"recording": file, "language": code, "said": said, "meaning": meaning,
                     "detected": detected, "probability": round(probability, 3),
                     "transcript": runner.transcribe(audio, language=detected),
                     "translation": runner.transcribe(audio, language=detected,
                                                      translate=True)})
    return rows


def write_language_samples(model_folder: Path, out_dir: Path) -> Path:
    """The synthetic clips of every language, and expected.json with what was said, the
    language, and what this model transcribes when it detects the language itself."""
    from toolchain.whisper.runtime import load_model_folder

    runner = load_model_folder(model_folder)
    rows = evaluate_languages(runner, out_dir)
    samples = [{"audio": row["recording"], "expected": row["said"], "language": row["language"],
                "transcript": row["transcript"], "translation": row["translation"],
                "meaning": row["meaning"], "max_wer": MAX_WORD_ERROR_RATE, "kind": "synthesised",
                "source": f"espeak-ng -v {row['language']} (synthetic speech)"}
               for row in rows]
    document = {"model": model_folder.name, "task": "speech",
                "note": "expected: the sentence espeak-ng said; language: the one spoken; "
                        "transcript: this model's greedy output with the language detected",
                "samples": samples}
    (out_dir / "expected.json").write_text(json.dumps(document, indent=2, ensure_ascii=False)
                                           + "\n")
    return out_dir
