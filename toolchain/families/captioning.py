"""Image captioning: Hugging Face VisionEncoderDecoder (ViT encoder + GPT-2 decoder).

Two served models: the task model `<name>` is the encoder (`image` UINT8 [N, S, S, 3] ->
`features` FP32 [N, P, D]); `<name>_decoder` is a `component` that the server runs once per
generated token: decoder_kind `kv_cache` (GPT-2's past keys and values as flat tensors, see
kv_cache.py), or with `--decoder full_sequence`, `full_sequence` (`features` [N, P, D],
`tokens` INT64 [N, T] -> `logits` FP32 [N, T, V]). The decoder is exported with the dynamo
exporter (the TorchScript one fails on transformers 5 decoders without a cache).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from toolchain.architectures import Architecture, BuildOptions, Component, register
from toolchain.families.common import NormalizeImage, check_weights_option, random_images
from toolchain.families.hf import (
    hf_image_normalisation,
    load_hf_model,
    tokenizer_json,
    vocabulary_lines,
)
from toolchain.families.kv_cache import FullSequenceDecoder, kv_cache_component
from toolchain.model_folder import TensorSpec

HUB_ID = "nlpconnect/vit-gpt2-image-captioning"
TINY_VOCABULARY = ["<pad>", "<bos>", "<eos>"] + [f"word{i}" for i in range(3, 64)]


class CaptionEncoder(nn.Module):
    """uint8 NHWC image -> encoder hidden states."""

    def __init__(self, model: nn.Module, mean: tuple, std: tuple) -> None:
        super().__init__()
        self.normalize = NormalizeImage(mean, std)
        self.encoder = model.encoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encoder(pixel_values=self.normalize(image)).last_hidden_state


def tiny_model() -> nn.Module:
    from transformers import (
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
    )

    encoder = ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64,
    )  # fmt: skip
    decoder = GPT2Config(
        vocab_size=len(TINY_VOCABULARY), n_positions=64, n_embd=48, n_layer=2, n_head=2,
        bos_token_id=1, eos_token_id=2, add_cross_attention=True, is_decoder=True,
    )  # fmt: skip
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = 1, 0, 2
    return VisionEncoderDecoderModel(config=config)


def build(options: BuildOptions) -> list[Component]:
    from transformers import VisionEncoderDecoderModel

    check_weights_option(options)
    if options.tiny:
        model = tiny_model().eval()
        vocabulary, files = TINY_VOCABULARY, {}
        bos, eos = "<bos>", "<eos>"
    else:
        model = load_hf_model(VisionEncoderDecoderModel, options, HUB_ID)
        text = tokenizer_json(options, HUB_ID)
        vocabulary, files = vocabulary_lines(text), {"tokenizer.json": text}
        start = model.config.decoder_start_token_id
        start = model.config.decoder.bos_token_id if start is None else start
        bos, eos = vocabulary[start], vocabulary[model.config.decoder.eos_token_id]
    size = model.config.encoder.image_size
    mean, std = hf_image_normalisation(options)
    features = _features_shape(model, size)
    parameters = {
        "task": "captioning",
        "description": "VisionEncoderDecoder captioner (ViT encoder, GPT-2 decoder)",
        "image_size": f"{size},{size}",
        "decoder": "{name}_decoder",
        "decoder_kind": options.decoder_kind,
        "vocabulary": "vocabulary.txt",
        "bos_token": bos,
        "eos_token": eos,
        "max_tokens": "20",
    }
    if files:
        parameters["tokenizer"] = "tokenizer.json"
    files = dict(files, **{"vocabulary.txt": "".join(f"{t}\n" for t in vocabulary)})
    encoder = Component(
        suffix="",
        module=CaptionEncoder(model, mean, std).eval(),
        inputs=[TensorSpec("image", "UINT8", [size, size, 3], format="NHWC")],
        outputs=[TensorSpec("features", "FP32", features)],
        max_batch_size=options.max_batch_size,
        make_inputs=lambda purpose, rng: {
            "image": random_images(rng, 2 if purpose == "dummy" else 3, size, size)
        },
        parameters=parameters,
        files=files,
    )
    if options.decoder_kind == "kv_cache":
        text = model.config.decoder
        decoder = kv_cache_component(
            model,
            features=features,
            layers=text.num_hidden_layers,
            heads=text.num_attention_heads,
            head_size=text.hidden_size // text.num_attention_heads,
            vocabulary_size=len(vocabulary),
            max_batch_size=options.max_batch_size,
            description="VisionEncoderDecoder text decoder with a self-attention cache",
        )
        return [encoder, decoder]
    decoder = Component(
        suffix="_decoder",
        module=FullSequenceDecoder(model).eval(),
        inputs=[TensorSpec("features", "FP32", features), TensorSpec("tokens", "INT64", [-1])],
        outputs=[TensorSpec("logits", "FP32", [-1, len(vocabulary)])],
        max_batch_size=options.max_batch_size,
        make_inputs=_decoder_inputs(features, len(vocabulary)),
        parameters={
            "task": "component",
            "description": "VisionEncoderDecoder text decoder (one step per token)",
            "decoder_kind": "full_sequence",
        },
        tolerance=1e-3,
        dynamo=True,
    )
    return [encoder, decoder]


def _features_shape(model: nn.Module, size: int) -> list[int]:
    config = model.config.encoder
    patches = (size // config.patch_size) ** 2 + 1
    return [patches, config.hidden_size]


def _decoder_inputs(features: list[int], vocabulary_size: int):
    def make_inputs(purpose: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        batch, length = (2, 3) if purpose == "dummy" else (3, 5)
        return {
            "features": rng.standard_normal((batch, *features)).astype(np.float32),
            "tokens": rng.integers(0, vocabulary_size, (batch, length), dtype=np.int64),
        }

    return make_inputs


register(
    Architecture(
        name="vision_encoder_decoder",
        task="captioning",
        description="Hugging Face VisionEncoderDecoder (ViT + GPT-2) as encoder and decoder models",
        source="transformers VisionEncoderDecoderModel",
        license="Apache-2.0 (code); weights under the checkpoint's license",
        build=build,
        default_weights=f"{HUB_ID} from the Hugging Face cache",
    )
)
