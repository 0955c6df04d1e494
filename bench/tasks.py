"""Task API throughput and latency, against v2 tensor requests for the same model.

    python bench/tasks.py --task detect --model blazeface_faces \
        --input exported_models/samples/blazeface_faces/astronaut.jpg --concurrency 8 --seconds 5

Starts the server on --model-repository (or uses --url) and, each for --seconds, drives it
with (1) concurrent unary task requests (AsyncClient), (2) the same requests over one
bidirectional Stream, (3) v2 requests carrying the already-resized uint8 tensor
(tritonclient). The gap between (1) and (3) is what decoding, pre- and post-processing cost.

--megapixels N first enlarges the photo to about N megapixels (aspect kept, JPEG quality 90),
as a phone camera's 12-megapixel photo would arrive:

    python bench/tasks.py --task classify --model mobilenet_v3_small --megapixels 12 \
        --input exported_models/samples/blazeface_faces/astronaut.jpg --model-repository DIR
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import time
from pathlib import Path

import numpy as np
import tritonclient.grpc.aio as triton
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages
from clients import AsyncClient, StreamItem  # noqa: E402
from service.launch import running_server  # noqa: E402


def _row(name: str, latencies: list[float], seconds: float) -> str:
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    rate = len(latencies) / seconds
    return (f"{name:<14} {rate:9.1f} req/s   p50 {np.percentile(ms, 50):7.2f} ms"
            f"   p99 {np.percentile(ms, 99):7.2f} ms   ({len(latencies)} requests)")


async def _drive(call, concurrency: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop:
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def _stream(client: AsyncClient, args, data: bytes) -> tuple[int, float]:
    count = 0
    stop = time.perf_counter() + args.seconds

    async def items():
        index = 0
        while time.perf_counter() < stop:
            yield StreamItem(str(index), args.task, data, args.model)
            index += 1
            if index % args.concurrency == 0:
                await asyncio.sleep(0)

    start = time.perf_counter()
    async for _, outcome in client.stream(items()):
        if isinstance(outcome, Exception):
            raise outcome
        count += 1
    return count, time.perf_counter() - start


async def _v2_tensor(v2: triton.InferenceServerClient, model: str, data: bytes) -> np.ndarray:
    config = (await v2.get_model_config(model, as_json=True))["config"]
    image = next(i for i in config["input"] if i["name"] == "image")
    height, width, channels = (int(d) for d in image["dims"])
    picture = Image.open(io.BytesIO(data)).convert("L" if channels == 1 else "RGB")
    array = np.asarray(picture.resize((width, height)), dtype=np.uint8).reshape(height, width, -1)
    return array[np.newaxis] if int(config.get("max_batch_size", 0)) > 0 else array


def enlarged_jpeg(data: bytes, megapixels: float) -> bytes:
    """The photo resized to about `megapixels` million pixels, with a little sensor-like noise
    (so the file is nearer a camera's: 1.7 MB for 12 MP), as a quality-90 JPEG."""
    picture = Image.open(io.BytesIO(data)).convert("RGB")
    factor = (megapixels * 1e6 / (picture.width * picture.height)) ** 0.5
    size = (round(picture.width * factor), round(picture.height * factor))
    pixels = np.asarray(picture.resize(size, Image.BICUBIC), dtype=np.int16)
    pixels += np.random.default_rng(0).integers(-6, 7, pixels.shape, dtype=np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="JPEG",
                                                                   quality=90)
    return buffer.getvalue()


async def run(url: str, args) -> None:
    data = Path(args.input).read_bytes()
    if args.megapixels:
        data = enlarged_jpeg(data, args.megapixels)
        size = Image.open(io.BytesIO(data)).size
        print(f"photo enlarged to {size[0]}x{size[1]} ({len(data) / 1e6:.1f} MB JPEG)")
    method = {"classify": "classify", "detect": "detect", "segment": "segment",
              "caption": "caption"}[args.task]
    async with AsyncClient(url) as client:
        call = getattr(client, method)
        await call(data, model=args.model)  # warm up
        unary = await _drive(lambda: call(data, model=args.model), args.concurrency, args.seconds)
        streamed, stream_s = await _stream(client, args, data)
    print(f"{args.task} on {args.model}, {Path(args.input).name}, concurrency {args.concurrency}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(_row("task unary", unary, args.seconds))
    print(f"{'task stream':<14} {streamed / stream_s:9.1f} req/s   ({streamed} requests)")
    if args.skip_v2:
        return
    v2 = triton.InferenceServerClient(url)
    try:
        tensor = await _v2_tensor(v2, args.model, data)

        async def infer():
            item = triton.InferInput("image", list(tensor.shape), "UINT8")
            item.set_data_from_numpy(tensor)
            await v2.infer(args.model, [item])

        raw = await _drive(infer, args.concurrency, args.seconds)
    finally:
        await v2.close()
    print(_row("v2 tensors", raw, args.seconds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=Path("exported_models"))
    parser.add_argument("--url", help="a running server's gRPC address (else one is started)")
    parser.add_argument("--task", default="classify",
                        choices=["classify", "detect", "segment", "caption"])
    parser.add_argument("--model", required=True, help="model to drive (an image model)")
    parser.add_argument("--input", required=True, help="image file sent with every request")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--megapixels", type=float, help="enlarge the photo to this size first")
    parser.add_argument("--skip-v2", action="store_true", help="skip the v2 tensor comparison")
    args = parser.parse_args()
    if args.url:
        asyncio.run(run(args.url, args))
        return 0
    with running_server(args.model_repository, timeout=300) as server:
        asyncio.run(run(server.grpc_url, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
