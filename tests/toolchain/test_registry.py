"""Every architecture `list` shows: task metadata that passes its task's schema
(docs/model-folders.md), and a tiny configuration that builds and runs."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch

from contract.metadata import parse_metadata
from toolchain.__main__ import main
from toolchain.architectures import BuildOptions, Component, architectures
from toolchain.exporter import build_components, run_torch

TASKS = {"classification", "detection", "segmentation", "captioning", "vqa", "speech"}
NAMES = sorted(architectures())


def listed_names() -> set[str]:
    output = io.StringIO()
    with redirect_stdout(output):
        assert main(["list"]) == 0
    return {line.split()[0] for line in output.getvalue().splitlines() if line.startswith("  ")}


def specs(component: Component, which: str) -> dict:
    return {spec.name: spec for spec in getattr(component, which)}


def check_image_input(component: Component) -> None:
    image = specs(component, "inputs")["image"]
    channels = int(component.parameters.get("channels", "3"))
    assert image.datatype == "UINT8" and image.format == "NHWC"
    assert len(image.dims) == 3 and image.dims[2] == channels
    if "image_size" in component.parameters and image.dims[0] != -1:
        height, width = map(int, component.parameters["image_size"].split(","))
        assert image.dims[:2] == [height, width]
    assert component.parameters.get("resize", "stretch") in ("stretch", "letterbox", "center_crop")


def check_labelled_output(component: Component, name: str, size: int | None) -> None:
    output = specs(component, "outputs")[name]
    assert output.label_filename == "labels.txt"
    assert component.labels and all(isinstance(label, str) for label in component.labels)
    if size is not None:
        assert len(component.labels) == size


def check_classification(components: list[Component]) -> None:
    (model,) = components
    check_image_input(model)
    assert model.max_batch_size > 0
    probabilities = specs(model, "outputs")["probabilities"]
    assert probabilities.datatype == "FP32"
    check_labelled_output(model, "probabilities", probabilities.dims[0])
    if model.parameters.get("resize") == "center_crop":  # a torchvision preset
        crop = int(model.parameters["image_size"].split(",")[0])
        assert int(model.parameters["resize_size"]) >= crop


def check_detection(components: list[Component]) -> None:
    (model,) = components
    check_image_input(model)
    assert model.max_batch_size == 0
    outputs = specs(model, "outputs")
    assert (outputs["boxes"].datatype, outputs["boxes"].dims) == ("FP32", [-1, 4])
    assert (outputs["scores"].datatype, outputs["scores"].dims) == ("FP32", [-1])
    assert (outputs["labels"].datatype, outputs["labels"].dims) == ("INT64", [-1])
    check_labelled_output(model, "labels", None)


def check_segmentation(components: list[Component]) -> None:
    (model,) = components
    check_image_input(model)
    class_map = specs(model, "outputs")["class_map"]
    assert class_map.datatype in ("UINT8", "INT64") and len(class_map.dims) == 2
    check_labelled_output(model, "class_map", None)


def check_decoder(task_model: Component, components: list[Component]) -> None:
    assert task_model.parameters["decoder"] == "{name}_decoder"
    (decoder,) = [c for c in components if c.suffix == "_decoder"]
    assert decoder.parameters["task"] == "component"
    kind = decoder.parameters.get("decoder_kind", task_model.parameters.get("decoder_kind"))
    assert kind in ("full_sequence", "kv_cache")
    inputs, outputs = specs(decoder, "inputs"), specs(decoder, "outputs")
    assert {"features", "tokens"} <= set(inputs) and "logits" in outputs
    assert inputs["tokens"].datatype == "INT64" and inputs["tokens"].dims == [-1]
    past = {n.removeprefix("past_key_values.") for n in inputs if n.startswith("past_key_values.")}
    present = {n.removeprefix("present.") for n in outputs if n.startswith("present.")}
    assert past == present and (kind == "kv_cache") == bool(past)
    assert all(inputs[f"past_key_values.{n}"].dims[1] == -1 for n in past)


def check_captioning(components: list[Component]) -> None:
    encoder = components[0]
    check_image_input(encoder)
    assert "features" in specs(encoder, "outputs")
    check_decoder(encoder, components)
    vocabulary = encoder.files[encoder.parameters["vocabulary"]].splitlines()
    assert encoder.parameters["bos_token"] in vocabulary
    assert encoder.parameters["eos_token"] in vocabulary


def check_vqa(components: list[Component]) -> None:
    (model,) = components
    check_image_input(model)
    question = specs(model, "inputs")["question"]
    assert question.datatype == "INT64"
    assert question.dims == [int(model.parameters["max_question_tokens"])]
    assert model.parameters["tokenizer"] in model.files
    check_labelled_output(model, "probabilities", specs(model, "outputs")["probabilities"].dims[0])


def check_speech(components: list[Component]) -> None:
    model = components[0]
    frontend, decoding = model.parameters["frontend"], model.parameters["decoding"]
    inputs = specs(model, "inputs")
    if frontend == "whisper_log_mel":
        assert inputs["input_features"].dims == [80, 3000]
    else:
        assert frontend == "waveform" and inputs["audio"].dims == [-1]
    if decoding == "ctc":
        check_labelled_output(model, "logits", specs(model, "outputs")["logits"].dims[-1])
    else:
        assert decoding == "seq2seq" and model.parameters["tokenizer"] in model.files
        assert all(t.strip().isdigit() for t in model.parameters["bos_token_ids"].split(","))
        int(model.parameters["eos_token_id"])
        check_decoder(model, components)


SCHEMAS = {
    "classification": check_classification,
    "detection": check_detection,
    "segmentation": check_segmentation,
    "captioning": check_captioning,
    "vqa": check_vqa,
    "speech": check_speech,
}


def test_list_shows_every_registered_architecture() -> None:
    assert listed_names() == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_task_metadata_and_tiny_configuration(name: str) -> None:
    architecture = architectures()[name]
    assert architecture.task in TASKS and architecture.description and architecture.license
    components = build_components(architecture, BuildOptions(tiny=True), seed=0)
    assert components[0].suffix == "" and components[0].parameters["task"] == architecture.task
    SCHEMAS[architecture.task](components)
    for component in components:  # what the server parses when it loads the folder
        parse_metadata({k: v.format(name=name) for k, v in component.parameters.items()})
    for component in components:
        inputs = component.make_inputs("dummy", np.random.default_rng(0))
        outputs = run_torch(component, inputs)
        assert set(outputs) == {spec.name for spec in component.outputs}
        for spec in component.outputs:
            rank = len(spec.dims) + (1 if component.max_batch_size > 0 else 0)
            assert outputs[spec.name].ndim == rank, spec.name
            assert np.all(np.isfinite(outputs[spec.name].astype(np.float64)))
    torch.set_grad_enabled(True)
