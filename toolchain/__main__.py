r"""python -m toolchain: export PyTorch models to verified, servable model folders.

python -m toolchain list
python -m toolchain export resnet50 --weights resnet50.pth --out exported_models
python -m toolchain export resnet18 --weights r18.pth --out exported_models --fp16 --int8 \
        --calibration images/
python -m toolchain verify exported_models/resnet50
python -m toolchain inspect exported_models/resnet50      (or an architecture name)
python -m toolchain train lenet5_mnist --out exported_models [--quick]
python -m toolchain import NAME --out exported_models
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from contract.batching import DEFAULT_MAX_BATCH_SIZE
from contract.onnx_limits import MAX_OPSET
from toolchain.architectures import FAMILIES, BuildOptions, ExportError, architectures
from toolchain.model_folder import ModelFolderError

log = logging.getLogger("toolchain")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.command(args)
    except (ExportError, ModelFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m toolchain",
        description="Turn PyTorch models (torchvision, Hugging Face, the zoo) into verified "
        "model folders that `python -m service` serves.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    export = commands.add_parser(
        "export",
        help="export an architecture to a model folder",
        description="Export, verify against PyTorch, write the folder.",
    )
    export.add_argument("architecture", help="a name from `python -m toolchain list`")
    export.add_argument(
        "--weights",
        required=True,
        help="a state dict file (torchvision, LeNet-5) or a Hugging Face model "
        "folder; 'default' for the library's published weights (needs the hub "
        "or its cache); 'none' for random weights (tests)",
    )
    export.add_argument("--out", type=Path, required=True, help="model repository to write into")
    export.add_argument("--name", default="", help="model name (default: the architecture)")
    export.add_argument("--opset", type=int, default=17,
                        help=f"ONNX opset, at most {MAX_OPSET} (default 17)")
    export.add_argument(
        "--max-batch",
        type=int,
        default=DEFAULT_MAX_BATCH_SIZE,
        help=f"max_batch_size for models with a batch dimension (default "
        f"{DEFAULT_MAX_BATCH_SIZE})",
    )
    export.add_argument("--num-classes", type=int, help="classes of a fine-tuned model")
    export.add_argument("--labels", type=Path, help="class names file, one per line")
    export.add_argument("--image-size", type=int, help="square input size (default: the model's)")
    export.add_argument(
        "--decoder",
        choices=["kv_cache", "full_sequence"],
        default="kv_cache",
        help="text decoders (captioning, Whisper): with cached keys and values (default), or "
        "re-reading the whole sequence for every token",
    )
    export.add_argument(
        "--fp16", action="store_true", help="also write <name>_fp16 (float16 weights, for GPUs)"
    )
    export.add_argument(
        "--int8",
        action="store_true",
        help="also write <name>_int8 (static int8 quantisation, for CPUs)",
    )
    export.add_argument(
        "--calibration",
        type=Path,
        help="folder of images that calibrate --int8 (use real, typical inputs)",
    )
    export.add_argument(
        "--tiny",
        action="store_true",
        help="the small test configuration of the architecture (--weights none)",
    )
    export.add_argument("--overwrite", action="store_true", help="replace existing folders")
    export.set_defaults(command=run_export)

    listing = commands.add_parser("list", help="architectures by task")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(command=run_list)

    verify = commands.add_parser("verify", help="compare an exported folder with PyTorch again")
    verify.add_argument("folder", type=Path)
    verify.set_defaults(command=run_verify)

    inspect = commands.add_parser("inspect", help="parameters, size, tensors, opset, provenance")
    inspect.add_argument("target", help="a model folder, or an architecture name")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.set_defaults(command=run_inspect)

    for verb, help_text in (("train", "train a zoo model"), ("import", "import a zoo model")):
        zoo = commands.add_parser(verb, help=help_text)
        zoo.add_argument("name", nargs="?", help="zoo model name (omit to list them)")
        zoo.add_argument(
            "--out",
            type=Path,
            default=Path("exported_models"),
            help="model repository (default exported_models)",
        )
        if verb == "train":
            zoo.add_argument("--quick", action="store_true", help="a few steps only (CI)")
        zoo.set_defaults(command=run_zoo, verb=verb)
    return parser


def run_export(args: argparse.Namespace) -> int:
    from toolchain.exporter import ExportRequest, export
    from toolchain.variants import write_variants

    if args.opset > MAX_OPSET:
        raise ExportError(f"onnxruntime 1.31 loads opset {MAX_OPSET} at most: use --opset "
                          f"{MAX_OPSET} or lower")
    if args.int8 and not args.calibration:
        raise ExportError("--int8 needs --calibration DIR: a folder of typical input images")
    labels = None
    if args.labels:
        labels = [line.strip() for line in args.labels.read_text().splitlines() if line.strip()]
    options = BuildOptions(
        weights=args.weights,
        tiny=args.tiny,
        num_classes=args.num_classes,
        labels=labels,
        max_batch_size=args.max_batch,
        image_size=args.image_size,
        decoder_kind=args.decoder,
    )
    request = ExportRequest(
        args.architecture,
        args.out,
        name=args.name,
        options=options,
        opset=args.opset,
        overwrite=args.overwrite,
    )
    folders = export(request)
    folders += write_variants(
        folders[0],
        fp16=args.fp16,
        int8=args.int8,
        calibration=args.calibration,
        overwrite=args.overwrite,
    )
    for folder in folders:
        print(folder)
    return 0


def run_list(args: argparse.Namespace) -> int:
    known = architectures()
    if args.json:
        print(
            json.dumps(
                {name: {"task": a.task, "description": a.description} for name, a in known.items()},
                indent=2,
            )
        )
        return 0
    for family in FAMILIES:
        print(f"{family}:")
        for name, architecture in known.items():
            if architecture.task == family:
                print(f"  {name:40s} {architecture.description}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from toolchain.verification import verify_folder

    for row in verify_folder(args.folder):
        print(f"{row['output']}: {row['metric']} {row['value']} (tolerance {row['tolerance']}) ok")
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    from toolchain.inspection import format_report, inspect_target

    report = inspect_target(args.target)
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0


def run_zoo(args: argparse.Namespace) -> int:
    from toolchain import zoo

    scripts = zoo.trainers() if args.verb == "train" else zoo.importers()
    if not args.name:
        for name, module in sorted(scripts.items()):
            print(f"{name:30s} {module.DESCRIPTION}")
        return 0
    if args.name not in scripts:
        raise ExportError(
            f"no zoo model {args.name!r} to {args.verb}; known: "
            f"{', '.join(sorted(scripts)) or 'none yet'}"
        )
    kwargs = {"quick": args.quick} if args.verb == "train" else {}
    print(scripts[args.name].main(args.out, **kwargs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
