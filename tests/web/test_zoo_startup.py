"""What a user sees in the log of `make serve`: every shipped model loads and warms up cleanly."""

from __future__ import annotations

import re


def test_every_shipped_model_warms_up_without_an_error_in_the_log(zoo_server):
    log = zoo_server.log()
    assert re.search(r"ready: \d+ model\(s\) serving", log)
    assert "warm-up of" not in log, [line for line in log.splitlines() if "warm-up" in line]
    # ONNX Runtime's own error lines ("[E:onnxruntime:...]") would show a failed warm-up run
    assert "[E:onnxruntime" not in log
