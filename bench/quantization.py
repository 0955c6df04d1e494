"""int8 vs fp32 throughput of an exported classifier in bare ONNX Runtime, in one run.

    python bench/quantization.py                       # resnet18, 224x224, 2 threads
    python bench/quantization.py --architecture resnet50 --threads 4 --seconds 20

Exports the architecture (random weights unless --weights is given: speed does not depend on
the values), quantises it as `export --int8` does (QDQ, uint8 activations, int8 per-channel
weights) calibrated on --calibration images (synthetic smooth images when none are given), and
times both graphs on the same inputs, batch by batch. It measures speed only: the accuracy
checks of `export --int8` need real weights and real images.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from PIL import Image

from contract.metadata import ImageInput
from toolchain.architectures import BuildOptions
from toolchain.exporter import ExportRequest, export, latest_model_file
from toolchain.model_folder import save_onnx
from toolchain.variants import load_images, quantize_int8

log = logging.getLogger("bench.quantization")


def synthetic_images(folder: Path, count: int, size: int) -> Path:
    """Upsampled low-resolution noise: smooth like photographs, unlike raw noise."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(folder / f"{index}.png")
    return folder


def throughput(model: Path, batch: int, threads: int, seconds: float) -> float:
    """Images per second of one session over `seconds` (after two warm-up runs)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    shape = [batch] + [int(d) for d in session.get_inputs()[0].shape[1:]]
    images = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    for _ in range(2):
        session.run(None, {"image": images})
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.run(None, {"image": images})
        runs += 1
    return runs * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--architecture", default="resnet18", help="a classification architecture")
    parser.add_argument("--weights", default="none", help="state dict file (default: random)")
    parser.add_argument("--calibration", type=Path, help="calibration images (default: synthetic)")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--seconds", type=float, default=10.0, help="timing per configuration")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as work:
        options = BuildOptions(weights=args.weights)
        (folder,) = export(ExportRequest(args.architecture, Path(work) / "models", options=options))
        source = onnxruntime.InferenceSession(str(latest_model_file(folder)))
        size = int(source.get_inputs()[0].shape[1])
        calibration = args.calibration or synthetic_images(Path(work) / "calibration", 32, size)
        int8 = Path(work) / "int8.onnx"
        images = load_images(calibration, ImageInput((size, size), channels=3))
        save_onnx(quantize_int8(onnx.load_model(str(latest_model_file(folder))), images), int8)
        models = {"fp32": latest_model_file(folder), "int8": int8}
        print(f"{args.architecture}, {size}x{size}, {args.threads} threads, "
              f"onnxruntime {onnxruntime.__version__}")  # fmt: skip
        print(f"{'batch':>5} {'fp32 img/s':>11} {'int8 img/s':>11} {'speed-up':>9}")
        for batch in args.batch:
            fp32 = throughput(models["fp32"], batch, args.threads, args.seconds)
            quantized = throughput(models["int8"], batch, args.threads, args.seconds)
            print(f"{batch:>5} {fp32:>11.1f} {quantized:>11.1f} {quantized / fp32:>8.2f}x")


if __name__ == "__main__":
    main()
