"""Every `--intra-op-spinning` choice reaches ONNX Runtime's session as documented, and runs."""

from __future__ import annotations

import numpy as np
import pytest

from service.runtime import OnnxRuntime, RuntimeOptions
from service.settings import setting_spec
from tests.support.models import save, scale_model

SPINNING = setting_spec("intra_op_spinning")
# mode -> ONNX Runtime's (allow_spinning, force_spinning_stop)
EXPECTED = {"never": ("0", "0"), "within-runs": ("1", "1"), "always": ("1", "0")}


def test_the_cli_offers_exactly_the_modes_the_runtime_knows_with_one_default() -> None:
    assert set(SPINNING.metadata["choices"]) == set(EXPECTED)
    assert SPINNING.default == RuntimeOptions().intra_op_spinning == "within-runs"


@pytest.mark.parametrize("mode", EXPECTED)
def test_a_spinning_mode_sets_the_session_and_the_model_runs(tmp_path, mode: str) -> None:
    path = save(scale_model(width=4, factor=3.0), tmp_path, "scale") / "1" / "model.onnx"
    runtime = OnnxRuntime(path, RuntimeOptions(intra_op_spinning=mode))
    runtime.load()
    assert runtime.session is not None
    options = runtime.session.get_session_options()
    keys = ("session.intra_op.allow_spinning", "session.force_spinning_stop")
    assert tuple(options.get_session_config_entry(k) for k in keys) == EXPECTED[mode]
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(runtime.infer({"x": x})["y"], x * 3)

