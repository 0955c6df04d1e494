"""ONNX Runtime sessions: one small interface (load, infer, unload, ready), no transport types.

Importable and usable outside the server:

    runtime = OnnxRuntime(Path("m/1/model.onnx"), RuntimeOptions(device="cpu"))
    runtime.load()
    outputs = runtime.infer({"image": batch})
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import _pybind_state as ort_capi

from contract.datatypes import DATATYPE_BY_ONNX, NUMPY_BY_DATATYPE

from .config import GraphTensor
from .errors import InvalidInput, ModelLoadError

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run one model: device, threads, provider options, graph optimisation."""

    device: str = "cpu"
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    cuda_options: dict[str, str] = field(default_factory=dict)
    """CUDA provider options: prefer_nhwc, cudnn_conv_algo_search, enable_cuda_graph,
    gpu_mem_limit (bytes, bounds the memory arena), device_id, ..."""
    graph_optimization_level: int = 0
    """Triton's convention: -1 basic only, 0 all (default), 1 basic and extended."""
    allow_cpu_fallback: bool = False
    """On cuda, allow ONNX Runtime to place nodes without a CUDA kernel on the CPU."""
    intra_op_spinning: str = "within-runs"
    """When idle intra-op threads spin for work: within-runs (they stop when a run returns),
    never, or always (ONNX Runtime's default). Only for a session's own pool."""
    shared_thread_pool: bool = False
    """Run on the process's one intra-op pool (intra_op_threads sizes it) instead of the
    session's own; ONNX Runtime's shared pool spins as `always` does."""


def _as_onnx_strings(name: str, array: np.ndarray) -> np.ndarray:
    """BYTES elements -> str: ONNX string tensors hold UTF-8 text."""
    try:
        return np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else str(v),
                            otypes=[object])(array)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"input '{name}': ONNX string tensors need UTF-8 text; "
                           f"an element is not ({exc.reason})") from exc


# Index errors, and shape errors of graphs whose free dimensions only take some sizes (a
# detector whose height must be a multiple of 32 fails to broadcast its feature maps)
_INPUT_ERROR_WORDS = re.compile(r"out of (data )?bounds|out of range|invalid (index|indices)"
                                r"|attempting to broadcast|incompatible dimensions"
                                r"|shape mismatch", re.IGNORECASE)


def _is_input_error(exc: Exception) -> bool:
    """Whether ONNX Runtime blames the input (its INVALID_ARGUMENT class or an index out of
    range), rather than the model or the machine."""
    return type(exc).__name__ == "InvalidArgument" or bool(_INPUT_ERROR_WORDS.search(str(exc)))


def _ort_reason(exc: Exception) -> str:
    """ONNX Runtime's own sentence, without its status prefix and node names."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    marker = "Status Message: "
    text = text.split(marker, 1)[1] if marker in text else text.split(" : ")[-1]
    # "<source file>:<line> <function> <condition> was false. <the sentence>"
    return text.split(" was false. ", 1)[-1][:300]


_shared_pool_lock = threading.Lock()
_shared_pool_threads: int | None = None


def join_shared_thread_pool(threads: int) -> None:
    """Size the process's one ONNX Runtime intra-op pool on the first call (0: one thread per
    core); ONNX Runtime cannot resize it afterwards, so a later call must ask the same size."""
    global _shared_pool_threads
    with _shared_pool_lock:
        if _shared_pool_threads is None:
            # ONNX Runtime's only Python entry to its process-wide pools. One inter-op thread:
            # the caller's own (sessions run their nodes in sequence)
            ort_capi.set_global_thread_pool_sizes(threads, 1)
            _shared_pool_threads = threads
            log.info("models on the CPU share one ONNX Runtime thread pool (%s)",
                     f"{threads} threads" if threads else "one thread per core")
        elif threads != _shared_pool_threads:
            raise ModelLoadError(
                f"the shared thread pool was made with {_shared_pool_threads} intra-op threads "
                f"and ONNX Runtime cannot resize it; a model asking for {threads} needs its "
                "own pool (--thread-pool per-model)")


def _graph_tensors(args) -> list[GraphTensor]:
    tensors = []
    for arg in args:
        datatype = DATATYPE_BY_ONNX.get(arg.type)
        if datatype is None:
            raise ModelLoadError(f"tensor '{arg.name}' has type {arg.type}, which the "
                                 "inference protocol cannot carry")
        dims = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or []))
        tensors.append(GraphTensor(arg.name, datatype, dims))
    return tensors


class OnnxRuntime:
    """One ONNX model in one ONNX Runtime session."""

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        self.path = path
        self.options = options
        self.session: ort.InferenceSession | None = None
        self.inputs: list[GraphTensor] = []
        self.outputs: list[GraphTensor] = []

    @property
    def shown_path(self) -> str:
        """The model file as `<model>/<version>/<file>`: messages never show server paths."""
        return "/".join(self.path.parts[-3:])

    @property
    def ready(self) -> bool:
        """Whether a session is loaded."""
        return self.session is not None

    @property
    def on_cuda(self) -> bool:
        """Whether the model runs on the CUDA provider."""
        return self.options.device == "cuda"

    def load(self) -> None:
        """Create the session; on cuda, fail unless the CUDA provider really runs the model."""
        try:
            self.session = ort.InferenceSession(
                str(self.path), self._session_options(), providers=self._providers()
            )
        except ModelLoadError:
            raise
        except Exception as exc:  # onnxruntime raises several unrelated types
            reason = str(exc).replace(str(self.path), self.shown_path)
            raise ModelLoadError(
                f"ONNX Runtime could not load {self.shown_path}: {reason}") from exc
        if self.on_cuda and self.session.get_providers()[0] != CUDA:
            self.session = None
            raise ModelLoadError(
                f"{self.shown_path}: CUDA was asked for but ONNX Runtime would run this model on "
                f"{ort.get_available_providers()}; refusing to fall back to the CPU"
            )
        self.inputs = _graph_tensors(self.session.get_inputs())
        self.outputs = _graph_tensors(self.session.get_outputs())
        log.info("loaded %s on %s (%s)", self.path, self.session.get_providers()[0],
                 "shared thread pool" if self.options.shared_thread_pool else "own thread pool")

    def _providers(self) -> list:
        if not self.on_cuda:
            return [CPU]
        if CUDA not in ort.get_available_providers():
            raise ModelLoadError(
                "--device cuda needs onnxruntime-gpu, but the installed onnxruntime "
                f"{ort.__version__} offers only {ort.get_available_providers()}; "
                "install the gpu extra (pip install .[gpu]) or run with --device cpu"
            )
        return [(CUDA, dict(self.options.cuda_options)), CPU]

    def _session_options(self) -> ort.SessionOptions:
        options = ort.SessionOptions()
        self._set_threads(options)
        options.graph_optimization_level = {
            -1: ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            1: ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        }.get(self.options.graph_optimization_level, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        if self.on_cuda and not self.options.allow_cpu_fallback:
            options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        return options

    def _set_threads(self, options: ort.SessionOptions) -> None:
        if self.options.shared_thread_pool:
            join_shared_thread_pool(self.options.intra_op_threads)
            options.use_per_session_threads = False
            return
        options.intra_op_num_threads = self.options.intra_op_threads
        options.inter_op_num_threads = self.options.inter_op_threads
        spinning = self.options.intra_op_spinning
        options.add_session_config_entry("session.intra_op.allow_spinning",
                                         "0" if spinning == "never" else "1")
        options.add_session_config_entry("session.force_spinning_stop",
                                         "1" if spinning == "within-runs" else "0")

    def infer(self, inputs: dict[str, np.ndarray],
              output_names: list[str] | None = None) -> dict[str, np.ndarray]:
        """Run the model. Thread-safe: ONNX Runtime releases the GIL while it runs."""
        if self.session is None:
            raise RuntimeError(f"{self.path} is not loaded")
        names = output_names or [t.name for t in self.outputs]
        inputs = {name: _as_onnx_strings(name, a) if a.dtype == object else a
                  for name, a in inputs.items()}
        try:
            if self.on_cuda:
                return self._infer_io_binding(self.session, inputs, names)
            return dict(zip(names, self.session.run(names, inputs), strict=True))
        except Exception as exc:
            if _is_input_error(exc):
                shapes = {name: list(array.shape) for name, array in inputs.items()}
                raise InvalidInput(f"the model could not run on inputs shaped {shapes}: "
                                   f"{_ort_reason(exc)}") from exc
            raise

    @staticmethod
    def _infer_io_binding(session: ort.InferenceSession, inputs: dict[str, np.ndarray],
                          names: list[str]) -> dict[str, np.ndarray]:
        # Each input crosses PCIe once; outputs are allocated by ORT and copied back once.
        binding = session.io_binding()
        for name, array in inputs.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(array))
        for name in names:
            binding.bind_output(name, "cuda")
        session.run_with_iobinding(binding)
        return dict(zip(names, binding.copy_outputs_to_cpu(), strict=True))

    def warm_up(self, batched: bool = True) -> None:
        """One execution on zeros, so the first real request doesn't pay for lazy setup.
        Free dimensions get 32, except a batched model's first one, which gets 1."""
        feed = {}
        for tensor in self.inputs:
            dims = [1 if batched and i == 0 and d == -1 else (d if d > 0 else 32)
                    for i, d in enumerate(tensor.dims)]
            dtype = NUMPY_BY_DATATYPE[tensor.datatype]
            if tensor.datatype == "BYTES":
                feed[tensor.name] = np.full(dims, "", dtype=object)
            else:
                feed[tensor.name] = np.zeros(dims, dtype=dtype)
        try:
            self.infer(feed)
        except Exception as exc:  # a model may reject arbitrary shapes; that is not fatal
            log.warning("warm-up of %s skipped: %s", self.path, str(exc).splitlines()[0])

    def unload(self) -> None:
        """Drop the session (ONNX Runtime frees it once no call holds it)."""
        self.session = None
