"""`clients` works where only grpcio, protobuf, numpy and Pillow are installed.

A fresh virtual environment (no pip, nothing from the system) gets exactly those packages,
linked from the test venv, and a copy of `clients/` and `contract/` (the protocol stubs)
alone: no `service`, no onnxruntime, no torch. The CLI then talks to a real server from it.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

from tests.e2e import media

ROOT = Path(__file__).resolve().parents[2]
# the client's dependencies as they lie in site-packages (typing_extensions: grpcio's)
ALLOWED = ["grpc", "google", "numpy", "numpy.libs", "PIL", "pillow.libs", "typing_extensions.py"]


def _light_environment(root: Path) -> tuple[Path, Path]:
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(root / "venv")
    python = root / "venv" / "bin" / "python"
    target = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())
    source = Path(sysconfig.get_paths()["purelib"])
    for name in ALLOWED:
        if (source / name).exists():
            (target / name).symlink_to(source / name)
    code = root / "code"
    for package in ("clients", "contract"):
        shutil.copytree(ROOT / package, code / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return python, code


def test_clients_run_without_onnxruntime_torch_or_service(tiny_server, tmp_path):
    python, code = _light_environment(tmp_path)
    missing = subprocess.run(
        [python, "-c", "import importlib.util as u; "
         "print([m for m in ('onnxruntime', 'torch', 'service', 'tqdm') if u.find_spec(m)])"],
        cwd=code, capture_output=True, text=True, timeout=60)
    assert missing.stdout.strip() == "[]", missing.stderr
    image = tmp_path / "blue.png"
    image.write_bytes(media.solid("blue"))
    out = tmp_path / "boxes.png"
    runs = {("models",): "classification: tiny_colours", ("classify", str(image)): "blue 0.9",
            ("detect", str(image), "--out", str(out)): str(out)}
    for args, expected in runs.items():
        done = subprocess.run([python, "-m", "clients", *args, "--server", tiny_server.grpc_url],
                              cwd=code, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert expected in done.stdout
    assert out.exists()
