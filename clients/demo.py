"""The tour: run every task on the zoo's sample inputs and write what the server said.

    python -m clients.demo --server localhost:8001 --samples exported_models/samples --out demo_out

For each `samples/<model>/expected.json` whose model the server serves, every sample goes
over one stream; the results are checked against expected.json, drawn (boxes, masks, labels,
captions and answers on the image; transcripts as text; games as GIFs; writing as PNGs) under
`--out/<model>/`, and summed up in `--out/report.md` and on the terminal.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .client import DEFAULT_SERVER, Client
from .progress import Progress
from .render import (
    draw_detections,
    draw_poses,
    draw_text_lines,
    draw_transcript,
    overlay_segmentation,
    save_png,
    with_text,
)
from .results import (
    Answers,
    Caption,
    Classification,
    ClientError,
    Detections,
    Game,
    Handwriting,
    PictureAnswer,
    Poses,
    Result,
    Segmentation,
    TaskProgress,
    TextReading,
    Transcript,
)
from .samples import SampleCase, check, load_cases, outcome_text


@dataclass(frozen=True)
class Row:
    case: SampleCase
    outcome: Result | ClientError
    passed: bool
    reason: str
    rendered: Path | None


def drawn(case: SampleCase, result: Result) -> Image.Image:
    """The sample with the result drawn on it (or the answer, for a task that answers a
    picture)."""
    if isinstance(result, Transcript):
        return draw_transcript(case.path, result)
    if isinstance(result, Detections):
        return draw_detections(case.path, result)
    if isinstance(result, Segmentation):
        return overlay_segmentation(case.path, result)
    if isinstance(result, Poses):
        return draw_poses(case.path, result)
    if isinstance(result, TextReading):
        return draw_text_lines(case.path, result)
    if isinstance(result, Classification):
        return with_text(case.path, [f"{c.label} {c.score:.2f}" for c in result.classes[:3]])
    if isinstance(result, Caption):
        return with_text(case.path, [result.text])
    if isinstance(result, Answers):
        answers = ", ".join(f"{a.text} {a.score:.2f}" for a in result.answers[:3])
        return with_text(case.path, [f"Q: {case.options['question']}", f"A: {answers}"])
    if isinstance(result, PictureAnswer):
        return result.image()
    raise TypeError(f"cannot draw {type(result).__name__}")


def render(case: SampleCase, result: Result, folder: Path, index: int) -> Path:
    """Write the drawn result of one sample (a game: its GIF; a writing: its PNG); returns the
    file written."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{case.path.stem}_{index}" if case.options.get("question") else case.path.stem
    if isinstance(result, Game):
        path = folder / f"{stem}.gif"
        path.write_bytes(result.animation_gif)
        return path
    if isinstance(result, Handwriting):
        path = folder / f"{stem}.png"
        path.write_bytes(result.png)
        return path
    if isinstance(result, Transcript):
        lines = [result.text, ""] + [f"[{s.start_s:6.2f} - {s.end_s:6.2f}] {s.text}"
                                      for s in result.segments]
        (folder / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    path = folder / f"{stem}.png"
    save_png(drawn(case, result), path)
    return path


def run(client: Client, cases: list[SampleCase], out: Path) -> list[Row]:
    """All cases over one stream; each checked and drawn as it comes back."""
    rows: dict[int, Row] = {}
    progress = Progress(len(cases), "samples ")
    items = (case.stream_item(str(i)) for i, case in enumerate(cases))
    for key, outcome in client.stream(items):
        if isinstance(outcome, TaskProgress):  # not asked for; a newer server may send it
            continue
        index = int(key)
        case = cases[index]
        if isinstance(outcome, ClientError):
            rows[index] = Row(case, outcome, False, outcome_text(outcome), None)
        else:
            passed, reason = check(case, outcome)
            rows[index] = Row(case, outcome, passed, reason,
                              render(case, outcome, out / case.model, index))
        progress.advance()
    progress.close()
    return [rows[i] for i in range(len(cases))]


def report(rows: list[Row], skipped: list[str], out: Path, elapsed_s: float) -> str:
    """report.md (a table per sample) written under `out`; returns the terminal summary."""
    lines = ["# Striate demo", "",
             f"{sum(r.passed for r in rows)}/{len(rows)} samples as expected, "
             f"{elapsed_s:.2f} s.", "",
             "| model | task | input | result | as expected | drawn |", "|---|---|---|---|---|---|"]
    for row in rows:
        drawn = f"[{row.rendered.name}]({row.rendered.relative_to(out)})" if row.rendered else ""
        result = outcome_text(row.outcome).replace("|", "/").replace("\n", " ")
        verdict = "yes" if row.passed else f"**no**: {row.reason}"
        lines.append(f"| {row.case.model} | {row.case.task} | {row.case.name} | {result} | "
                     f"{verdict} | {drawn} |")
    if skipped:
        lines += ["", "Not served, skipped: " + ", ".join(skipped)]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    summary = []
    for model in sorted({r.case.model for r in rows}):
        mine = [r for r in rows if r.case.model == model]
        summary.append(f"  {model:<24} {mine[0].case.task:<15} "
                       f"{sum(r.passed for r in mine)}/{len(mine)} as expected")
        summary += [f"    {r.case.name}: {r.reason}" for r in mine if not r.passed]
    summary += [f"  {name:<24} skipped (not served)" for name in skipped]
    summary.append(f"{sum(r.passed for r in rows)}/{len(rows)} samples as expected in "
                   f"{elapsed_s:.2f} s; results in {out}/ (report.md)")
    return "\n".join(summary)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients.demo", description=__doc__.split(
        "\n\n")[0] + " Exit status 1 when a sample is not answered as expected.")
    parser.add_argument("--server", default=DEFAULT_SERVER,
                        help="gRPC address of the server (default: %(default)s)")
    parser.add_argument("--samples", type=Path, default=Path("exported_models/samples"),
                        help="folder of <model>/expected.json sample folders (default: "
                        "%(default)s)")
    parser.add_argument("--out", type=Path, default=Path("demo_out"),
                        help="where drawn results and report.md go (default: %(default)s)")
    args = parser.parse_args(argv)
    folders = sorted(p for p in args.samples.iterdir() if (p / "expected.json").exists())
    if not folders:
        print(f"no samples (<model>/expected.json) under {args.samples}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with Client(args.server) as client:
        try:
            served = {m.name for m in client.models().models}
        except ClientError as error:
            print(f"{args.server}: {error.code.name}: {error.message}", file=sys.stderr)
            return 1
        cases = [case for folder in folders for case in load_cases(folder)]
        skipped = sorted({c.model for c in cases if c.model not in served})
        started = time.perf_counter()
        rows = run(client, [c for c in cases if c.model in served], args.out)
    print(report(rows, skipped, args.out, time.perf_counter() - started))
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
