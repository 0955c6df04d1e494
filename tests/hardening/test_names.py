"""Model names are checked before they reach the filesystem: odd names are NOT_FOUND with a
short message that shows no server path, and they cannot forge log lines."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as triton

from tests.hardening.test_batch_isolation import _vqa_inputs

ODD_NAMES = {
    "long": "m" * 10_000,
    "300 bytes": "\u00e9" * 150,
    "parent folder": "../{repository}/easyvqa",
    "absolute": "/{repository_path}/easyvqa",
    "control characters": "easyvqa\nERROR forged log line",
}


@pytest.mark.parametrize("kind", list(ODD_NAMES))
def test_odd_model_name_is_not_found_with_a_short_message(server, hardening_repository, kind):
    name = ODD_NAMES[kind].format(repository=hardening_repository.name,
                                  repository_path=str(hardening_repository).strip("/"))
    with triton.InferenceServerClient(server.grpc_url) as client:
        for call in (lambda: client.get_model_metadata(name),
                     lambda: client.infer(name, _vqa_inputs(np.ones(12, np.int64)))):
            with pytest.raises(triton.InferenceServerException) as error:
                call()
            assert error.value.status() == "StatusCode.NOT_FOUND"
            assert len(error.value.message()) < 300
            assert str(hardening_repository) not in error.value.message()
        assert not client.is_model_ready(name)
        assert client.infer("easyvqa", _vqa_inputs(np.ones(12, np.int64))) is not None
    assert "\nERROR forged" not in server.log()


def test_http_echoes_a_long_name_bounded(server):
    import json
    import urllib.error
    import urllib.request

    name = "m" * 10_000
    for path in (f"/v2/models/{name}", f"/v2/models/{name}/ready"):
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(server.http_url + path, timeout=30)
        assert error.value.code in (404, 503)
        assert len(json.dumps(json.loads(error.value.read()))) < 400
