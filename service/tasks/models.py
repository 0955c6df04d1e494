"""Finding the model for a task, its files and labels, running it one item at a time, and
the seed of a request's random draws."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path

import numpy as np

from contract.batching import is_batched
from contract.metadata import tasks

from ..core import InferenceCore
from ..errors import InvalidInput, ModelNotFound
from ..repository import LoadedModel

TASKS = tasks()


def task_of(model: LoadedModel) -> str:
    return model.metadata.task


def is_default(model: LoadedModel) -> bool:
    return model.metadata.default


def default_model(models: list[LoadedModel], task: str) -> LoadedModel | None:
    """The model marked `default: "true"` for the task (the highest `default_rank` when several
    are), else the first by name, else None."""
    candidates = sorted((m for m in models if task_of(m) == task), key=lambda m: m.name)
    marked = sorted((m for m in candidates if is_default(m)),
                    key=lambda m: -m.metadata.info.default_rank)
    return next(iter(marked or candidates), None)


def resolve_model(core: InferenceCore, task: str, name: str = "", version: str = "",
                  how_to_add: str = "add one to the repository") -> LoadedModel:
    """The named model (checked to serve `task`), or the task's default model; when the task
    has none, NOT_FOUND says `how_to_add` one."""
    if name:
        model = core.model(name, version)
        if task_of(model) != task:
            served = task_of(model) or "no task"
            raise InvalidInput(
                f"model '{name}' serves {served}, not {task}; call ListModels to see which "
                f"models serve {task}"
            )
        return model
    default = default_model(core.models(), task)
    if default is None:
        raise ModelNotFound(f"no ready model serves the task {task}; {how_to_add}")
    return default


def model_file(model: LoadedModel, filename: str) -> Path:
    """A file beside the model's config.pbtxt."""
    return Path(model.directory) / filename


@functools.lru_cache(maxsize=256)
def _read_lines(path: Path, mtime: float) -> tuple[str, ...]:
    del mtime  # part of the cache key: an edited file is read again
    return tuple(line.rstrip("\r\n") for line in path.read_text(encoding="utf-8").splitlines())


def read_lines(path: Path) -> tuple[str, ...]:
    """A text file's lines (cached until the file changes); () when it does not exist."""
    if not path.exists():
        return ()
    return _read_lines(path, path.stat().st_mtime)


def labels_of(model: LoadedModel, output: str) -> tuple[str, ...]:
    """Class names of an output: its `label_filename`, else labels.txt beside the config."""
    filename = next((o.label_filename for o in model.config.output if o.name == output), "")
    return read_lines(Path(model.directory) / (filename or "labels.txt"))


def label(labels: tuple[str, ...], index: int) -> str:
    return labels[index] if 0 <= index < len(labels) else str(index)


def input_dims(model: LoadedModel, name: str) -> tuple[int, ...]:
    """Dims of an input without the batch dimension (as config.pbtxt states them)."""
    for tensor in model.config.input:
        if tensor.name == name:
            return tuple(tensor.dims)
    raise InvalidInput(f"model '{model.name}' has no input '{name}', which its task needs")


def output_name(model: LoadedModel, preferred: str) -> str:
    names = [t.name for t in model.config.output]
    return preferred if preferred in names else names[0]


async def infer_one(core: InferenceCore, model: LoadedModel, inputs: dict[str, np.ndarray],
                    outputs: list[str] | None = None) -> dict[str, np.ndarray]:
    """Run one item: adds the batch dimension when the model has one, and removes it again."""
    batched = is_batched(model.config)
    if batched:
        inputs = {name: array[np.newaxis] for name, array in inputs.items()}
    result = await core.infer(model.name, inputs, version=model.version, outputs=outputs)
    if batched:
        result = {name: array[0] for name, array in result.items()}
    return result


def request_seed(seed: int) -> int:
    """The request's seed, or a fresh one for 0 (1 to 2**31 - 1: it fits every API's
    integers, so an answer can say it and a caller can send it back)."""
    return seed or 1 + secrets.randbelow(2**31 - 1)
