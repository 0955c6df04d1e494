"""What the demo page shows beside results: the shipped samples and each model's card.

`GET /samples` lists `<repository>/samples/<model>/` (the cases of its expected.json) with the
route kind that serves them; `GET /samples/<model>/<file>` sends one; `GET /models/<name>/card`
is the summary of a model's MODEL_CARD.md (what it knows, its held-out result, its license).
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse

from clients.samples import load_cases

from ..errors import ModelNotFound
from ..tasks.handlers import TASK_OF_KIND
from .context import HttpContext

_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".webp": "image/webp", ".wav": "audio/wav", ".flac": "audio/flac"}


def list_samples(folder: Path, served: set[str]) -> list[dict]:
    """Every sample case under `folder` (one subfolder per model), with the route kind."""
    kind_of_task = {task: kind for kind, task in TASK_OF_KIND.items()}
    samples = []
    for model_folder in sorted(p for p in folder.glob("*") if p.is_dir()):
        for case in load_cases(model_folder):
            if case.task not in kind_of_task or not case.path.exists():
                continue
            samples.append({"kind": kind_of_task[case.task], "model": case.model,
                            "file": case.path.name, "name": case.name,
                            "url": f"/samples/{model_folder.name}/{case.path.name}",
                            "options": {k: str(v) for k, v in case.options.items()},
                            "served": case.model in served})
    return samples


def card_summary(card: Path) -> dict:
    """Title, first paragraph, license line and held-out metrics of a MODEL_CARD.md."""
    lines = card.read_text(encoding="utf-8").splitlines()
    title = next((line.lstrip("# ").strip() for line in lines if line.startswith("# ")), "")
    paragraphs = re.split(r"\n\s*\n", "\n".join(lines))
    summary = next((p.strip() for p in paragraphs
                    if p.strip() and not p.lstrip().startswith(("#", "-", "|"))), "")
    license_line = next((re.sub(r"\*\*(.+?)\*\*:?\s*", "", line.lstrip("- ")).strip()
                         for line in lines if "license" in line.lower()
                         and line.startswith("- ")), "")
    return {"title": title, "summary": summary, "license": license_line,
            "metrics": _metrics_rows(lines)}


def _metrics_rows(lines: list[str]) -> list[list[str]]:
    """Rows of the first table under a '## Metrics' heading."""
    rows: list[list[str]] = []
    in_metrics = False
    for line in lines:
        if line.startswith("## "):
            if rows:
                break
            in_metrics = line.lower().startswith("## metrics")
        elif in_metrics and line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= set("-: ") for cell in cells):
                rows.append(cells)
    return rows[1:]  # without the header row


def build_router(context: HttpContext) -> APIRouter:
    router = APIRouter(tags=["gallery"])
    samples_folder = context.settings.model_repository / "samples"

    @router.get("/samples", summary="The shipped sample inputs, per task")
    def samples() -> JSONResponse:
        served = {model.name for model in context.core.models()}
        return JSONResponse({"samples": list_samples(samples_folder, served)})

    @router.get("/samples/{model}/{file}", summary="One sample input")
    def sample(model: str, file: str) -> FileResponse:
        path = samples_folder / model / file
        if not (_SAFE_NAME.fullmatch(model) and _SAFE_NAME.fullmatch(file)
                and path.suffix.lower() in _MEDIA_TYPES and path.is_file()):
            raise ModelNotFound(f"there is no sample '{model}/{file}'; GET /samples lists them")
        return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix.lower()],
                            headers={"Cache-Control": "max-age=3600"})

    @router.get("/models/{name}/card", summary="The summary of a model's card")
    def card(name: str) -> JSONResponse:
        model = context.core.model(name)
        path = Path(model.directory) / "MODEL_CARD.md"
        if not path.is_file():
            return JSONResponse({"title": name, "summary": "", "license": "", "metrics": []})
        return JSONResponse(card_summary(path))

    return router
