"""Task requests and v2 tensor requests for one model share its dynamic batcher."""

from __future__ import annotations

import asyncio
import re
import urllib.request

import numpy as np
import tritonclient.grpc.aio as triton
from PIL import Image

from clients import AsyncClient
from tests.e2e import media
from tests.e2e.tiny_models import COLOURS, colour_classifier
from tests.support.models import save
from tests.support.server import running_server

REQUESTS_PER_API = 4


def _metric(text: str, name: str, model: str) -> float:
    found = re.search(rf'^{name}{{[^}}]*model="{model}"[^}}]*}} ([0-9.e+]+)$', text, re.M)
    assert found, f"{name} for {model} not in /metrics"
    return float(found.group(1))


def test_task_and_v2_requests_batch_together(tmp_path):
    folder = save(colour_classifier(), tmp_path, "slow_batcher", config=(
        "max_batch_size: 8\n"
        "dynamic_batching { max_queue_delay_microseconds: 500000 "
        f"preferred_batch_size: [{2 * REQUESTS_PER_API}] }}\n"
        'parameters { key: "task" value { string_value: "classification" } }\n'))
    (folder / "labels.txt").write_text("\n".join(COLOURS) + "\n")
    pixels = np.asarray(Image.new("RGB", (16, 16), media.RGB["blue"]))

    async def v2_request(client: triton.InferenceServerClient) -> str:
        tensor = triton.InferInput("image", [1, 16, 16, 3], "UINT8")
        tensor.set_data_from_numpy(pixels[np.newaxis])
        result = await client.infer("slow_batcher", [tensor])
        return COLOURS[int(result.as_numpy("probabilities")[0].argmax())]

    async def both(url: str) -> list[str]:
        async with AsyncClient(url) as tasks:
            v2 = triton.InferenceServerClient(url)
            try:
                answers = await asyncio.gather(
                    *(tasks.classify(media.solid("blue"), model="slow_batcher")
                      for _ in range(REQUESTS_PER_API)),
                    *(v2_request(v2) for _ in range(REQUESTS_PER_API)))
            finally:
                await v2.close()
        return [a if isinstance(a, str) else a.top.label for a in answers]

    with running_server(tmp_path) as server:
        assert asyncio.run(both(server.grpc_url)) == ["blue"] * (2 * REQUESTS_PER_API)
        metrics = urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10).read().decode()
    assert _metric(metrics, "striate_inference_count_total", "slow_batcher") == 8
    assert _metric(metrics, "striate_inference_exec_count_total", "slow_batcher") < 8
