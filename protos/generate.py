"""Regenerate the Python gRPC stubs from the .proto files in this folder.

    python protos/generate.py           # write the stubs
    python protos/generate.py --check   # exit 1 if the committed stubs are stale

Both protos (the v2 protocol and the task API) go to `contract/protocol/`, the one copy that
the server, the clients and the toolchain import. Two rewrites follow protoc:
- protoc writes absolute imports between generated modules; they become relative ones so
  the stubs live inside their package;
- the descriptors register in `contract.protocol.POOL`, a pool of our own, not protobuf's
  default pool, so our v2 stubs and tritonclient's copy of the same protos can be imported
  by one process (names and wire format stay Triton's).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
TARGETS = {
    "contract/protocol": ["model_config.proto", "grpc_service.proto", "striate_tasks.proto"],
}
DEFAULT_POOL = "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile("
PRIVATE_POOL = ("from . import POOL as _POOL  # private pool: see contract/protocol/__init__.py\n"
                "DESCRIPTOR = _POOL.AddSerializedFile(")


def _generate(protos: list[str], out: Path) -> dict[str, str]:
    args = ["protoc", f"-I{PROTOS}", f"-I{protoc._get_resource_file_name('grpc_tools', '_proto')}",
            f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed on {protos}")
    modules = {p.stem for p in out.glob("*.py")}
    files = {}
    for path in sorted(out.iterdir()):
        text = path.read_text()
        for module in modules:
            text = re.sub(rf"^import {module} as", f"from . import {module} as", text, flags=re.M)
            text = re.sub(rf"^import {module}$", f"from . import {module}", text, flags=re.M)
        text = text.replace(DEFAULT_POOL, PRIVATE_POOL)
        files[path.name] = text
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the stubs are current")
    args = parser.parse_args()
    stale = []
    for target, protos in TARGETS.items():
        if not all((PROTOS / p).exists() for p in protos):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            files = _generate(protos, Path(tmp))
        destination = ROOT / target
        for name, text in files.items():
            path = destination / name
            if args.check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path.relative_to(ROOT)))
            else:
                destination.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if stale:
        print("stale generated stubs (run `python protos/generate.py`):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
