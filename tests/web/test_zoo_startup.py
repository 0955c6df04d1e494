"""What a user sees in the log of `make serve`: every shipped model loads and warms up cleanly."""

from __future__ import annotations

import re


def test_every_shipped_model_warms_up_without_an_error_in_the_log(zoo_server):
    log = zoo_server.log()
    ready = re.search(r"ready: \d+ model\(s\) serving", log)
    assert ready
    # Only the start-up: the package's other tests send malformed tensors on purpose, and ONNX
    # Runtime logs its own line for each before the caller gets INVALID_ARGUMENT
    startup = log[:ready.start()]
    assert "warm-up of" not in startup, [line for line in startup.splitlines()
                                         if "warm-up" in line]
    # ONNX Runtime's own error lines ("[E:onnxruntime:...]") would show a failed warm-up run
    assert "[E:onnxruntime" not in startup
