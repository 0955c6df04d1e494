"""easy-VQA (Victor Zhou, MIT license), as the PyPI package `easy-vqa` ships it: 64x64 images
of one shape each, questions about them, 13 answers, a train and a test split.

The question tokenizer is a Hugging Face `tokenizers` WordLevel tokenizer built from the
training questions; the server loads the same tokenizer.json, so training and serving
tokenise alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

PAD_TOKEN, UNKNOWN_TOKEN = "[PAD]", "[UNK]"


@dataclass
class VqaSplit:
    """Images uint8 [I, 64, 64, 3]; per question: its text, answer index and image row."""

    images: np.ndarray
    questions: list[str]
    answers: np.ndarray
    image_rows: np.ndarray
    answer_names: list[str]
    image_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.questions)

    def take_images(self, count: int) -> VqaSplit:
        """The first `count` images and only the questions about them."""
        keep = np.flatnonzero(self.image_rows < count)
        return VqaSplit(
            self.images[:count],
            [self.questions[i] for i in keep],
            self.answers[keep],
            self.image_rows[keep],
            self.answer_names,
            self.image_ids[:count],
        )


def easy_vqa(split: str) -> VqaSplit:
    """The `train` (4,000 images, 38,575 questions) or `test` (1,000, 9,673) split."""
    try:
        import easy_vqa as package
    except ImportError as error:
        raise RuntimeError(
            "easy-VQA comes from the easy-vqa package: pip install 'easy-vqa==1.0' "
            "(or the toolchain extra: pip install -e '.[toolchain]')"
        ) from error
    if split == "train":
        texts, answers, ids = package.get_train_questions()
        paths = package.get_train_image_paths()
    else:
        texts, answers, ids = package.get_test_questions()
        paths = package.get_test_image_paths()
    names = package.get_answers()
    image_ids = np.array(sorted(paths), dtype=np.int64)
    row_of = {int(image_id): row for row, image_id in enumerate(image_ids)}
    images = np.stack([np.asarray(Image.open(paths[i]).convert("RGB")) for i in image_ids])
    return VqaSplit(
        images=images,
        questions=list(texts),
        answers=np.array([names.index(a) for a in answers], dtype=np.int64),
        image_rows=np.array([row_of[i] for i in ids], dtype=np.int64),
        answer_names=names,
        image_ids=image_ids,
    )


def question_tokenizer(questions: list[str], length: int) -> Tokenizer:
    """A lower-casing WordLevel tokenizer over the words of `questions`, padding and
    truncating to `length` ids; [PAD] is id 0 and [UNK] id 1."""
    splitter = pre_tokenizers.Whitespace()
    words = sorted({w for q in questions for w, _ in splitter.pre_tokenize_str(q.lower())})
    vocabulary = {PAD_TOKEN: 0, UNKNOWN_TOKEN: 1} | {w: i + 2 for i, w in enumerate(words)}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token=UNKNOWN_TOKEN))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = splitter
    tokenizer.enable_padding(pad_id=0, pad_token=PAD_TOKEN, length=length)
    tokenizer.enable_truncation(max_length=length)
    return tokenizer


def encode_questions(tokenizer: Tokenizer, questions: list[str]) -> np.ndarray:
    """Token ids int64 [N, length]."""
    return np.array([e.ids for e in tokenizer.encode_batch(questions)], dtype=np.int64)
