"""Reference runs of a .tflite file with LiteRT (PyPI `ai-edge-litert`), when installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_tflite(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the model once per item of the batch (TFLite graphs here have batch 1).

    `inputs` maps input tensor names to arrays whose first dimension is the batch; the result
    maps output tensor names to arrays stacked the same way.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    input_details = {d["name"]: d["index"] for d in interpreter.get_input_details()}
    output_details = {d["name"]: d["index"] for d in interpreter.get_output_details()}
    batch = len(next(iter(inputs.values())))
    results: dict[str, list[np.ndarray]] = {name: [] for name in output_details}
    for item in range(batch):
        for name, array in inputs.items():
            interpreter.set_tensor(input_details[name], array[item : item + 1])
        interpreter.invoke()
        for name, index in output_details.items():
            results[name].append(interpreter.get_tensor(index)[0].copy())
    return {name: np.stack(arrays) for name, arrays in results.items()}
