"""Export an architecture to verified model folders.

    components = architecture.build(options)
    for each component: torch.onnx.export (a copy) -> compare with PyTorch on fresh inputs
    every check passed -> write_model_folder for each component

Nothing is written unless every component of the export passes its check.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import logging
import platform
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from tqdm import tqdm

from toolchain.architectures import Architecture, BuildOptions, Component, ExportError, get
from toolchain.model_folder import ModelCard, onnx_facts, write_model_folder

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17
DYNAMO_MIN_OPSET = 18
SEED = 0
VERIFICATION_FILE = "verification.json"


class VerificationError(ExportError):
    """The exported graph disagrees with PyTorch beyond the architecture's tolerance."""


@dataclass
class ExportRequest:
    """Everything `export` needs; recorded in verification.json so `verify` can rebuild it."""

    architecture: str
    out: Path
    name: str = ""
    options: BuildOptions = field(default_factory=BuildOptions)
    opset: int = DEFAULT_OPSET
    seed: int = SEED
    overwrite: bool = False


def export(request: ExportRequest) -> list[Path]:
    """Build, export, verify and write every component; returns the model folders."""
    architecture = get(request.architecture)
    name = request.name or (
        f"{architecture.name}_tiny" if request.options.tiny else architecture.name
    )
    components = build_components(architecture, request.options, request.seed)
    targets = [Path(request.out) / f"{name}{c.suffix}" for c in components]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not request.overwrite:
        raise ExportError(f"{', '.join(existing)} already exists: choose another --name or --out")
    exported = []
    for component in tqdm(
        components, desc=f"export {name}", unit="graph", disable=len(components) < 2
    ):
        model = export_component(component, request.opset)
        checks = verify_component(component, model, np.random.default_rng(request.seed + 1))
        exported.append((component, model, checks))
    return [
        write_component(request, architecture, name, component, model, checks)
        for component, model, checks in exported
    ]


def build_components(
    architecture: Architecture, options: BuildOptions, seed: int
) -> list[Component]:
    """The architecture's components, with random weights drawn from `seed` (reproducible)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        components = architecture.build(options)
    for component in components:
        component.module.eval()
        if component.export_module is not None:
            component.export_module.eval()
    return components


def export_component(component: Component, opset: int) -> onnx.ModelProto:
    """torch.onnx.export of a copy of the module (a failed export can alter the module)."""
    dummy = component.make_inputs("dummy", np.random.default_rng(SEED))
    arguments = tuple(torch.from_numpy(dummy[spec.name]) for spec in component.inputs)
    module = copy.deepcopy(component.export_module or component.module)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        kwargs = {
            "input_names": [spec.name for spec in component.inputs],
            "output_names": [spec.name for spec in component.outputs],
            "dynamic_axes": dynamic_axes(component),
            "opset_version": max(opset, DYNAMO_MIN_OPSET) if component.dynamo else opset,
            "dynamo": component.dynamo,
        }
        if component.dynamo:
            axes = kwargs.pop("dynamic_axes")
            dynamic = torch.export.Dim.DYNAMIC
            shapes = tuple(
                {axis: dynamic for axis in axes.get(s.name, {})} for s in component.inputs
            )
            shapes = _group_var_positional(module, shapes)
            kwargs.update(dynamic_shapes=shapes, external_data=False, verbose=False)
        try:
            with torch.no_grad(), without_attention_fastpath():
                torch.onnx.export(module, arguments, str(path), **kwargs)
        except Exception as error:
            raise ExportError(
                f"torch.onnx.export failed ({type(error).__name__}: {str(error)[:300]}). If an "
                f"operator is missing at opset {kwargs['opset_version']}, try a higher --opset "
                "(at most 20)."
            ) from error
        return onnx.load_model(str(path))


@contextlib.contextmanager
def without_attention_fastpath():
    """nn.MultiheadAttention's inference fast path (aten::_native_multi_head_attention) has
    no ONNX export; the plain path computes the same."""
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def _group_var_positional(module: torch.nn.Module, shapes: tuple) -> tuple:
    """torch.export wants the shapes of `*args` as one nested tuple."""
    parameters = list(inspect.signature(module.forward).parameters.values())
    for index, parameter in enumerate(parameters):
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return shapes[:index] + (tuple(shapes[index:]),)
    return shapes


def dynamic_axes(component: Component) -> dict[str, dict[int, str]]:
    """Batch first when max_batch_size > 0, and every -1 in dims, become dynamic axes."""
    offset = 1 if component.max_batch_size > 0 else 0
    axes = {}
    for spec in component.inputs + component.outputs:
        named = {0: "batch"} if offset else {}
        named.update({i + offset: f"{spec.name}_{i}" for i, d in enumerate(spec.dims) if d == -1})
        if named:
            axes[spec.name] = named
    return axes


def run_onnx(model: onnx.ModelProto | Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a graph in ONNX Runtime (CPU)."""
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs), strict=True))


def run_torch(component: Component, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the PyTorch module on the same named inputs."""
    arguments = [torch.from_numpy(inputs[spec.name]) for spec in component.inputs]
    with torch.no_grad():
        results = component.module(*arguments)
    if isinstance(results, torch.Tensor):
        results = (results,)
    return {spec.name: r.numpy() for spec, r in zip(component.outputs, results, strict=True)}


def compare(component: Component, expected: dict, actual: dict) -> list[dict]:
    """One check row per output: max abs diff for floats, mismatch fraction for integers."""
    rows = []
    for spec in component.outputs:
        want, got = expected[spec.name], actual[spec.name]
        row = {"output": spec.name, "shape": "x".join(map(str, want.shape))}
        if want.shape != got.shape:
            row.update(metric="shape", value=f"{got.shape} != {want.shape}", passed=False)
        elif np.issubdtype(want.dtype, np.floating):
            diff = float(np.max(np.abs(want - got))) if want.size else 0.0
            row.update(metric="max_abs_diff", value=diff, tolerance=component.tolerance)
            row["passed"] = diff <= component.tolerance
        else:
            mismatch = float(np.mean(want != got)) if want.size else 0.0
            row.update(metric="mismatch_fraction", value=mismatch)
            row.update(tolerance=component.mismatch_tolerance)
            row["passed"] = mismatch <= component.mismatch_tolerance
        rows.append(row)
    return rows


def verify_component(
    component: Component, model: onnx.ModelProto | Path, rng: np.random.Generator
) -> list[dict]:
    """Compare ONNX Runtime with PyTorch on fresh inputs; raise VerificationError on failure."""
    rows = []
    for purpose in component.verify_purposes:
        inputs = component.make_inputs(purpose, rng)
        checked = compare(component, run_torch(component, inputs), run_onnx(model, inputs))
        shapes = describe_inputs(inputs)
        rows += [dict(row, inputs=shapes) for row in checked]
    failed = [row for row in rows if not row["passed"]]
    if failed:
        details = "; ".join(f"{r['output']}: {r['metric']} {r['value']}" for r in failed[:5])
        raise VerificationError(
            f"the ONNX graph disagrees with PyTorch ({details}; tolerance "
            f"{component.tolerance}). Nothing was written."
        )
    worst = max(
        (r for r in rows if r["metric"] == "max_abs_diff"), key=lambda r: r["value"], default=None
    )
    if worst:
        log.info("verified: largest difference %s on %s", worst["value"], worst["output"])
    return rows


def describe_inputs(inputs: dict[str, np.ndarray], shown: int = 3) -> str:
    """'image 3x224x224x3, ...' for the model card (the first few inputs)."""
    parts = [f"{k} {'x'.join(map(str, v.shape))}" for k, v in inputs.items()]
    more = f" (+{len(parts) - shown} more)" if len(parts) > shown else ""
    return ", ".join(parts[:shown]) + more


def write_component(
    request: ExportRequest,
    architecture: Architecture,
    name: str,
    component: Component,
    model: onnx.ModelProto,
    checks: list[dict],
) -> Path:
    """Write one verified component as a model folder, with its card and verification.json."""
    parameters = {k: v.format(name=name) for k, v in component.parameters.items()}
    record = recipe(request, component, checks)
    card = model_card(architecture, name + component.suffix, component, model, request, checks)
    files = dict(component.files)
    files[VERIFICATION_FILE] = json.dumps(record, indent=2) + "\n"
    return write_model_folder(
        Path(request.out),
        name + component.suffix,
        model,
        inputs=component.inputs,
        outputs=component.outputs,
        max_batch_size=component.max_batch_size,
        parameters=parameters,
        labels=component.labels,
        files=files,
        card=card,
        overwrite=request.overwrite,
    )


def recipe(request: ExportRequest, component: Component, checks: list[dict]) -> dict:
    """What verification.json records: how to rebuild the PyTorch side, and the checks."""
    options = asdict(request.options)
    if options["weights"] not in ("none", "default"):
        options["weights"] = str(Path(options["weights"]).resolve())
    return {
        "architecture": request.architecture,
        "component": component.suffix,
        "options": options,
        "opset": request.opset,
        "seed": request.seed,
        "parameters": sum(p.numel() for p in component.module.parameters()),
        "checks": checks,
        "versions": {
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "python": platform.python_version(),
        },
    }


def model_card(
    architecture: Architecture,
    title: str,
    component: Component,
    model: onnx.ModelProto,
    request: ExportRequest,
    checks: list[dict],
) -> ModelCard:
    weights = request.options.weights
    if weights == "none":
        training = f"random weights (seed {request.seed}): for tests only, meaningless predictions"
    elif weights == "default":
        training = f"the library's published weights: {architecture.default_weights}"
    else:
        training = f"weights from {weights}"
    facts = onnx_facts(model)
    return ModelCard(
        title=title,
        description=component.parameters.get("description", architecture.description),
        source=f"{architecture.source}; exported with `python -m toolchain export "
        f"{architecture.name}`",
        license=architecture.license,
        training=training,
        parameters=sum(p.numel() for p in component.module.parameters()),
        size_bytes=facts["size_bytes"],
        opset=facts["opset"],
        verification=[{k: v for k, v in row.items() if k != "passed"} for row in checks],
        notes="Verified with ONNX Runtime (CPU) against the PyTorch model on fresh random inputs, "
        "at a batch (and, where the graph allows, an input size) other than the export's.",
    )


def latest_model_file(folder: Path) -> Path:
    versions = sorted((int(p.name) for p in folder.iterdir() if p.name.isdigit()), reverse=True)
    for version in versions:
        path = folder / str(version) / "model.onnx"
        if path.is_file():
            return path
    raise ExportError(f"{folder} has no <version>/model.onnx")
