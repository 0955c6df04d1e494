"""Play: a game agent plays one game of Breakout in miniature (contract.breakout) on the server.

The model (GameAgent metadata) maps boards to the value of each action; each frame this asks it
for the values of the board on screen and plays the best action (or, with the request's
exploration, sometimes a random one). Every random draw of a game (the ball's start, sticky
actions, exploration) comes from the request's seed, so a seed replays its game exactly. The
frames become an animated GIF, encoded off the event loop.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from contract.breakout import ACTIONS, SIZE, seeded_game
from contract.metadata import GameAgent

from ..core import InferenceCore
from ..errors import InvalidInput
from ..repository import LoadedModel
from .models import infer_one, request_seed, resolve_model
from .progress import Progress, no_progress

TASK = "play"
MAX_FRAMES = 10_000
CELL = 16  # pixels per board cell in the animation
HEADER = 14  # pixels above the board for the score
FRAME_MS = 60
PROGRESS_EVERY = 100  # frames between progress reports
# background, paddle, ball, trail, brick rows 1-3, header text
PALETTE = [(12, 12, 20), (235, 235, 235), (250, 200, 40), (120, 90, 30),
           (220, 70, 60), (240, 150, 40), (80, 170, 90), (170, 170, 190)]


@dataclass(frozen=True)
class PlayOptions:
    seed: int = 0  # 0: a fresh random game
    max_frames: int = 0  # 0: the model's default
    exploration: float = 0.0  # 0: the model's default
    sticky_actions: bool = True
    animation: bool = True


@dataclass(frozen=True)
class Game:
    game: str
    seed: int
    score: int
    frames: int
    over: bool
    actions: bytes
    gif: bytes


def play_model(core: InferenceCore, name: str, version: str) -> LoadedModel:
    return resolve_model(core, TASK, name, version, "train dqn_breakout with `python -m "
                         "toolchain train dqn_breakout --out exported_models` and restart the "
                         "server")


def _settings(section: GameAgent, options: PlayOptions) -> tuple[int, float]:
    max_frames = options.max_frames or section.max_frames
    exploration = options.exploration or section.exploration
    if not 1 <= max_frames <= MAX_FRAMES:
        raise InvalidInput(f"max_frames must be 1 to {MAX_FRAMES:,} (0: the model's "
                           f"{section.max_frames:,})")
    if not 0 <= exploration <= 1:
        raise InvalidInput(f"exploration is a chance, 0 to 1; got {exploration:g}")
    return max_frames, exploration


async def play(core: InferenceCore, model: LoadedModel, options: PlayOptions,
               progress: Progress = no_progress) -> Game:
    """One game, greedy but for `exploration`; the frames as a GIF unless asked not to.
    `progress` hears of every hundredth frame (of at most max_frames)."""
    section = model.metadata.section(GameAgent)
    max_frames, exploration = _settings(section, options)
    seed = request_seed(options.seed)
    game, explore = seeded_game(seed, options.sticky_actions)
    boards, scores, actions = [game.observation()], [0], bytearray()
    while len(actions) < max_frames and not game.over:
        if exploration and explore.random() < exploration:
            action = int(explore.integers(len(ACTIONS)))
        else:
            values = await infer_one(core, model, {"boards": boards[-1]}, ["action_values"])
            action = int(np.asarray(values["action_values"]).reshape(-1).argmax())
        scores.append(scores[-1] + game.step(action)[0])
        actions.append(action)
        boards.append(game.observation())
        if len(actions) % PROGRESS_EVERY == 0:
            progress(len(actions), max_frames)
    gif = await asyncio.to_thread(animation, boards, scores) if options.animation else b""
    return Game(section.game, seed, scores[-1], len(actions),
                game.over, bytes(actions), gif)


def _picture(board: np.ndarray, score: int) -> Image.Image:
    """One frame: palette indices per cell, scaled up, the score above."""
    cells = np.zeros((SIZE, SIZE), np.uint8)
    rows = np.arange(SIZE)[:, None].repeat(SIZE, axis=1)
    cells[board[3] > 0] = 4 + np.clip(rows[board[3] > 0] - 1, 0, 2)
    cells[board[2] > 0] = 3
    cells[board[0] > 0] = 1
    cells[board[1] > 0] = 2
    pixels = np.zeros((HEADER + SIZE * CELL, SIZE * CELL), np.uint8)
    pixels[HEADER:] = cells.repeat(CELL, axis=0).repeat(CELL, axis=1)
    pixels[HEADER::CELL] = 0  # a dark line between cells
    pixels[HEADER:, ::CELL] = 0
    frame = Image.fromarray(pixels)  # greyscale indices; the palette makes them colours
    frame.putpalette([channel for colour in PALETTE for channel in colour])
    ImageDraw.Draw(frame).text((4, 1), f"score {score}", fill=len(PALETTE) - 1)
    return frame


def animation(boards: list[np.ndarray], scores: list[int]) -> bytes:
    """The game as an animated GIF, each board with the score so far; the last frame stays a
    second."""
    frames = [_picture(board, score) for board, score in zip(boards, scores, strict=True)]
    durations = [FRAME_MS] * (len(frames) - 1) + [1000]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:],
                   duration=durations, loop=0, disposal=1)
    return out.getvalue()

