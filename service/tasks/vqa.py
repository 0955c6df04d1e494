"""Visual question answering: an image and a question -> the top-k answers with scores."""

from __future__ import annotations

import numpy as np

from contract.metadata import Question, is_grounded

from ..core import InferenceCore
from ..errors import InvalidInput
from ..repository import LoadedModel
from .classify import ClassScore, top_classes
from .grounding import check_question, grounded_answers
from .imaging import prepare_image_async
from .limits import TaskLimits
from .models import infer_one, input_dims, labels_of, output_name
from .text import tokenizer_of


def question_tokens(model: LoadedModel, question: str, limits: TaskLimits) -> np.ndarray:
    """The question as the model's `question` input: token ids, padded with 0 to its length."""
    question = check_question(question, limits)
    metadata = model.metadata.section(Question)
    ids = tokenizer_of(model, metadata.tokenizer).encode(question).ids
    dims = input_dims(model, "question")
    length = metadata.max_question_tokens or (dims[-1] if dims else -1)
    if length > 0 and len(ids) > length:
        raise InvalidInput(f"the question is {len(ids)} tokens long; model '{model.name}' reads "
                           f"at most {length}: ask a shorter question")
    if not ids:
        raise InvalidInput("the question has no words the model knows; rephrase it")
    tokens = np.zeros(max(length, len(ids)), dtype=np.int64)
    tokens[: len(ids)] = ids
    return tokens


async def answer_question(core: InferenceCore, model: LoadedModel, image: bytes, question: str,
                          top_k: int, limits: TaskLimits) -> list[ClassScore]:
    if is_grounded(model.metadata):
        return await grounded_answers(core, model, image, question,
                                      min(top_k, limits.max_top_k), limits)
    tokens = question_tokens(model, question, limits)
    array, _ = await prepare_image_async(image, model, limits)
    output = output_name(model, "probabilities")
    result = await infer_one(core, model, {"image": array, "question": tokens}, [output])
    return top_classes(result[output], labels_of(model, output), min(top_k, limits.max_top_k))
