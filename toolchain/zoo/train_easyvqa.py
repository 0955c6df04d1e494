"""A CloudCV-style VQA model (Agrawal et al. 2015: CNN image features times a question
encoding, then a classifier over the answers) trained on easy-VQA's train split and measured
on its test split.

The question is a bag of words (sum of word embeddings, padding ignored); the image goes
through three conv blocks and global average pooling. Training encodes each image once per
batch and pairs it with all of its questions, so an epoch costs about 4,000 image passes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from contract.metadata import ImageInput, ModelMetadata, Question
from toolchain.datasets.easyvqa import (
    VqaSplit,
    easy_vqa,
    encode_questions,
    question_tokenizer,
)
from toolchain.model_folder import ModelCard, TensorSpec
from toolchain.zoo._publish import image_tensor, publish
from toolchain.zoo._training import (
    Batch,
    UInt8Images,
    WithSoftmax,
    accuracy,
    card_facts,
    export_and_measure,
    fit,
    prefer,
    run_metrics,
    samples_folder,
    seed_everything,
    trained_here,
    write_samples,
)

NAME = "easyvqa"
DESCRIPTION = "CloudCV-style VQA (CNN x bag-of-words question) trained on easy-VQA"
SEED = 2015
EPOCHS = 14
IMAGE_SIZE = 64
QUESTION_TOKENS = 12
WIDTH = 64

log = logging.getLogger(__name__)


def conv_block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class EasyVqaModel(nn.Module):
    """(image uint8 [B, 64, 64, 3], question int64 [B, L]) -> answer logits [B, A]."""

    def __init__(self, vocabulary_size: int, answers: int) -> None:
        super().__init__()
        self.normalize = UInt8Images([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
        self.image_encoder = nn.Sequential(
            conv_block(3, 16),
            conv_block(16, 32),
            conv_block(32, WIDTH),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(WIDTH, WIDTH),
            nn.Tanh(),
        )
        self.words = nn.Embedding(vocabulary_size, WIDTH, padding_idx=0)
        self.question_encoder = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.Tanh())
        self.classifier = nn.Sequential(
            nn.Linear(WIDTH, WIDTH), nn.ReLU(inplace=True), nn.Linear(WIDTH, answers)
        )

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(self.normalize(images))

    def answer(self, image_features: torch.Tensor, questions: torch.Tensor) -> torch.Tensor:
        question = self.question_encoder(self.words(questions).sum(dim=1))
        return self.classifier(image_features * question)

    def forward(self, images: torch.Tensor, questions: torch.Tensor) -> torch.Tensor:
        return self.answer(self.encode_image(images), questions)


class GroupedTraining(nn.Module):
    """Each image encoded once, its features shared by all of its questions in the batch."""

    def __init__(self, model: EasyVqaModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, images: torch.Tensor, questions: torch.Tensor, owner: torch.Tensor
    ) -> torch.Tensor:
        return self.model.answer(self.model.encode_image(images)[owner], questions)


def train(model: EasyVqaModel, data: VqaSplit, tokens: np.ndarray, *, epochs: int) -> list[float]:
    rng = np.random.default_rng(SEED)
    images = torch.from_numpy(data.images)
    questions_of = [np.flatnonzero(data.image_rows == r) for r in range(len(data.images))]
    tokens_t, answers = torch.from_numpy(tokens), torch.from_numpy(data.answers)

    def make_batch(rows: np.ndarray) -> Batch:
        question_rows = np.concatenate([questions_of[r] for r in rows])
        owner = np.concatenate([np.full(len(questions_of[r]), i) for i, r in enumerate(rows)])
        flip = torch.from_numpy(rng.random(len(rows)) < 0.5).view(-1, 1, 1, 1)
        batch_images = images[torch.from_numpy(rows)]
        batch_images = torch.where(flip, batch_images.flip(2), batch_images)
        index = torch.from_numpy(question_rows)
        return (batch_images, tokens_t[index], torch.from_numpy(owner)), answers[index]

    return fit(
        GroupedTraining(model),
        len(data.images),
        make_batch,
        rng=rng,
        batch_size=32,  # images; each brings all of its questions
        epochs=epochs,
        learning_rate=5e-3,
        loss_fn=F.cross_entropy,
        name=NAME,
    )


def save_samples(out_dir: Path, test: VqaSplit, predicted: np.ndarray) -> Path:
    """Four test images, each with three of its questions that the model answers right (any
    three after a quick run, when it does not), and their true answers."""
    folder = samples_folder(out_dir, NAME, fresh=True)
    samples = []
    for row in range(4):
        image_name = f"test_{int(test.image_ids[row])}.png"
        Image.fromarray(test.images[row]).save(folder / image_name)
        rows = np.flatnonzero(test.image_rows == row)
        right = rows[predicted[rows] == test.answers[rows]]
        for question_row in prefer(right, rows, 3):
            samples.append(
                {
                    "image": image_name,
                    "question": test.questions[question_row],
                    "expected": test.answer_names[test.answers[question_row]],
                }
            )
    return write_samples(folder, NAME, "vqa", samples)


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Train on the train split, export, verify, measure on the test split, write the folder."""
    out_dir = Path(out_dir)
    seed_everything(SEED)
    train_split, test_split = easy_vqa("train"), easy_vqa("test")
    if quick:
        train_split, test_split = train_split.take_images(256), test_split.take_images(64)
    tokenizer = question_tokenizer(train_split.questions, QUESTION_TOKENS)
    model = EasyVqaModel(tokenizer.get_vocab_size(), len(train_split.answer_names))
    epochs = 1 if quick else EPOCHS
    train_tokens = encode_questions(tokenizer, train_split.questions)
    losses = train(model, train_split, train_tokens, epochs=epochs)

    test_tokens = encode_questions(tokenizer, test_split.questions)
    test_images = test_split.images[test_split.image_rows]
    exported = export_and_measure(
        WithSoftmax(model).eval(),
        {
            "image": torch.zeros(2, IMAGE_SIZE, IMAGE_SIZE, 3, dtype=torch.uint8),
            "question": torch.zeros(2, QUESTION_TOKENS, dtype=torch.int64),
        },
        ["probabilities"],
        {"image": test_images, "question": test_tokens},
        tolerance=1e-4,
    )
    onnx_model, predicted = exported.onnx_model, exported.outputs["probabilities"].argmax(1)
    test_accuracy = accuracy(predicted, test_split.answers)
    log.info("%s: test accuracy %.4f on %d questions", NAME, test_accuracy, len(test_split))
    metrics = {
        "test_accuracy": round(test_accuracy, 4),
        "test_questions": len(test_split),
        "test_images": len(test_split.images),
        "train_questions": len(train_split),
        "train_images": len(train_split.images),
        "epochs": epochs,
        **run_metrics(losses, quick),
    }
    image = ImageInput((IMAGE_SIZE, IMAGE_SIZE), resize="stretch")
    question = Question("tokenizer.json", QUESTION_TOKENS)
    folder = publish(
        out_dir,
        NAME,
        onnx_model,
        metadata=ModelMetadata.build("vqa", image, question, default=False,
                                     description=DESCRIPTION),
        inputs=[image_tensor(image), TensorSpec("question", "INT64", [QUESTION_TOKENS])],
        outputs=[
            TensorSpec(
                "probabilities",
                "FP32",
                [len(train_split.answer_names)],
                label_filename="labels.txt",
            )
        ],
        max_batch_size=64,
        labels=train_split.answer_names,
        files={question.tokenizer: tokenizer.to_str(pretty=True)},
        card=model_card(onnx_model, metrics, exported.verification),
        metrics=metrics,
    )
    save_samples(out_dir, test_split, predicted)
    return folder


def model_card(onnx_model, metrics: dict, verification: list[dict]) -> ModelCard:
    return ModelCard(
        title=f"{NAME}: visual question answering on easy-VQA",
        description=DESCRIPTION + ". Inputs: an RGB image (uint8, resized to 64x64) and the "
        f"question as {QUESTION_TOKENS} token ids from tokenizer.json (0 = padding); output: "
        "probabilities of the 13 answers in labels.txt.",
        source="Architecture after the CloudCV / VQA baseline (Agrawal et al., 'VQA: Visual "
        "Question Answering', 2015): image features and a question encoding multiplied "
        "element-wise, then an MLP classifier; here a 3-block CNN and a bag of word "
        "embeddings, by the Striate project. Weights " + trained_here(NAME, SEED),
        license="Apache-2.0 (the project's). Data: easy-VQA by Victor Zhou, MIT license, as "
        "the PyPI package easy-vqa 1.0 ships it.",
        training=f"easy-VQA's train split ({metrics['train_images']} images, "
        f"{metrics['train_questions']} questions), {metrics['epochs']} epochs, random "
        "horizontal flips, AdamW, one-cycle learning rate, cross-entropy over the answers. "
        f"Held out: easy-VQA's test split ({metrics['test_images']} images, "
        f"{metrics['test_questions']} questions), never used for training or model selection.",
        **card_facts(onnx_model),
        metrics={
            "test accuracy (onnxruntime)": f"{metrics['test_accuracy']:.2%} on "
            f"{metrics['test_questions']} questions",
        },
        verification=verification,
        notes="Not good for: real photographs or open questions. It knows one flat shape "
        "(circle, rectangle, triangle) in one of 8 colours on a white 64x64 image, questions "
        "phrased as in easy-VQA, and 13 answers (yes, no, 3 shapes, 8 colours); words it has "
        "not seen map to [UNK], and it always answers one of the 13.\n\n"
        "Tokenizer: tokenizer.json (Hugging Face tokenizers WordLevel, lower-cased"
        f", split, split on whitespace and punctuation, padded to {QUESTION_TOKENS}).",
    )
