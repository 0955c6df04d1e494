"""ONNX Runtime's thread modes side by side: one client, every model at once, steady-rate CPU.

    python bench/spinning.py --model-repository /tmp/bench \
        --model mobilenet_v3_small resnet18 --rounds 4

One Striate server per mode, all on the same repository and up at once: a mode is an
`--intra-op-spinning` choice (each model with its own thread pool), or `shared-pool`
(`--thread-pool shared`: one pool for every model, spinning as ONNX Runtime's shared pool does).
Each round drives every mode in turn (the order flips every round, so that load drifting on
the machine hits the modes alike) through three measurements:
- alone: each model by itself, one client sending batch-1 requests (the lone-client latency
  that spinning buys);
- together: every model at once, `--clients` clients each (where one model's threads
  spinning after its run take the cores another model's run needs);
- paced: the first model at a steady `--rate` requests/s from one client, and the CPU the
  server process used meanwhile, in % of one core (what a CPU-based autoscaler reads).
It prints every round and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import load  # bench/load.py: the load generator
import numpy as np
import tritonclient.grpc.aio as triton_aio
from load import Sample

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages
from service.launch import running_server  # noqa: E402
from service.settings import setting_spec  # noqa: E402

log = logging.getLogger("bench.spinning")
SPINNING = setting_spec("intra_op_spinning").metadata["choices"]
MODES = (*SPINNING, "shared-pool")


def server_args(mode: str) -> list[str]:
    """The server flags of one mode."""
    if mode == "shared-pool":
        return ["--thread-pool", "shared"]
    return ["--intra-op-spinning", mode]


async def model_inputs(url: str, models: list[str]) -> dict[str, dict[str, np.ndarray]]:
    async with triton_aio.InferenceServerClient(url) as client:
        return {model: load.make_inputs(await client.get_model_metadata(model), 1)
                for model in models}


async def drive_together(url: str, inputs: dict[str, dict[str, np.ndarray]], clients: int,
                         duration: float, warmup: float) -> list[Sample]:
    return await asyncio.gather(*(load.drive_server(url, model, arrays, clients, duration,
                                                    warmup)
                                  for model, arrays in inputs.items()))


async def drive_paced(url: str, model: str, inputs: dict[str, np.ndarray], rate: float,
                      duration: float) -> Sample:
    """One client sending a request every 1/rate s (or as soon as the last one returns)."""
    latencies = []
    tensors = load.infer_inputs(inputs)
    async with triton_aio.InferenceServerClient(url) as client:
        start = due = time.perf_counter()
        while due < start + duration:
            sent = time.perf_counter()
            await client.infer(model, tensors)
            latencies.append(time.perf_counter() - sent)
            due += 1 / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        return Sample(latencies, len(latencies), time.perf_counter() - start)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def p50_ms(sample: Sample) -> float:
    return load.merged("", [sample]).p50_ms


def describe(sample: Sample) -> str:
    return f"{sample.items / sample.seconds:7.1f}/s p50 {p50_ms(sample):6.2f} ms"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, required=True)
    parser.add_argument("--model", nargs="+", required=True,
                        help="model names to measure; the first one is paced")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated modes to compare, of {', '.join(MODES)}")
    parser.add_argument("--clients", type=int, default=2,
                        help="closed-loop clients per model when all models run together")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="requests/s of the paced measurement")
    parser.add_argument("--rounds", type=int, default=4, help="rounds; medians are printed")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    args = parser.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(args.modes) - set(MODES):
        parser.error(f"unknown mode(s) {', '.join(sorted(unknown))}; "
                     f"choose from {', '.join(MODES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("%s, %d cores, load average %s",
             time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
             " ".join(f"{v:.2f}" for v in os.getloadavg()))
    paced_model = args.model[0]
    alone: dict[tuple[str, str], list[Sample]] = {}
    together: dict[tuple[str, str], list[Sample]] = {}
    paced_cpu: dict[str, list[float]] = {}
    with ExitStack() as stack:
        servers = {mode: stack.enter_context(running_server(
            args.model_repository, *server_args(mode))) for mode in args.modes}
        inputs = asyncio.run(model_inputs(servers[args.modes[0]].grpc_url, args.model))
        for round_ in range(args.rounds):
            for mode in args.modes if round_ % 2 == 0 else args.modes[::-1]:
                url, pid = servers[mode].grpc_url, servers[mode].process.pid
                for model in args.model:
                    sample = asyncio.run(load.drive_server(url, model, inputs[model], 1,
                                                           args.duration, args.warmup))
                    alone.setdefault((mode, model), []).append(sample)
                    log.info("round %d %-11s alone    %-20s %s", round_ + 1, mode, model,
                             describe(sample))
                samples = asyncio.run(drive_together(url, inputs, args.clients,
                                                     args.duration, args.warmup))
                for model, sample in zip(args.model, samples):
                    together.setdefault((mode, model), []).append(sample)
                    log.info("round %d %-11s together %-20s %s", round_ + 1, mode, model,
                             describe(sample))
                used = cpu_seconds(pid)
                sample = asyncio.run(drive_paced(url, paced_model, inputs[paced_model],
                                                 args.rate, args.duration))
                share = (cpu_seconds(pid) - used) / sample.seconds * 100
                paced_cpu.setdefault(mode, []).append(share)
                log.info("round %d %-11s paced    %-20s %s, server CPU %.0f%% of a core",
                         round_ + 1, mode, paced_model, describe(sample), share)
    print(f"\nmedian of {args.rounds} rounds, {args.duration:.0f} s each; alone: 1 client; "
          f"together: {args.clients} clients per model, all models at once; server CPU: "
          f"{paced_model} at {args.rate:.0f} requests/s")
    print("| mode | model | alone img/s | alone p50 ms | together img/s | together p50 ms | "
          "server CPU, % of a core |")
    print("|---|---|---|---|---|---|---|")
    for mode in args.modes:
        for model in args.model:
            cells = []
            for samples in (alone[mode, model], together[mode, model]):
                cells.append(f"{statistics.median(s.items / s.seconds for s in samples):.1f}")
                cells.append(f"{statistics.median(p50_ms(s) for s in samples):.2f}")
            cells.append(f"{statistics.median(paced_cpu[mode]):.0f}"
                         if model == paced_model else "")
            print(f"| {mode} | {model} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
