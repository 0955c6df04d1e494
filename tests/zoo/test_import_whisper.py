"""Whisper tiny.en import: the CTranslate2 reader, the numpy log-mel front end, the import path
on a tiny random Whisper, and (when built) the real model on the shipped samples.

Runs in the pytest process that never imports the server's v2 stubs: only
`contract/log_mel.py` (numpy only) is the server's own front end.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from contract.log_mel import log_mel_spectrogram, mel_filter_bank
from contract.wer import normalise_text, word_errors
from toolchain.ctranslate2_reader import (
    CTranslate2FormatError,
    CTranslate2Model,
    read_model_bin,
    write_model_bin,
)
from toolchain.whisper.audio import (
    POCKETSPHINX_DATA,
    Recording,
    pocketsphinx_recordings,
    read_audio,
    write_wav,
)
from toolchain.whisper.graphs import CachedDecoder
from toolchain.whisper.importer import import_whisper
from toolchain.whisper.runtime import load_model_folder, torch_greedy_tokens
from toolchain.whisper.source import CACHE_DIR, special_tokens, suppressed_token_ids
from toolchain.whisper.weights import ctranslate2_from_whisper, whisper_from_ctranslate2
from toolchain.zoo import import_whisper as whisper_import

REPOSITORY = Path(__file__).resolve().parents[2] / "exported_models"
SAMPLES = REPOSITORY / "samples" / whisper_import.NAME


# --- the CTranslate2 reader -------------------------------------------------------------------


def test_reader_round_trips_every_dtype_scalars_and_aliases(tmp_path):
    rng = np.random.default_rng(0)
    variables = {
        "encoder/conv1/weight": rng.standard_normal((4, 3, 3)).astype(np.float16),
        "decoder/embeddings/weight": rng.standard_normal((7, 5)).astype(np.float32),
        "decoder/quantized": rng.integers(-128, 127, (2, 3)).astype(np.int8),
        "encoder/num_heads": np.asarray(np.int16(6)),
        "decoder/count": np.asarray(np.int32(70000)),
        "decoder/pre_norm": np.asarray(np.int8(1)),
    }
    model = CTranslate2Model(
        "WhisperSpec", 3, variables, {"decoder/projection/weight": "decoder/embeddings/weight"}
    )
    write_model_bin(tmp_path / "model.bin", model)

    read = read_model_bin(tmp_path / "model.bin")

    assert (read.spec, read.spec_revision) == ("WhisperSpec", 3)
    assert list(read.variables) == list(variables)
    for name, array in variables.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape
        np.testing.assert_array_equal(read[name], array)
    np.testing.assert_array_equal(
        read["decoder/projection/weight"], variables["decoder/embeddings/weight"]
    )
    assert read.scalar("encoder/num_heads") == 6 and read.scalar("decoder/count") == 70000


def test_reader_names_a_truncated_file(tmp_path):
    model = CTranslate2Model("WhisperSpec", 3, {"w": np.ones((64, 64), np.float16)})
    write_model_bin(tmp_path / "model.bin", model)
    data = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])

    with pytest.raises(CTranslate2FormatError, match="truncated"):
        read_model_bin(tmp_path / "cut.bin")


def test_reader_refuses_unknown_binary_versions(tmp_path):
    (tmp_path / "model.bin").write_bytes((99).to_bytes(4, "little") + b"\0" * 16)
    with pytest.raises(CTranslate2FormatError, match="binary version 99"):
        read_model_bin(tmp_path / "model.bin")


def test_reader_parses_the_shipped_whisper_tiny_en():
    model_bin = CACHE_DIR / "model" / "model.bin"
    if not model_bin.is_file():
        pytest.skip(f"{model_bin} not downloaded yet (python -m toolchain import whisper_tiny_en)")
    model = read_model_bin(model_bin)
    assert model.spec == "WhisperSpec"
    assert model["decoder/embeddings/weight"].shape == (51864, 384)
    assert model["decoder/embeddings/weight"].dtype == np.float16
    assert model.scalar("encoder/num_heads") == 6
    assert "decoder/layer_3/attention/linear_1/weight" in model
    assert "decoder/layer_4/attention/linear_1/weight" not in model
    assert model["decoder/projection/weight"] is model["decoder/embeddings/weight"]


# --- the log-mel front end --------------------------------------------------------------------


@pytest.fixture(scope="module")
def feature_extractor():
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor()


def test_mel_filter_bank_equals_transformers(feature_extractor):
    np.testing.assert_allclose(mel_filter_bank(), feature_extractor.mel_filters, atol=1e-7)


@pytest.mark.parametrize("seconds", [0.05, 2.0, 29.99, 31.5])
def test_log_mel_matches_whisper_feature_extractor(feature_extractor, seconds):
    rng = np.random.default_rng(int(seconds * 100))
    samples = int(seconds * 16_000)
    time_s = np.arange(samples) / 16_000
    audio = (
        0.3 * np.sin(2 * np.pi * 220 * time_s * (1 + time_s)) + 0.05 * rng.standard_normal(samples)
    ).astype(np.float32)

    ours = log_mel_spectrogram(audio)
    theirs = feature_extractor(audio, sampling_rate=16_000, return_tensors="np").input_features[0]

    assert ours.shape == (80, 3000) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-4


def test_log_mel_refuses_anything_but_mono():
    with pytest.raises(ValueError, match="1-D"):
        log_mel_spectrogram(np.zeros((2, 16_000), np.float32))


# --- scoring ------------------------------------------------------------------------------------


def test_word_error_rate_scoring_spells_out_digits_and_titles():
    said = normalise_text("and mister john dashwood had ten of clubs")
    heard = normalise_text("And Mr. John Dashwood had 10 of clubs.")
    assert said == heard
    assert normalise_text("29340") == "two nine three four zero".split()
    assert word_errors("a b c d".split(), "a x c".split()) == 2


def test_pocketsphinx_recordings_come_with_their_words():
    if not POCKETSPHINX_DATA.is_dir():
        pytest.skip("apt-get install pocketsphinx-testdata")
    recordings = pocketsphinx_recordings()
    assert len(recordings) == 12
    by_name = {r.name: r for r in recordings}
    assert by_name["cards/001"].transcript == "ten of clubs"
    assert all(r.path.is_file() and r.transcript for r in recordings)
    assert read_audio(by_name["goforward.raw"].path).size > 16_000


# --- the import path on a tiny random Whisper -------------------------------------------------

WORDS = [f"w{i}" for i in range(40)]
SPECIALS = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|transcribe|>",
    "<|notimestamps|>",
    "<|0.00|>",
    "<|0.02|>",
]


def _tiny_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {word: i for i, word in enumerate(WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.add_special_tokens(SPECIALS)
    tokenizer.save(str(path))


def _tiny_whisper():
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    config = WhisperConfig(
        vocab_size=len(WORDS) + len(SPECIALS),
        num_mel_bins=80,
        d_model=16,
        encoder_layers=1,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=1500,
        max_target_positions=24,
        activation_function="gelu",
        decoder_start_token_id=len(WORDS) + 1,
        eos_token_id=len(WORDS),
        pad_token_id=len(WORDS),
        bos_token_id=len(WORDS),
    )
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():  # random but larger logits, so greedy tokens vary
        model.proj_out.weight.mul_(30.0)
    return model


@pytest.fixture(scope="module")
def tiny_import(tmp_path_factory):
    """A CTranslate2 folder made from a tiny random Whisper, imported into a repository."""
    source = tmp_path_factory.mktemp("ct2")
    whisper = _tiny_whisper()
    write_model_bin(source / "model.bin", ctranslate2_from_whisper(whisper))
    _tiny_tokenizer(source / "tokenizer.json")
    (source / "config.json").write_text(json.dumps({"suppress_ids": [3, 5]}))
    clip = source / "tone.wav"
    time_s = np.arange(16_000) / 16_000
    write_wav(clip, 0.4 * np.sin(2 * np.pi * 330 * time_s))
    recordings = [Recording("tone", clip, "w1 w2")]
    repository = tmp_path_factory.mktemp("repository")
    folder = import_whisper(source, repository, name="tiny_whisper", recordings=recordings)
    return {"source": source, "whisper": whisper, "folder": folder, "clip": clip}


def test_weights_survive_the_round_trip_through_ctranslate2(tiny_import):
    whisper = tiny_import["whisper"]
    model = read_model_bin(tiny_import["source"] / "model.bin")
    special = special_tokens(tiny_import["source"] / "tokenizer.json")
    rebuilt = whisper_from_ctranslate2(model, special)
    for name, tensor in whisper.state_dict().items():
        expected = tensor.half().float()  # CTranslate2 stores float16
        torch.testing.assert_close(rebuilt.state_dict()[name], expected, rtol=0, atol=0)


def test_import_writes_both_folders_as_the_contract_says(tiny_import):
    folder = tiny_import["folder"]
    decoder = folder.parent / "tiny_whisper_decoder"
    config = (folder / "config.pbtxt").read_text()
    for key, value in [
        ("task", "speech"),
        ("frontend", "whisper_log_mel"),
        ("decoding", "seq2seq"),
        ("decoder", "tiny_whisper_decoder"),
        ("decoder_kind", "kv_cache"),
        ("tokenizer", "tokenizer.json"),
        ("bos_token_ids", f"{len(WORDS) + 1},{len(WORDS) + 4}"),
        ("eos_token_id", str(len(WORDS))),
    ]:
        assert f'key: "{key}" value {{ string_value: "{value}" }}' in config
    decoder_config = (decoder / "config.pbtxt").read_text()
    assert 'key: "task" value { string_value: "component" }' in decoder_config
    assert (folder / "tokenizer.json").is_file() and (folder / "MODEL_CARD.md").is_file()
    for path in (folder / "1" / "model.onnx", decoder / "1" / "model.onnx"):
        graph = onnx.load_model(str(path))
        assert graph.ir_version <= 10
        assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) <= 20
    decoder_graph = onnx.load_model(str(decoder / "1" / "model.onnx"))
    assert [i.name for i in decoder_graph.graph.input] == [
        "features",
        "tokens",
        "past_key_values.0.key",
        "past_key_values.0.value",
        "past_key_values.1.key",
        "past_key_values.1.value",
    ]


def test_import_records_its_checks_against_pytorch(tiny_import):
    report = json.loads((tiny_import["folder"] / "verification.json").read_text())
    float_checks = [c for c in report["verification"] if "tolerance" in c]
    assert len(float_checks) == 2
    assert all(c["max_abs_diff"] <= c["tolerance"] for c in float_checks)
    assert report["evaluation"]["recordings"][0]["recording"] == "tone"
    card = (tiny_import["folder"] / "MODEL_CARD.md").read_text()
    assert "word error rate" in card and "max_abs_diff" in card


def test_first_step_takes_an_empty_past_and_the_whole_prompt(tiny_import):
    import onnxruntime as ort

    decoder_path = tiny_import["folder"].parent / "tiny_whisper_decoder" / "1" / "model.onnx"
    session = ort.InferenceSession(str(decoder_path), providers=["CPUExecutionProvider"])
    features = np.random.default_rng(1).standard_normal((1, 4, 1500, 16)).astype(np.float32)
    past = {
        i.name: np.zeros((1, 2, 0, 8), np.float32)
        for i in session.get_inputs()
        if i.name.startswith("past_key_values")
    }
    prompt = np.array([[len(WORDS) + 1, len(WORDS) + 4]], dtype=np.int64)

    logits, *present = session.run(None, {"features": features, "tokens": prompt, **past})

    assert logits.shape == (1, 2, len(WORDS) + len(SPECIALS))
    assert all(p.shape == (1, 2, 2, 8) for p in present)
    suppressed = np.isneginf(logits[0, -1])
    assert suppressed[[3, 5]].all() and suppressed[len(WORDS) + 1 :].all()
    assert not suppressed[len(WORDS)]  # <|endoftext|> ends the transcript


def test_onnx_greedy_decoding_equals_pytorch(tiny_import):
    runner = load_model_folder(tiny_import["folder"])
    whisper = whisper_from_ctranslate2(
        read_model_bin(tiny_import["source"] / "model.bin"), runner.special
    )
    suppressed = suppressed_token_ids(
        {"suppress_ids": [3, 5]}, runner.special, whisper.config.vocab_size
    )
    bias = CachedDecoder(whisper, suppressed).logit_bias
    log_mel = log_mel_spectrogram(read_audio(tiny_import["clip"]))
    runner.max_tokens = 10

    tokens = runner.greedy_tokens(runner.encode(log_mel[np.newaxis])[0])

    assert tokens, "the tiny model should generate tokens before <|endoftext|>"
    assert tokens == torch_greedy_tokens(whisper, log_mel, runner.special, bias, max_tokens=10)
    assert all(token < len(WORDS) for token in tokens)


# --- the real model ------------------------------------------------------------------------------


@pytest.mark.skipif(
    os.environ.get("STRIATE_FULL_IMPORT") != "1",
    reason="the real import downloads 70 MB and takes about 3 minutes on 2 "
    "cores: set STRIATE_FULL_IMPORT=1 to run it",
)
def test_full_import_quick_mode(tmp_path):
    folder = whisper_import.main(tmp_path, quick=True)
    report = json.loads((folder / "verification.json").read_text())
    assert all(
        c["max_abs_diff"] <= c["tolerance"] for c in report["verification"] if "tolerance" in c
    )
    assert report["evaluation"]["same_tokens_as_pytorch"] == 1.0
    assert report["evaluation"]["word_error_rate"] <= 0.25  # 1 of 7 words on the 2 clips


def _built_model() -> Path:
    folder = REPOSITORY / whisper_import.NAME
    if not (folder / "1" / "model.onnx").is_file():
        pytest.skip(
            f"{folder} is not built: python -m toolchain import whisper_tiny_en "
            "--out exported_models/"
        )
    return folder


def test_built_model_transcribes_the_samples():
    runner = load_model_folder(_built_model())
    document = json.loads((SAMPLES / "expected.json").read_text())
    errors = words = 0
    for sample in document["samples"]:
        text = runner.transcribe(read_audio(SAMPLES / sample["audio"]))
        said = normalise_text(sample["expected"])
        errors += word_errors(said, normalise_text(text))
        words += len(said)
    assert errors / words <= 0.1, f"{errors} word errors in {words} words"


def test_built_model_card_states_the_word_error_rate():
    card = (_built_model() / "MODEL_CARD.md").read_text()
    match = re.search(r"word error rate, pocketsphinx-testdata \(real speech\) \| ([\d.]+)%", card)
    assert match, "MODEL_CARD.md states no word error rate"
    assert float(match.group(1)) < 20.0
