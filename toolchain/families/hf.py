"""Hugging Face helpers: loading a model folder (or the cache), image settings, tokenizers."""

from __future__ import annotations

import json
from pathlib import Path

from toolchain.architectures import BuildOptions, ExportError


def load_hf_model(model_class, options: BuildOptions, hub_id: str):
    """A transformers model from a folder on disk, or the hub cache for 'default'."""
    if options.weights == "none":
        raise ExportError(
            "random weights for full-size Hugging Face models are not supported: pass --tiny "
            "with --weights none, or a model folder with --weights PATH"
        )
    if options.weights == "default":
        try:
            return model_class.from_pretrained(hub_id, local_files_only=True).eval()
        except OSError as error:
            raise ExportError(
                f"{hub_id} is not in the Hugging Face cache and this machine cannot reach the "
                "hub: download it where you can (huggingface-cli download) and pass the folder "
                "with --weights PATH"
            ) from error
    folder = Path(options.weights)
    if not (folder / "config.json").is_file():
        raise ExportError(
            f"{folder} is not a Hugging Face model folder (no config.json); pass the folder "
            "that save_pretrained wrote"
        )
    try:
        return model_class.from_pretrained(folder).eval()
    except (OSError, ValueError) as error:
        raise ExportError(f"cannot load {folder} as {model_class.__name__}: {error}") from error


def hf_image_normalisation(options: BuildOptions) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std from the folder's preprocessor_config.json (ViT's 0.5/0.5 otherwise)."""
    if options.weights not in ("none", "default"):
        processor = Path(options.weights) / "preprocessor_config.json"
        if processor.is_file():
            settings = json.loads(processor.read_text())
            if "image_mean" in settings and "image_std" in settings:
                return tuple(settings["image_mean"]), tuple(settings["image_std"])
    return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def tokenizer_json(options: BuildOptions, hub_id: str) -> str | None:
    """The tokenizer.json text of the model folder (converted from slow files if needed)."""
    if options.weights == "none":
        return None
    source = hub_id if options.weights == "default" else options.weights
    if options.weights != "default" and (Path(source) / "tokenizer.json").is_file():
        return (Path(source) / "tokenizer.json").read_text()
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, local_files_only=options.weights == "default"
        )
    except (OSError, ValueError) as error:
        raise ExportError(f"no tokenizer files in {source}: save the processor there") from error
    return tokenizer.backend_tokenizer.to_str()


def vocabulary_lines(tokenizer_text: str) -> list[str]:
    """Tokens by id, one per line (line breaks inside a token are replaced by spaces)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_text)
    vocabulary = tokenizer.get_vocab(with_added_tokens=True)
    by_id = {index: token for token, index in vocabulary.items()}
    size = max(by_id) + 1
    return [by_id.get(i, f"<unused{i}>").replace("\n", " ").replace("\r", " ") for i in range(size)]
