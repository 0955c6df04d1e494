"""Whisper tiny.en for the speech task: CTranslate2 weights -> PyTorch -> ONNX, verified.

The zoo entry point is `toolchain/zoo/import_whisper.py`; this package holds the pieces:

- `source`: the source package (download, sha256 check), Whisper's special tokens, the
  suppressed tokens and the token budget.
- `weights`: CTranslate2 tensors <-> transformers' `WhisperForConditionalGeneration`.
- `graphs`: the two served graphs (cross-attention encoder, kv-cache decoder), their ONNX export
  and int8 quantisation.
- `audio`: reading and writing 16 kHz clips, and the pocketsphinx-testdata recordings.
- `runtime`: greedy transcription with onnxruntime (as the server runs the graphs) and with
  PyTorch (the reference).
- `scoring`: text normalisation, word errors and the evaluation over recordings.
- `verify`: the checks of the exported graphs against PyTorch.
- `folders`: the model folders, their parameters and the model card.
- `importer`: the import itself, from a CTranslate2 folder to verified model folders.
- `samples`: the sample clips and their expected.json.
"""
