"""Hugging Face models come as folders (save_pretrained plus tokenizer files): the exporter
reads the weights, the tokenizer and the special tokens from there."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models

from toolchain.architectures import BuildOptions
from toolchain.exporter import ExportRequest, export
from toolchain.families import captioning, vqa


def config_parameters(folder: Path) -> str:
    return (folder / "config.pbtxt").read_text()


def test_vision_encoder_decoder_folder(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = captioning.tiny_model()
    model.save_pretrained(tmp_path / "captioner")
    vocabulary = {token: i for i, token in enumerate(captioning.TINY_VOCABULARY)}
    Tokenizer(models.WordLevel(vocabulary, unk_token="<pad>")).save(
        str(tmp_path / "captioner" / "tokenizer.json")
    )
    options = BuildOptions(weights=str(tmp_path / "captioner"), decoder_kind="full_sequence")
    encoder, decoder = export(ExportRequest("vision_encoder_decoder", tmp_path / "out",
                                            name="captioner", options=options))  # fmt: skip
    lines = (encoder / "vocabulary.txt").read_text().splitlines()
    assert lines == captioning.TINY_VOCABULARY
    config = config_parameters(encoder)
    assert 'string_value: "<bos>"' in config and 'string_value: "<eos>"' in config
    assert (encoder / "tokenizer.json").is_file()
    record = json.loads((decoder / "verification.json").read_text())
    assert record["options"]["weights"] == str((tmp_path / "captioner").resolve())


def test_vilt_folder(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, tokenizer = vqa.tiny_model_and_tokenizer()
    model.save_pretrained(tmp_path / "vilt")
    (tmp_path / "vilt" / "tokenizer.json").write_text(tokenizer)
    options = BuildOptions(weights=str(tmp_path / "vilt"))
    (folder,) = export(ExportRequest("vilt_vqa", tmp_path / "out", options=options))
    labels = (folder / "labels.txt").read_text().splitlines()
    assert labels == [model.config.id2label[i] for i in range(model.config.num_labels)]
    served_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    assert served_tokenizer.encode("what color").ids[0] == 2  # [CLS] added by the tokenizer
