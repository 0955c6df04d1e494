#!/usr/bin/env bash
# GPU benchmark: the served model against bare ONNX Runtime on the same GPU, and the CPU.
#
#   bash bench/gpu.sh            # about 5 minutes on one GPU with 16 CPU cores
#
# Steps: export ResNet-50 (random weights; fp32 and fp16 folders) with the toolchain, serve the
# fp16 model with `--device cuda` and check that the CUDA provider runs it, drive the server
# with bench/load.py at batch 1 (latency) and batched (throughput), each against bare ONNX
# Runtime in process on the same GPU; then the fp32 model served on the CPU for the GPU/CPU
# ratio. Prints a Markdown table for the README.
#
# Needs: an NVIDIA GPU, onnxruntime-gpu (the version pinned in pyproject.toml's `gpu` extra),
# torch and torchvision (for the export), tritonclient[grpc], and the server's dependencies.
# On the lent GPU machine (../shared/GPU.md) these come from the image plus the carried wheels;
# see docs/deploy.md ("GPU benchmark").
#
# Settings (environment): PYTHON (default .venv/bin/python, else python3), WORK (a folder for
# models and logs; default a new temporary one), DURATION (seconds per GPU measurement, 15),
# CPU_DURATION (10), BATCH (items per batched request, 64), CONCURRENCY (clients for the
# batched runs, 4), MAX_BATCH (the model's max_batch_size, 128), MODEL (a torchvision
# classifier name, resnet50). When OUT is set, the table, the results and the logs are
# copied there (three files).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -x .venv/bin/python ]]; then default_python=.venv/bin/python; else default_python=python3; fi
PYTHON=${PYTHON:-$default_python}
WORK=${WORK:-$(mktemp -d -t striate-gpu-bench-XXXXXX)}
DURATION=${DURATION:-15}
CPU_DURATION=${CPU_DURATION:-10}
BATCH=${BATCH:-64}
CONCURRENCY=${CONCURRENCY:-4}
MAX_BATCH=${MAX_BATCH:-128}
MODEL=${MODEL:-resnet50}
SERVER_PID=""
GPU_NAME=""

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" || true
    fi
    SERVER_PID=""
}

finish() {
    stop_server
    if [[ -n "${OUT:-}" ]]; then   # three files: the table, the results, every log
        mkdir -p "$OUT"
        cp "$WORK/gpu-bench.md" "$OUT/" 2>/dev/null || true
        (cd "$WORK" && tail -n +1 ./*.json >"$OUT/gpu-bench-results.txt" 2>/dev/null) || true
        (cd "$WORK" && tail -n +1 ./*.log >"$OUT/gpu-bench-logs.txt" 2>/dev/null) || true
    fi
}
trap finish EXIT

# Python with onnxruntime's CUDA libraries preloaded (they may come from pip packages that
# the dynamic loader does not search), for every Python step that touches the GPU.
py_gpu() {
    "$PYTHON" -c 'import runpy, sys, onnxruntime as ort
getattr(ort, "preload_dlls", lambda: None)()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")' "$@"
}

check_gpu() {
    GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
    say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
    cat > "$WORK/check_cuda.py" <<'EOF'
import sys

import onnxruntime as ort

path = sys.argv[1]
print("onnxruntime", ort.__version__, ort.get_available_providers())
session = ort.InferenceSession(path, providers=["CUDAExecutionProvider"])
assert session.get_providers()[0] == "CUDAExecutionProvider", session.get_providers()
print("bare onnxruntime runs", path, "on", session.get_providers()[0])
EOF
}

export_models() {
    say "exporting $MODEL (random weights, fp32 + fp16, max batch $MAX_BATCH)"
    if timeout 240 "$PYTHON" -m toolchain export "$MODEL" --weights none --fp16 \
        --max-batch "$MAX_BATCH" --out "$WORK/exported" --overwrite >"$WORK/export.log" 2>&1; then
        return
    fi
    say "toolchain export failed (see export.log); exporting with torch.onnx directly"
    export_with_torch_onnx
}

# Fallback: the same model-folder contract (uint8 NHWC in, normalised in the graph, softmax
# out, batch dimension first), written without the toolchain.
export_with_torch_onnx() {
    "$PYTHON" - "$WORK/exported" "$MODEL" "$MAX_BATCH" >>"$WORK/export.log" 2>&1 <<'EOF'
import sys
from pathlib import Path

import onnx
import torch
import torchvision
from onnxruntime.transformers.float16 import convert_float_to_float16

out, name, max_batch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])


class Served(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = getattr(torchvision.models, name)(weights=None).eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, image):
        x = image.permute(0, 3, 1, 2).float() / 255.0
        return torch.softmax(self.net((x - self.mean) / self.std), dim=1)


def config(model_name: str) -> str:
    return f"""name: "{model_name}"
platform: "onnxruntime_onnx"
max_batch_size: {max_batch}
input [ {{ name: "image" data_type: TYPE_UINT8 format: FORMAT_NHWC dims: [ 224, 224, 3 ] }} ]
output [ {{ name: "probabilities" data_type: TYPE_FP32 dims: [ 1000 ] }} ]
dynamic_batching {{ max_queue_delay_microseconds: 2000 preferred_batch_size: [ 8 ] }}
parameters {{ key: "task" value {{ string_value: "classification" }} }}
parameters {{ key: "image_size" value {{ string_value: "224,224" }} }}
"""


def write(model: onnx.ModelProto, model_name: str) -> None:
    model.ir_version = min(model.ir_version, 10)
    (out / model_name / "1").mkdir(parents=True, exist_ok=True)
    onnx.save(model, out / model_name / "1" / "model.onnx")
    (out / model_name / "config.pbtxt").write_text(config(model_name))


example = torch.zeros(2, 224, 224, 3, dtype=torch.uint8)
fp32_path = out / "fp32.onnx"
out.mkdir(parents=True, exist_ok=True)
torch.onnx.export(Served(), (example,), str(fp32_path), input_names=["image"],
                  output_names=["probabilities"], opset_version=17, dynamo=False,
                  dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}})
fp32 = onnx.load(str(fp32_path))
fp32_path.unlink()
write(fp32, name)
write(convert_float_to_float16(fp32, keep_io_types=True), f"{name}_fp16")
print("wrote", out / name, out / f"{name}_fp16")
EOF
}

# Serve one model folder alone; sets SERVER_PID and GRPC_URL, checks the provider in the log.
start_server() {
    local device=$1 folder=$2 tag=$3
    local repository="$WORK/repository-$tag"
    rm -rf "$repository" && mkdir -p "$repository"
    ln -s "$WORK/exported/$folder" "$repository/$folder"
    rm -f "$WORK/ready-$tag.json"
    "$PYTHON" -m service --model-repository "$repository" --grpc-port 0 --http-port 0 \
        --host 127.0.0.1 --device "$device" --ready-file "$WORK/ready-$tag.json" \
        >"$WORK/server-$tag.log" 2>&1 &
    SERVER_PID=$!
    local waited=0
    until [[ -f "$WORK/ready-$tag.json" ]]; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null || (( waited > 1800 )); then
            say "server ($device) did not become ready:"; tail -n 40 "$WORK/server-$tag.log" >&2
            exit 1
        fi
        sleep 0.1; waited=$((waited + 1))
    done
    GRPC_URL=127.0.0.1:$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["grpc_port"])' \
        "$WORK/ready-$tag.json")
    local provider=CPUExecutionProvider
    [[ "$device" == cuda ]] && provider=CUDAExecutionProvider
    if ! grep -q "on $provider" "$WORK/server-$tag.log"; then
        say "the server did not report $folder on $provider:"; cat "$WORK/server-$tag.log" >&2
        exit 1
    fi
    say "serving $folder on $provider at $GRPC_URL"
}

# One bench/load.py run against the running server; its JSON lands in $WORK/<name>.json.
measure() {
    local name=$1 device=$2 folder=$3 batch=$4 concurrency=$5 duration=$6
    say "measuring $name: batch $batch, concurrency $concurrency, ${duration}s each"
    py_gpu bench/load.py --url "$GRPC_URL" --model-repository "$WORK/exported" --model "$folder" \
        --device "$device" --scenarios "c${concurrency}b${batch}" \
        --duration "$duration" --warmup 3 --json "$WORK/$name.json" | tee "$WORK/$name.log"
}

table() {
    "$PYTHON" - "$WORK" "$MODEL" "$GPU_NAME" <<'EOF' | tee "$WORK/gpu-bench.md"
import json
import sys
from pathlib import Path

import onnxruntime

work, model, gpu = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
runs = {name: json.loads((work / f"{name}.json").read_text())["median"][0]
        for name in ("gpu-b1", "gpu-batched", "cpu-b1", "cpu-batched")}


def row(label, run, key, digits=1, ratio=False):
    server, bare = runs[run]["striate"][key], runs[run]["in_process"][key]
    share = f"{server / bare:.2f}" if ratio else ""
    return f"| {label} | {server:.{digits}f} | {bare:.{digits}f} | {share} |"


def load(run):
    return f"batch {runs[run]['batch']}, {runs[run]['clients']} client(s)"


print(f"{model} (random weights, 224x224 uint8 NHWC in) on {gpu}, onnxruntime "
      f"{onnxruntime.__version__}. Server: `python -m service` driven by bench/load.py "
      "(tritonclient.grpc.aio) on the same machine; bare: onnxruntime in process, same model.")
print()
print("| measurement | server | bare ONNX Runtime | server / bare |")
print("|---|---|---|---|")
print(row(f"GPU fp16, {load('gpu-b1')}: p50 latency (ms)", "gpu-b1", "p50_ms", 2))
print(row(f"GPU fp16, {load('gpu-b1')}: p99 latency (ms)", "gpu-b1", "p99_ms", 2))
print(row(f"GPU fp16, {load('gpu-b1')}: images/s", "gpu-b1", "throughput", ratio=True))
print(row(f"GPU fp16, {load('gpu-batched')}: images/s", "gpu-batched", "throughput",
          ratio=True))
print(row(f"GPU fp16, {load('gpu-batched')}: p50 latency (ms)", "gpu-batched", "p50_ms"))
print(row(f"CPU fp32, {load('cpu-b1')}: p50 latency (ms)", "cpu-b1", "p50_ms", 2))
print(row(f"CPU fp32, {load('cpu-batched')}: images/s", "cpu-batched", "throughput",
          ratio=True))
served = runs["gpu-batched"]["striate"]["throughput"] / runs["cpu-batched"]["striate"]["throughput"]
print()
print(f"Served throughput, GPU / CPU ({load('gpu-batched')}): {served:.1f}x")
EOF
}

main() {
    mkdir -p "$WORK"
    say "work folder $WORK, python $PYTHON"
    check_gpu
    export_models
    py_gpu "$WORK/check_cuda.py" "$WORK/exported/${MODEL}_fp16/1/model.onnx"

    start_server cuda "${MODEL}_fp16" gpu
    measure gpu-b1 cuda "${MODEL}_fp16" 1 1 "$DURATION"
    measure gpu-batched cuda "${MODEL}_fp16" "$BATCH" "$CONCURRENCY" "$DURATION"
    stop_server

    start_server cpu "$MODEL" cpu
    measure cpu-b1 cpu "$MODEL" 1 1 "$CPU_DURATION"
    measure cpu-batched cpu "$MODEL" "$BATCH" "$CONCURRENCY" "$CPU_DURATION"
    stop_server

    table
}

main "$@"
