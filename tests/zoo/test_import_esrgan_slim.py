"""ESRGAN-slim (toolchain/tfjs/layers.py, toolchain/zoo/import_esrgan_slim.py): the committed
graphs against TF.js on a photo they were not verified on, and the tile margin the server
relies on measured on the graph itself."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from contract.metadata import SuperResolution, parse_metadata
from service.config import parameters_of, read_config
from toolchain.packages import PackageUnavailable
from toolchain.tfjs.reference import TfjsUnavailable, ensure_tfjs, run_tfjs
from toolchain.tflite.photos import photo
from toolchain.zoo import import_esrgan_slim

ZOO = Path(__file__).resolve().parents[2] / "exported_models"
SCALES = import_esrgan_slim.SCALES


@functools.cache
def session(scale: int) -> ort.InferenceSession:
    path = ZOO / import_esrgan_slim.folder_name(scale) / "1" / "model.onnx"
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def section(scale: int) -> SuperResolution:
    folder = ZOO / import_esrgan_slim.folder_name(scale)
    return parse_metadata(parameters_of(read_config(folder))).section(SuperResolution)


@pytest.mark.parametrize("scale", SCALES)
def test_committed_graph_matches_tfjs_on_a_photo_it_was_not_verified_on(scale):
    try:
        model_json = import_esrgan_slim.model_json(scale)
        ensure_tfjs()
    except (PackageUnavailable, TfjsUnavailable) as error:
        pytest.skip(str(error))
    crop = np.ascontiguousarray(photo("rocket")[100:148, 200:280])  # 80x48, not square
    ours = session(scale).run(None, {"pixels": crop})[0].astype(int)
    theirs = run_tfjs(model_json, {"LR": crop[None].astype(np.float32)}, ["SR"])["SR"][0]
    assert ours.shape == (48 * scale, 80 * scale, 3)
    assert np.abs(ours - np.rint(np.clip(theirs, 0, 255))).max() <= 1


@pytest.mark.parametrize("scale", SCALES)
def test_a_pixel_changes_the_answer_only_within_the_tile_margin(scale):
    margin = section(scale).tile_margin
    base = np.ascontiguousarray(photo("astronaut")[200:264, 200:264])
    changed = base.copy()
    changed[32, 32] = 255 - changed[32, 32]
    before, after = (session(scale).run(None, {"pixels": p})[0].astype(int)
                     for p in (base, changed))
    rows, cols = np.nonzero(np.abs(after - before).max(axis=2))
    reach = max(np.abs(rows // scale - 32).max(), np.abs(cols // scale - 32).max())
    assert 0 < reach <= margin  # the margin covers everything one pixel can reach
    assert reach >= margin - 2  # and is not much wider than needed
