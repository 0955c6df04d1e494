"""Every shipped model folder against the metadata schema (torchvision's test_extended_models
is the example), the schema's parsing and writing, and the docs generated from it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from contract.metadata import (
    Grounding,
    ImageInput,
    MetadataError,
    ModelMetadata,
    Question,
    SpeechFrontEnd,
    SpeechTokens,
    TextDecoder,
    Vocabulary,
    is_grounded,
    parameters_markdown,
    parse_metadata,
)
from service.config import parameters_of, read_config

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = ROOT / "exported_models"
FOLDERS = sorted(p.parent.name for p in REPOSITORY.glob("*/config.pbtxt"))


def metadata_of(name: str) -> ModelMetadata:
    return parse_metadata(parameters_of(read_config(REPOSITORY / name)))


def test_the_repository_has_model_folders():
    assert len(FOLDERS) >= 5


@pytest.mark.parametrize("name", FOLDERS)
def test_shipped_folder_metadata_follows_the_schema(name):
    folder = REPOSITORY / name
    config = read_config(folder)
    metadata = metadata_of(name)
    assert parse_metadata(metadata.to_parameters()) == metadata  # the toolchain writes it back
    if metadata.task != "component":
        assert metadata.description, "ListModels shows the description"
        assert (folder / "MODEL_CARD.md").exists()
    inputs = {t.name: tuple(t.dims) for t in config.input}
    if metadata.has(ImageInput):
        image = metadata.section(ImageInput)
        dims = inputs["image"]
        if image.image_size and dims[0] > 0:
            assert tuple(dims[:2]) == image.image_size
        if image.channels and dims[2] > 0:
            assert dims[2] == image.channels
    for output in config.output:
        if output.label_filename:
            assert (folder / output.label_filename).read_text().strip()
    _check_named_files(folder, metadata)


def _check_named_files(folder: Path, metadata: ModelMetadata) -> None:
    if is_grounded(metadata):
        grounding = metadata.section(Grounding)
        assert metadata_of(grounding.object_detector).task == "detection"
        for name, task in ((grounding.pose_estimator, "pose"), (grounding.text_reader, "ocr")):
            built = name and (REPOSITORY / name).is_dir()  # ppocr_v4 is built, not shipped
            assert not built or metadata_of(name).task == task, f"{name} serves {task}"
        return
    if metadata.has(TextDecoder) and metadata.section(TextDecoder).decoder:
        decoder = metadata.section(TextDecoder).decoder
        assert metadata_of(decoder).task == "component", f"{decoder} is a component"
    if metadata.task == "captioning":
        vocabulary = metadata.section(Vocabulary)
        words = (folder / vocabulary.vocabulary).read_text().splitlines()
        assert vocabulary.bos_token in words and vocabulary.eos_token in words
    if metadata.has(Question):
        assert (folder / metadata.section(Question).tokenizer).exists()
    if metadata.has(SpeechFrontEnd) and metadata.section(SpeechFrontEnd).decoding == "seq2seq":
        assert (folder / metadata.section(SpeechTokens).tokenizer).exists()


@pytest.mark.parametrize(("parameters", "message"), [
    ({"task": "detection", "score_treshold": "0.3"},
     "parameter 'score_treshold' is not a detection parameter (did you mean 'score_threshold'?)"),
    ({"task": "detection", "score_threshold": "high"},
     "parameter 'score_threshold' is 'high', which is not a number"),
    ({"task": "detection", "nms_iou": "1.5"}, "parameter 'nms_iou' is 1.5; it must be at most 1"),
    ({"task": "clasification"}, "parameter 'task' is 'clasification', which is not a task"),
    ({"taks": "classification"}, "parameter 'taks' is not read for a model without a task "
                                 "(did you mean 'task'?)"),
    ({"task": "classification", "image_size": "28"},
     "parameter 'image_size' is '28', which is not `H,W` (two integers)"),
    ({"task": "classification", "resize": "crop"}, "parameter 'resize' is 'crop'; use one of"),
    ({"task": "classification", "channels": "4"}, "parameter 'channels' is '4'; use one of"),
    ({"task": "classification", "default": "yes"}, "parameter 'default' is 'yes', which is not"),
    ({"task": "captioning"}, "parameter 'decoder' is missing"),
    ({"task": "speech", "decoding": "seq2seq"}, "parameter 'decoding' is 'seq2seq', which "
                                                "cannot follow frontend 'waveform'"),
    ({"task": "speech", "frontend": "whisper_log_mel", "decoding": "seq2seq", "decoder": "d"},
     "parameter 'bos_token_ids' is missing"),
    ({"image_size": "2,2"}, "parameter 'image_size' is not read for a model without a task"),
])
def test_a_bad_parameter_is_refused_naming_its_key(parameters, message):
    with pytest.raises(MetadataError) as error:
        parse_metadata(parameters)
    assert message in str(error.value)


def test_a_model_without_a_task_may_carry_backend_parameters():
    assert parse_metadata({"execution_mode": "1"}).task == ""


def test_what_the_toolchain_builds_is_what_the_server_parses():
    built = ModelMetadata.build(
        "speech", SpeechFrontEnd("whisper_log_mel", "seq2seq"),
        TextDecoder("w_decoder", "kv_cache", 224), SpeechTokens(bos_token_ids=(1, 2, 3),
                                                                eos_token_id=4),
        default=True, description="a recogniser")
    parameters = built.to_parameters()
    assert parameters["bos_token_ids"] == "1,2,3" and parameters["default"] == "true"
    assert parse_metadata(parameters) == built
    image = ModelMetadata.build("classification", ImageInput((224, 224), resize="center_crop",
                                                             resize_size=256))
    assert parse_metadata(image.to_parameters()) == image
    with pytest.raises(MetadataError, match="'classification' has no Question metadata"):
        ModelMetadata.build("classification", Question())
    with pytest.raises(MetadataError, match="'pad_value' is 300"):
        ModelMetadata.build("detection", ImageInput(pad_value=300))


def test_every_parameter_is_documented():
    docs = (ROOT / "docs" / "model-folders.md").read_text()
    assert parameters_markdown() in docs, (
        "docs/model-folders.md is out of date: paste contract.metadata.parameters_markdown() "
        "into it (python -c 'from contract.metadata import parameters_markdown as p; print(p())')")
    for section in (ImageInput, TextDecoder, SpeechFrontEnd):
        for spec in dataclasses.fields(section):
            assert spec.metadata["doc"], f"{section.__name__}.{spec.name} has no meaning"
