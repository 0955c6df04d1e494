"""`python -m clients TASK INPUT... [options]`: run a task on files, folders or globs.

One input prints its result; many (a folder, a glob, several paths) go over one stream,
concurrently, with a progress bar and a throughput summary. `detect` and `segment` write
the image with boxes or the mask drawn on it when `--out` is given (a file for one input, a
folder for many), `pose` the skeletons, `read` the text lines' polygons; `transcribe --out`
draws the waveform with its timed segments.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .client import DEFAULT_SERVER, Client, StreamItem
from .progress import Progress
from .render import (
    draw_detections,
    draw_poses,
    draw_text_lines,
    draw_transcript,
    overlay_segmentation,
    save_png,
)
from .results import (
    Analogy,
    Answers,
    Caption,
    Classification,
    ClientError,
    Detections,
    Dreamed,
    Game,
    Handwriting,
    ModelList,
    Person,
    PictureAnswer,
    Poses,
    Result,
    Segmentation,
    Stylized,
    TaskProgress,
    TextReading,
    Transcript,
    Upscaled,
    to_jsonable,
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
AUDIO_SUFFIXES = {".wav", ".flac"}


def expand_inputs(patterns: list[str], suffixes: set[str]) -> list[Path]:
    """Files named, files in folders named (with a known suffix), and glob matches, in order."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
        elif path.exists():
            found.append(path)
        else:
            found += sorted(Path(p) for p in glob.glob(pattern, recursive=True)
                            if Path(p).is_file())
    return found


def _detections(result: Detections) -> str:
    if not result.detections:
        return "nothing found"
    return "; ".join(
        f"{d.label} {d.score:.2f} at ({d.box.x1:.0f}, {d.box.y1:.0f}, {d.box.x2:.0f}, "
        f"{d.box.y2:.0f})" for d in result.detections)


def _text_reading(result: TextReading) -> str:
    if not result.lines:
        return "no text found"
    return "\n".join(f"{line.text}  ({line.score:.2f})" for line in result.lines)


def _poses(result: Poses) -> str:
    if not result.people:
        return "nobody found"
    return "\n".join(describe_person(i, person) for i, person in enumerate(result.people))


def _transcript(result: Transcript) -> str:
    if result.language == "en" and not result.language_probability:
        return result.text  # an English-only model
    detected = f" ({result.language_probability:.2f})" if result.language_probability else ""
    return f"[{result.language}{detected}] {result.text}"


def _analogy(result: Analogy) -> str:
    return ", ".join(f"{w.word} ({w.score:.2f})" for w in result.words)


def _stylized(result: Stylized) -> str:
    return f"{result.width}x{result.height} in the style '{result.style}'"


def _upscaled(result: Upscaled) -> str:
    return f"{result.width}x{result.height} ({result.scale}x)"


def _dreamed(result: Dreamed) -> str:
    return f"{result.width}x{result.height}, dreamt of {result.layer} (score {result.score:.3f})"


def _game(result: Game) -> str:
    ending = "the ball was lost" if result.game_over else "stopped at the frame limit"
    return (f"{result.game}: score {result.score} in {result.frames} frames ({ending}); "
            f"seed {result.seed} replays it")


def _handwriting(result: Handwriting) -> str:
    ending = "" if result.finished else " (stopped at the step limit before the end)"
    return (f"{result.text!r} written in {result.style}, bias {result.bias:g}: "
            f"{len(result.strokes)} strokes, {result.steps} pen points{ending}; seed "
            f"{result.seed} repeats it")


def _model_list(result: ModelList) -> str:
    lines = [f"{t.task}: {', '.join(t.models)} (default {t.default_model})"
             for t in result.tasks]
    lines += [f"  {m.name} v{m.version} [{m.task}]{' default' if m.is_default else ''}"
              f"{': ' + m.description if m.description else ''}" for m in result.models]
    return "\n".join(lines)


DESCRIBERS: dict[type, Callable[[Any], str]] = {
    Classification: lambda r: ", ".join(f"{c.label} {c.score:.3f}" for c in r.classes),
    Detections: _detections,
    Segmentation: lambda r: ", ".join(f"{s.label} {100 * s.pixel_fraction:.1f}%"
                                      for s in r.shares),
    Caption: lambda r: r.text,
    Answers: lambda r: ", ".join(f"{a.text} {a.score:.3f}" for a in r.answers),
    Transcript: _transcript,
    TextReading: _text_reading,
    Poses: _poses,
    Analogy: _analogy,
    Stylized: _stylized,
    Upscaled: _upscaled,
    Dreamed: _dreamed,
    Game: _game,
    Handwriting: _handwriting,
    ModelList: _model_list,
}


def describe(result: Result | ModelList) -> str:
    """A result in one or a few human-readable lines."""
    describer = DESCRIBERS.get(type(result))
    return describer(result) if describer else str(result)


def describe_person(index: int, person: Person, min_score: float = 0.3) -> str:
    """"person 1 (0.87): nose (120, 48), left_eye (...), ..." for keypoints scored min_score+."""
    seen = [f"{k.name} ({k.position.x:.0f}, {k.position.y:.0f})" for k in person.keypoints
            if k.score >= min_score]
    return f"person {index + 1} ({person.score:.2f}): {', '.join(seen) or 'no sure keypoints'}"


def _options(args: argparse.Namespace) -> dict[str, Any]:
    names = {
        "classify": ["top_k"], "detect": ["score_threshold", "max_detections"], "segment": [],
        "caption": ["max_tokens", "beam_width"], "ask": ["question", "top_k"],
        "transcribe": ["beam_width", "language", "translate"],
        "pose": ["score_threshold", "max_people"], "read": [],
        "stylize": ["style", "style_image"], "upscale": ["scale"],
        "dream": ["layer", "octaves", "iterations", "step"],
    }[args.task]
    return {name: getattr(args, name) for name in names}


def render_to(path: Path, source: Path, result: Result) -> bool:
    """Write the drawn result of detect, segment, transcribe, pose or read; False for others."""
    if isinstance(result, Detections):
        image = draw_detections(source, result)
    elif isinstance(result, Transcript):
        image = draw_transcript(source, result)
    elif isinstance(result, Segmentation):
        image = overlay_segmentation(source, result)
    elif isinstance(result, Poses):
        image = draw_poses(source, result)
    elif isinstance(result, TextReading):
        image = draw_text_lines(source, result)
    elif isinstance(result, PictureAnswer):
        image = result.image()
    else:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(image, path)
    return True


def _out_path(args: argparse.Namespace, source: Path, many: bool) -> Path | None:
    if getattr(args, "out", None) is None:
        return None
    out = Path(args.out)
    return out / f"{source.stem}.{args.task}.png" if many else out


def _report(args: argparse.Namespace, source: Path, outcome: Result | ClientError,
            many: bool) -> bool:
    if isinstance(outcome, ClientError):
        if args.json:
            print(json.dumps({"input": str(source), "error": {"code": outcome.code.name,
                                                              "message": outcome.message}}))
        print(f"{source}: {outcome.code.name}: {outcome.message}", file=sys.stderr)
        return False
    out = _out_path(args, source, many)
    if out is not None:
        render_to(out, source, outcome)
    if args.json:
        record = {"input": str(source), "result": to_jsonable(outcome)}
        if out is not None:
            record["rendered"] = str(out)
        print(json.dumps(record))
    else:
        prefix = f"{source}: " if many else ""
        print(prefix + describe(outcome) + (f"  -> {out}" if out is not None else ""))
    return True


STEPPED_TASKS = ("dream",)  # one input of these shows its steps as they are taken


class StepsBar:
    """The progress of one long request (a dream's gradient steps), from its TaskProgress."""

    def __init__(self) -> None:
        self.bar: Progress | None = None

    def show(self, report: TaskProgress) -> None:
        if self.bar is None:
            self.bar = Progress(report.total, f"{report.unit} ")
        self.bar.advance(report.done - self.bar.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_task(args: argparse.Namespace) -> int:
    suffixes = AUDIO_SUFFIXES if args.task == "transcribe" else IMAGE_SUFFIXES
    inputs = expand_inputs(args.inputs, suffixes)
    if not inputs:
        print(f"no input files match {' '.join(args.inputs)}", file=sys.stderr)
        return 2
    many = len(inputs) > 1
    steps = StepsBar() if args.task in STEPPED_TASKS and not many else None
    items = (StreamItem(str(i), args.task, path, args.model, args.version, _options(args),
                        progress=steps is not None) for i, path in enumerate(inputs))
    progress = Progress(len(inputs))
    failures = 0
    with Client(args.server, timeout_s=args.timeout) as client:
        try:
            for key, outcome in client.stream(items):
                if isinstance(outcome, TaskProgress):
                    if steps is not None:
                        steps.show(outcome)
                    continue
                if steps is not None:
                    steps.close()
                progress.clear()
                failures += not _report(args, inputs[int(key)], outcome, many)
                progress.advance()
        except ClientError as error:
            progress.close()
            print(f"{args.server}: {error.code.name}: {error.message}", file=sys.stderr)
            return 1
    progress.close()
    if many:
        elapsed = progress.elapsed_s
        print(f"{len(inputs)} inputs in {elapsed:.2f} s: {len(inputs) / elapsed:.1f}/s, "
              f"{failures} failed", file=sys.stderr)
    return 1 if failures else 0


T = TypeVar("T")


def _ask_server(args: argparse.Namespace, call: Callable[[Client], T]) -> T | None:
    """One call to the server; on an error, says it on stderr and returns None."""
    with Client(args.server, timeout_s=args.timeout) as client:
        try:
            return call(client)
        except ClientError as error:
            print(f"{args.server}: {error.code.name}: {error.message}", file=sys.stderr)
            return None


def run_analogy(args: argparse.Namespace) -> int:
    words = args.words
    if len(words) not in (1, 3):
        print("give one word (its nearest words) or three: WORD MINUS PLUS (king man woman: "
              "king - man + woman)", file=sys.stderr)
        return 2
    word, minus, plus = (words + ["", ""])[:3]
    result = _ask_server(args, lambda client: client.analogy(
        word, minus, plus, model=args.model, version=args.version, top_k=args.top_k))
    if result is None:
        return 1
    query = f"{word} - {minus} + {plus}" if minus else f"nearest to {word}"
    print(json.dumps(to_jsonable(result)) if args.json else f"{query}: {describe(result)}")
    return 0


def run_play(args: argparse.Namespace) -> int:
    result = _ask_server(args, lambda client: client.play(
        seed=args.seed, max_frames=args.max_frames, exploration=args.exploration,
        sticky_actions=not args.no_sticky_actions, animation=args.out is not None,
        model=args.model, version=args.version))
    if result is None:
        return 1
    _show(args, result, result.animation_gif)
    return 0


def run_write(args: argparse.Namespace) -> int:
    if args.out is not None and Path(args.out).suffix.lower() not in (".svg", ".png"):
        print("--out names an .svg or a .png file", file=sys.stderr)
        return 2
    result = _ask_server(args, lambda client: client.write(
        " ".join(args.text), style=args.style, bias=args.bias, seed=args.seed,
        drawing=args.out is not None, model=args.model, version=args.version))
    if result is None:
        return 1
    picture = result.svg.encode() if str(args.out).lower().endswith(".svg") else result.png
    _show(args, result, picture)
    return 0


def _show(args: argparse.Namespace, result: Result, picture: bytes) -> None:
    """Save the picture to --out when asked; print the result (as JSON with --json)."""
    if args.out is not None:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(picture)
    if args.json:
        print(json.dumps(to_jsonable(result)))
    else:
        print(describe(result) + (f"  -> {args.out}" if args.out is not None else ""))


def run_models(args: argparse.Namespace) -> int:
    listing = _ask_server(args, lambda client: client.models())
    if listing is None:
        return 1
    print(json.dumps(to_jsonable(listing), indent=2) if args.json else describe(listing))
    return 0


def _with_model(parser: argparse.ArgumentParser) -> None:
    """A task's options: which model, and those of every command."""
    parser.add_argument("--model", default="", help="model to use (default: the task's default)")
    parser.add_argument("--version", default="", help="model version (default: the latest)")
    _common(parser)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default=DEFAULT_SERVER,
                        help="gRPC address of the server (default: %(default)s)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON (one object per input) instead of text")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for the server (default: %(default)s)")


def _task_parser(sub, name: str, help_text: str, what: str = "image") -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help=f"{what} file(s), folder(s) or glob pattern(s)")
    _with_model(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m clients", description="Striate's task client: send images or "
        "recordings to a Striate server and show labels, boxes, masks, captions, answers, "
        "transcripts, poses and text, pictures made (styles, upscaling, dreams), word "
        "analogies, a game agent's play and handwriting. Several inputs (a folder or a glob) "
        "go concurrently over one stream.")
    sub = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    p = _task_parser(sub, "classify", "name what an image shows (top-k classes)")
    p.add_argument("--top-k", type=int, default=5, help="classes to show (default: %(default)s)")
    p = _task_parser(sub, "detect", "find objects: boxes, labels and scores")
    p.add_argument("--threshold", dest="score_threshold", type=float, default=None,
                   help="lowest score to keep (default: the model's)")
    p.add_argument("--max-detections", type=int, default=0, help="keep at most this many")
    p.add_argument("--out", help="PNG with the boxes drawn (a folder for several inputs)")
    p = _task_parser(sub, "segment", "label every pixel; class shares and a coloured mask")
    p.add_argument("--out", help="PNG with the mask overlaid (a folder for several inputs)")
    p = _task_parser(sub, "caption", "describe an image in words")
    p.add_argument("--max-tokens", type=int, default=0, help="longest caption (default: model's)")
    p.add_argument("--beam-width", type=int, default=1, help="1: greedy, more: beam search")
    p = _task_parser(sub, "ask", "answer a question about an image")
    p.add_argument("--question", "-q", required=True, help="the question, e.g. 'what shape?'")
    p.add_argument("--top-k", type=int, default=3, help="answers to show (default: %(default)s)")
    p = _task_parser(sub, "transcribe", "turn speech into text (WAV or FLAC)", what="audio")
    p.add_argument("--out", help="PNG of the waveform with the timed segments shaded (a "
                   "folder for several inputs)")
    p.add_argument("--beam-width", type=int, default=1,
                   help="encoder-decoder models: 1 greedy, more: beam search")
    p.add_argument("--language", default="",
                   help="multilingual models: the language spoken, e.g. de (default: detected)")
    p.add_argument("--translate", action="store_true",
                   help="multilingual models: English text of speech in any language")
    p = _task_parser(sub, "pose", "find people's body keypoints (nose, wrists, knees...)")
    p.add_argument("--threshold", dest="score_threshold", type=float, default=None,
                   help="lowest person score to keep (default: the model's)")
    p.add_argument("--max-people", type=int, default=0, help="keep at most this many")
    p.add_argument("--out", help="PNG with the skeletons drawn (a folder for several inputs)")
    p = _task_parser(sub, "read", "read the text in an image: lines, polygons, confidences")
    p.add_argument("--out", help="PNG with the lines outlined and labelled (a folder for "
                   "several inputs)")
    p = _task_parser(sub, "stylize", "paint a photo in a style: one of the model's, or a "
                     "painting's")
    p.add_argument("--style", default="", help="a style's name or index, e.g. style_7 (the "
                   "model's styles.txt)")
    p.add_argument("--style-image", help="a painting whose style to take instead")
    p.add_argument("--out", help="the stylised PNG (a folder for several inputs)")
    p = _task_parser(sub, "upscale", "make a photo 2 or 4 times wider and taller "
                     "(super-resolution)")
    p.add_argument("--scale", type=int, default=0, help="2 or 4: picks a served model of that "
                   "scale (default: the model's, 2 for the default model)")
    p.add_argument("--out", help="the upscaled PNG (a folder for several inputs)")
    p = _task_parser(sub, "dream", "DeepDream: change a photo to show more of what a layer "
                     "of an ImageNet network sees")
    p.add_argument("--layer", default="", help="block_3 (fine swirls) ... block_16 (larger "
                   "shapes); default: the model's (block_10)")
    p.add_argument("--octaves", type=int, default=0, help="scales to dream at, each 1.4 times "
                   "the last (default: the model's, 3)")
    p.add_argument("--iterations", type=int, default=0, help="gradient steps per octave "
                   "(default: the model's, 10)")
    p.add_argument("--step", type=float, default=0.0, help="grey levels per step (default: "
                   "the model's, 1.5)")
    p.add_argument("--out", help="the dream as PNG (a folder for several inputs)")
    p = sub.add_parser("analogy", help="word analogies and nearest words",
                       description="`analogy king man woman`: the words nearest to "
                       "king - man + woman; `analogy frog`: the words nearest to frog")
    p.add_argument("words", nargs="+", metavar="WORD", help="WORD [MINUS PLUS]")
    p.add_argument("--top-k", type=int, default=10, help="words to show (default: %(default)s)")
    _with_model(p)
    p = sub.add_parser("play", help="watch the game agent play Breakout in miniature",
                       description="The served DQN plays one game of MinAtar's 10x10 "
                       "Breakout on the server: `play --out game.gif` saves it as an animation")
    p.add_argument("--seed", type=int, default=0, help="replay the game of this seed "
                   "(default: a new game; the answer says its seed)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames "
                   "(default: the model's, 2000; at most 10000)")
    p.add_argument("--exploration", type=float, default=0.0, help="chance of a random "
                   "move each frame, 0..1 (default: the model's, 0)")
    p.add_argument("--no-sticky-actions", action="store_true", help="every move happens as "
                   "chosen (default: the last move repeats with probability 0.1, as in MinAtar)")
    p.add_argument("--out", help="the game as an animated GIF")
    _with_model(p)
    p = sub.add_parser("write", help="have the handwriting model write a line of text",
                       description="The served handwriting model writes TEXT with a pen, "
                       "point by point, on the server: `write Hello world --out hello.png` "
                       "(or .svg) saves the writing")
    p.add_argument("text", nargs="+", metavar="TEXT", help="the words to write (one line)")
    p.add_argument("--style", default="", help="one of the model's styles, e.g. cursive "
                   "(default: its first; a wrong name lists them)")
    p.add_argument("--bias", type=float, default=None, help="neatness 0..10: 0 writes as the "
                   "model learned, higher more regularly (default: the model's, 0.5)")
    p.add_argument("--seed", type=int, default=0, help="repeat the writing of this seed "
                   "(default: a new one; the answer says its seed)")
    p.add_argument("--out", help="the writing as a picture: a .png or .svg file")
    _with_model(p)
    models = sub.add_parser("models", help="list the tasks and models the server offers",
                            description="list the tasks and models the server offers")
    _common(models)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.task == "models":
        return run_models(args)
    if args.task == "analogy":
        return run_analogy(args)
    if args.task == "play":
        return run_play(args)
    if args.task == "write":
        return run_write(args)
    return run_task(args)
