"""Visual question answering: Hugging Face ViLT (ViltForQuestionAnswering).

Served graph: `image` UINT8 [N, S, S, 3] and `question` INT64 [N, L] (token ids from the
folder's tokenizer.json, 0 = padding) -> `probabilities` FP32 [N, A] (sigmoid, as ViLT is
trained), answers in labels.txt.

Stock ViLT samples image patches at random (`visual_embed`), which no exporter can trace.
For a fixed image size with every patch kept, the sample is all patches in random order, and
the pooled output does not depend on that order; the exported module takes them in order.
Verification compares the graph with the stock model.
"""

from __future__ import annotations

import copy
import types

import numpy as np
import torch
from torch import nn

from toolchain.architectures import Architecture, BuildOptions, Component, ExportError, register
from toolchain.families.common import NormalizeImage, check_weights_option, random_images
from toolchain.families.hf import hf_image_normalisation, load_hf_model, tokenizer_json
from toolchain.model_folder import TensorSpec

HUB_ID = "dandelin/vilt-b32-finetuned-vqa"
TINY_WORDS = ["what", "color", "is", "the", "shape", "how", "many", "red", "blue", "circle"]


class VqaModel(nn.Module):
    """uint8 image and padded token ids -> answer probabilities."""

    def __init__(self, model: nn.Module, mean: tuple, std: tuple) -> None:
        super().__init__()
        self.normalize = NormalizeImage(mean, std)
        self.model = model

    def forward(self, image: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        pixels = self.normalize(image)
        pixel_mask = torch.ones_like(pixels[:, 0], dtype=torch.long)
        logits = self.model(
            input_ids=question,
            attention_mask=(question != 0).long(),
            token_type_ids=torch.zeros_like(question),
            pixel_values=pixels,
            pixel_mask=pixel_mask,
        ).logits
        return torch.sigmoid(logits)


def all_patches_in_order(self, pixel_values, pixel_mask, max_image_length=200):
    """ViltEmbeddings.visual_embed for full pixel masks: every patch, in order."""
    del pixel_mask, max_image_length
    patches = self.patch_embeddings(pixel_values)
    batch, channels, height, width = patches.shape
    grid = self.config.image_size // self.config.patch_size
    spatial = self.position_embeddings[:, 1:, :].transpose(1, 2).reshape(1, channels, grid, grid)
    positions = nn.functional.interpolate(
        spatial, size=(height, width), mode="bilinear", align_corners=True
    )
    positions = positions.flatten(2).transpose(1, 2).expand(batch, -1, -1)
    tokens = patches.flatten(2).transpose(1, 2)
    cls = self.cls_token.expand(batch, -1, -1)
    tokens = torch.cat((cls, tokens), dim=1)
    first = self.position_embeddings[:, :1, :].expand(batch, -1, -1)
    embeddings = self.dropout(tokens + torch.cat((first, positions), dim=1))
    mask = torch.ones(embeddings.shape[:2], dtype=torch.long, device=embeddings.device)
    rows = torch.arange(height).repeat_interleave(width)
    columns = torch.arange(width).repeat(height)
    patch_index = torch.stack((rows, columns), dim=-1)[None].expand(batch, -1, -1)
    return embeddings, mask, (patch_index, (height, width))


def deterministic_copy(module: VqaModel) -> VqaModel:
    exported = copy.deepcopy(module)
    embeddings = exported.model.vilt.embeddings
    embeddings.visual_embed = types.MethodType(all_patches_in_order, embeddings)
    return exported


def tiny_model_and_tokenizer() -> tuple[nn.Module, str]:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import ViltConfig, ViltForQuestionAnswering

    vocabulary = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
    vocabulary.update({word: i + 4 for i, word in enumerate(TINY_WORDS)})
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    config = ViltConfig(
        vocab_size=len(vocabulary), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, image_size=32, patch_size=8, max_position_embeddings=12,
        num_labels=6, id2label={i: f"answer{i}" for i in range(6)},
    )  # fmt: skip
    return ViltForQuestionAnswering(config), tokenizer.to_str()


def build(options: BuildOptions) -> list[Component]:
    from transformers import ViltForQuestionAnswering

    check_weights_option(options)
    if options.tiny:
        model, tokenizer = tiny_model_and_tokenizer()
    else:
        model = load_hf_model(ViltForQuestionAnswering, options, HUB_ID)
        tokenizer = tokenizer_json(options, HUB_ID)
    config = model.config
    size = options.image_size or config.image_size
    patches = (size // config.patch_size) ** 2
    if 0 < config.max_image_length < patches:
        raise ExportError(
            f"{size}x{size} images have {patches} patches, more than ViLT keeps "
            f"({config.max_image_length}); choose a smaller --image-size"
        )
    length = config.max_position_embeddings
    labels = options.labels or [config.id2label[i] for i in range(config.num_labels)]
    mean, std = hf_image_normalisation(options)
    module = VqaModel(model.eval(), mean, std).eval()

    def make_inputs(purpose: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        batch = 2 if purpose == "dummy" else 3
        question = rng.integers(4, config.vocab_size, (batch, length), dtype=np.int64)
        for row, used in enumerate(rng.integers(3, length, batch)):
            question[row, used:] = 0  # padding, as the server sends it
        return {"image": random_images(rng, batch, size, size), "question": question}

    return [
        Component(
            suffix="",
            module=module,
            export_module=deterministic_copy(module),
            inputs=[
                TensorSpec("image", "UINT8", [size, size, 3], format="NHWC"),
                TensorSpec("question", "INT64", [length]),
            ],
            outputs=[TensorSpec("probabilities", "FP32", [len(labels)], "labels.txt")],
            max_batch_size=options.max_batch_size,
            make_inputs=make_inputs,
            parameters={
                "task": "vqa",
                "description": f"ViLT visual question answering, {len(labels)} answers",
                "image_size": f"{size},{size}",
                "tokenizer": "tokenizer.json",
                "max_question_tokens": str(length),
            },
            tolerance=1e-4,
            labels=labels,
            files={"tokenizer.json": tokenizer},
        )
    ]


register(
    Architecture(
        name="vilt_vqa",
        task="vqa",
        description="Hugging Face ViLT for visual question answering",
        source="transformers ViltForQuestionAnswering",
        license="Apache-2.0 (code); weights under the checkpoint's license",
        build=build,
        default_weights=f"{HUB_ID} from the Hugging Face cache",
    )
)
