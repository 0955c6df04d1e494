"""A Deep Q-Network (Mnih et al. 2015) that learns MinAtar's Breakout in miniature, here, on CPU.

The lecture's game agent is DeepMind's DQN on Atari Breakout; MinAtar (Young and Tian 2019)
shrinks that game to a 10x10 board so a DQN learns it in an hour on a CPU. The game is
`contract.breakout` (MinAtar's rules, tested frame by frame against the MinAtar package), the
network MinAtar's: one 3x3 convolution of 16 channels, a 128-unit layer, one value per action.
Training is DQN as published, with a replay memory, a target network and an epsilon-greedy
schedule, plus Double DQN targets and the Huber loss. The served graph maps boards to action
values; the server plays greedily.

Measured on the exported ONNX graph, not on PyTorch: the return of greedy play over games that
training never saw (their own seeds, sticky actions on), beside a random policy's.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import nn
from tqdm import tqdm

from contract.breakout import (
    ACTIONS,
    CHANNELS,
    SIZE,
    STICKY_ACTION_PROBABILITY,
    Breakout,
    seeded_game,
)
from contract.metadata import GameAgent, ModelMetadata
from toolchain.model_folder import ModelCard, TensorSpec
from toolchain.timing import run_time
from toolchain.zoo._publish import publish
from toolchain.zoo._training import (
    cached_run,
    card_facts,
    export_batched,
    samples_folder,
    seed_everything,
    trained_here,
)

NAME = "dqn_breakout"
DESCRIPTION = "Deep Q-Network playing Breakout in miniature (MinAtar's 10x10 game), trained here"
SEED = 2013
MAX_EVALUATION_FRAMES = 5000  # a game the agent never loses ends here


@dataclass(frozen=True)
class Schedule:
    """DQN's hyper-parameters (MinAtar's, except where noted)."""

    frames: int = 1_000_000
    replay_size: int = 100_000
    batch_size: int = 32
    discount: float = 0.99
    learning_rate: float = 2.5e-4
    train_every: int = 1
    target_every: int = 1_000
    learning_starts: int = 5_000
    epsilon_start: float = 1.0
    epsilon_end: float = 0.1
    epsilon_frames: int = 100_000
    evaluate_every: int = 50_000
    evaluation_games: int = 20


QUICK = Schedule(frames=3_000, replay_size=2_000, learning_starts=500, epsilon_frames=1_000,
                 evaluate_every=1_500, evaluation_games=2)

log = logging.getLogger(__name__)


class QNetwork(nn.Module):
    """boards [N, 4, 10, 10] -> action values [N, 3]."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(len(CHANNELS), 16, 3), nn.ReLU(), nn.Flatten())
        self.values = nn.Sequential(nn.Linear(16 * (SIZE - 2) ** 2, 128), nn.ReLU(),
                                    nn.Linear(128, len(ACTIONS)))

    def forward(self, boards: torch.Tensor) -> torch.Tensor:
        return self.values(self.features(boards))


class Replay:
    """A ring buffer of transitions; boards are stored as uint8."""

    def __init__(self, size: int) -> None:
        shape = (size, len(CHANNELS), SIZE, SIZE)
        self.boards = np.zeros(shape, np.uint8)
        self.next_boards = np.zeros(shape, np.uint8)
        self.actions = np.zeros(size, np.int64)
        self.rewards = np.zeros(size, np.float32)
        self.over = np.zeros(size, np.float32)
        self.size, self.count = size, 0

    def add(self, board: np.ndarray, action: int, reward: float, next_board: np.ndarray,
            over: bool) -> None:
        i = self.count % self.size
        self.boards[i], self.next_boards[i] = board, next_board
        self.actions[i], self.rewards[i], self.over[i] = action, reward, over
        self.count += 1

    def sample(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, ...]:
        rows = rng.integers(min(self.count, self.size), size=n)
        return (torch.from_numpy(self.boards[rows].astype(np.float32)),
                torch.from_numpy(self.actions[rows]), torch.from_numpy(self.rewards[rows]),
                torch.from_numpy(self.next_boards[rows].astype(np.float32)),
                torch.from_numpy(self.over[rows]))


def epsilon(schedule: Schedule, frame: int) -> float:
    done = min(1.0, frame / schedule.epsilon_frames)
    return schedule.epsilon_start + done * (schedule.epsilon_end - schedule.epsilon_start)


def train_step(network: QNetwork, target: QNetwork, optimizer: torch.optim.Optimizer,
               batch: tuple[torch.Tensor, ...], discount: float) -> float:
    boards, actions, rewards, next_boards, over = batch
    with torch.no_grad():
        best_next = network(next_boards).argmax(dim=1, keepdim=True)  # Double DQN
        next_values = target(next_boards).gather(1, best_next).squeeze(1)
        wanted = rewards + discount * (1 - over) * next_values
    values = network(boards).gather(1, actions.unsqueeze(1)).squeeze(1)
    loss = F.smooth_l1_loss(values, wanted)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def play(choose: Callable[[np.ndarray], int], seed: int,
         max_frames: int = MAX_EVALUATION_FRAMES) -> tuple[int, int]:
    """One game with sticky actions; `choose(board)` picks the action. Returns the score and
    the frames played."""
    game, _ = seeded_game(seed)  # as the server plays a request's seed
    score = frames = 0
    while frames < max_frames and not game.over:
        score += game.step(choose(game.observation()))[0]
        frames += 1
    return score, frames


def greedy_torch(network: QNetwork) -> Callable[[np.ndarray], int]:
    def choose(board: np.ndarray) -> int:
        with torch.no_grad():
            return int(network(torch.from_numpy(board)[None]).argmax())
    return choose


def train(schedule: Schedule) -> tuple[QNetwork, list[dict], list[tuple[int, int]]]:
    """Returns the trained network, the evaluations made during training, and the return of
    every training game with the frame it ended on."""
    rng = seed_everything(SEED)
    network, target = QNetwork(), QNetwork()
    target.load_state_dict(network.state_dict())
    optimizer = torch.optim.Adam(network.parameters(), lr=schedule.learning_rate)
    replay = Replay(schedule.replay_size)
    game = Breakout(rng)
    board, score = game.observation(), 0
    evaluations: list[dict] = []
    games: list[tuple[int, int]] = []
    progress = tqdm(range(1, schedule.frames + 1), desc=f"training {NAME}", unit="frame",
                    mininterval=5, smoothing=0.1)
    for frame in progress:
        if rng.random() < epsilon(schedule, frame):
            action = int(rng.integers(len(ACTIONS)))
        else:
            with torch.no_grad():
                action = int(network(torch.from_numpy(board)[None]).argmax())
        reward, over = game.step(action)
        next_board = game.observation()
        replay.add(board, action, reward, next_board, over)
        score += reward
        board = next_board
        if over:
            games.append((frame, score))
            game.reset()
            board, score = game.observation(), 0
        if frame >= schedule.learning_starts and frame % schedule.train_every == 0:
            train_step(network, target, optimizer, replay.sample(rng, schedule.batch_size),
                       schedule.discount)
        if frame % schedule.target_every == 0:
            target.load_state_dict(network.state_dict())
        if frame % schedule.evaluate_every == 0:
            scores = [play(greedy_torch(network), 10_000_000 + frame + i)[0]
                      for i in range(schedule.evaluation_games)]
            evaluations.append({"frame": frame, "mean_return": float(np.mean(scores))})
            recent = [s for _, s in games[-100:]]
            progress.set_postfix(greedy=f"{np.mean(scores):.1f}",
                                 training=f"{np.mean(recent) if recent else 0:.1f}")
            log.info("frame %d: greedy return %.1f", frame, np.mean(scores))
    return network, evaluations, games


def export(network: QNetwork) -> onnx.ModelProto:
    model = export_batched(network, {"boards": torch.zeros(1, len(CHANNELS), SIZE, SIZE)},
                           ["action_values"])
    model.doc_string = DESCRIPTION
    return model


def verify(network: QNetwork, session: ort.InferenceSession, seed: int) -> list[dict]:
    """The ONNX graph against PyTorch on boards from real games."""
    rng = np.random.default_rng(seed)
    boards = []
    game = Breakout(rng)
    while len(boards) < 256:
        boards.append(game.observation())
        _, over = game.step(int(rng.integers(len(ACTIONS))))
        if over:
            game.reset()
    batch = np.stack(boards)
    with torch.no_grad():
        expected = network(torch.from_numpy(batch)).numpy()
    got = session.run(None, {"boards": batch})[0]
    return [{"input": "256 boards from random play", "max abs diff":
             float(np.abs(got - expected).max()),
             "same best action": f"{(got.argmax(1) == expected.argmax(1)).mean():.2%}"}]


def evaluate(session: ort.InferenceSession, games: int,
             first_seed: int) -> tuple[dict, list[tuple[int, int]]]:
    """Greedy play of the served graph and a random policy on the same unseen games; also each
    game's seed and greedy score."""
    def greedy(board: np.ndarray) -> int:
        return int(session.run(None, {"boards": board[None]})[0].argmax())

    rng = np.random.default_rng(first_seed)
    seeds = range(first_seed, first_seed + games)
    start = time.perf_counter()
    played = [play(greedy, seed) for seed in seeds]
    seconds = time.perf_counter() - start
    served = [score for score, _ in played]
    random_scores = [play(lambda _board: int(rng.integers(len(ACTIONS))), seed)[0]
                     for seed in seeds]
    summary = {"games": games, "mean_return": round(float(np.mean(served)), 2),
               "median_return": float(np.median(served)), "max_return": int(max(served)),
               "games_cut_at_frame_limit": sum(1 for _, f in played
                                               if f == MAX_EVALUATION_FRAMES),
               "random_policy_mean_return": round(float(np.mean(random_scores)), 2),
               "seconds": round(seconds, 1)}
    return summary, list(zip(seeds, served, strict=True))


def frame_speed_ms(session: ort.InferenceSession) -> float:
    """Median milliseconds to value one board (batch 1)."""
    board = Breakout(np.random.default_rng(0)).observation()[None]
    return run_time(session, {"boards": board}, runs=500).median_ms


def learning_curve_png(evaluations: list[dict], games: list[tuple[int, int]]) -> bytes:
    """Return against frames: training games (mean of the last 100) and greedy evaluations,
    with a grid every 5 points of return and every 250k frames."""
    width, height, margin = 640, 360, 48
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    last_frame = max([f for f, _ in games] + [e["frame"] for e in evaluations] + [1])
    returns = np.array([s for _, s in games], np.float64)
    window = np.convolve(returns, np.ones(100) / 100, mode="full")[:len(returns)]
    smoothed = window * 100 / np.minimum(np.arange(1, len(returns) + 1), 100)
    plotted = [e["mean_return"] for e in evaluations] + smoothed.tolist()
    top = 5 * max(1, int(np.ceil(max(plotted + [1]) / 5)))  # the curves fill the height

    def point(frame: float, value: float) -> tuple[float, float]:
        return (margin + frame / last_frame * (width - 2 * margin),
                height - margin - value / top * (height - 2 * margin))

    for value in range(0, top + 1, 5):
        draw.line([point(0, value), point(last_frame, value)], fill=(225, 225, 225))
        draw.text((point(0, value)[0] - 22, point(0, value)[1] - 6), f"{value:>3}", fill="black")
    for frame in range(0, last_frame + 1, 250_000):
        draw.text((point(frame, 0)[0] - 12, height - margin + 4), f"{frame // 1000}k",
                  fill="black")
    draw.line([point(0, 0), point(last_frame, 0)], fill="black")
    draw.line([point(0, 0), point(0, top)], fill="black")
    draw.text((margin, 8), "return per game against training frames", fill="black")
    if games:
        draw.line([point(f, v) for (f, _), v in zip(games, smoothed, strict=True)],
                  fill=(70, 130, 180), width=2)
    if evaluations:
        draw.line([point(e["frame"], e["mean_return"]) for e in evaluations],
                  fill=(200, 60, 40), width=2)
    draw.text((margin + 8, height - margin + 22), "blue: training games, mean of the last 100 "
              "(exploring)   red: greedy play, 20 games", fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def trained(schedule: Schedule, quick: bool) -> tuple[QNetwork, list[dict],
                                                     list[tuple[int, int]], float]:
    """The network trained on `schedule` and its history, and the minutes it took. A full run
    is kept in the toolchain's cache, so the folder can be written again without training."""
    def run() -> dict:
        network, evaluations, games = train(schedule)
        return {"network": network.state_dict(), "evaluations": evaluations, "games": games}

    state = cached_run(f"{NAME}-{schedule.frames}-seed{SEED}", quick, run)
    network = QNetwork()
    network.load_state_dict(state["network"])
    return network, state["evaluations"], state["games"], state["minutes"]


def write_game_samples(out_dir: Path, scores: list[tuple[int, int]]) -> Path:
    """samples/dqn_breakout/expected.json: three of the measured games (their seeds), the
    agent's median, a good and its best one, to score at least half of what it scored here."""
    ranked = sorted(scores, key=lambda pair: pair[1])
    chosen = [ranked[len(ranked) // 2], ranked[(3 * len(ranked)) // 4], ranked[-1]]
    games = [{"seed": seed, "score_when_trained": score, "score_at_least": score // 2}
             for seed, score in chosen]
    folder = samples_folder(out_dir, NAME, fresh=True)
    document = {"model": NAME, "task": "play", "games": games,
                "selection": "games of the measured, unseen seeds: the median, the upper "
                "quartile and the best score; a replay must score at least half as much "
                "(other CPUs may break near-ties between actions differently)"}
    (folder / "expected.json").write_text(json.dumps(document, indent=2) + "\n")
    return folder


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Train, export, verify, measure greedy play on unseen games, write the folder."""
    schedule = QUICK if quick else Schedule()
    network, evaluations, games, minutes = trained(schedule, quick)
    model = export(network)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    verification = verify(network, session, SEED + 1)
    evaluation, scores = evaluate(session, 10 if quick else 100, first_seed=20_000_000)
    write_game_samples(out_dir, scores)
    metrics = {"frames": schedule.frames, "training_minutes": round(minutes, 1),
               "training_games": len(games), "evaluations": evaluations,
               "greedy_play": evaluation, "cpu_ms_per_frame": round(frame_speed_ms(session), 3),
               "measured_on": "onnxruntime", "quick": quick}
    log.info("metrics: %s", {k: v for k, v in metrics.items() if k != "evaluations"})
    return publish(
        out_dir, NAME, model,
        metadata=ModelMetadata.build("play", GameAgent(), default=True, description=DESCRIPTION),
        inputs=[TensorSpec("boards", "FP32", [len(CHANNELS), SIZE, SIZE])],
        outputs=[TensorSpec("action_values", "FP32", [len(ACTIONS)])],
        max_batch_size=64,
        files={"learning_curve.png": learning_curve_png(evaluations, games)},
        card=model_card(model, metrics, schedule, verification), metrics=metrics,
    )


def model_card(model: onnx.ModelProto, metrics: dict, schedule: Schedule,
               verification: list[dict]) -> ModelCard:
    greedy = metrics["greedy_play"]
    curve = " ".join(f"{e['frame'] // 1000}k: {e['mean_return']:.1f};"
                     for e in metrics["evaluations"][::2])
    return ModelCard(
        title=f"{NAME}: a Deep Q-Network playing Breakout in miniature",
        description=DESCRIPTION + ". Input: boards [N, 4, 10, 10] (paddle, ball, trail, "
        "bricks; contract/breakout.py); output: the value of stay, left and right.",
        source="Architecture and game from MinAtar (Young and Tian 2019: one 3x3 convolution "
        "of 16 channels, 128 hidden units); DQN after Mnih et al. 2015; weights "
        + trained_here(NAME, SEED),
        license="Apache-2.0 (the project's). The game rules follow MinAtar (GPL-3.0); "
        "contract/breakout.py is the project's own implementation of them, and the MinAtar "
        "package is used only by the tests that compare the two.",
        training=f"{schedule.frames:,} frames of play ({metrics['training_games']:,} games, "
        f"{metrics['training_minutes']} minutes on one CPU thread), sticky actions "
        f"{STICKY_ACTION_PROBABILITY}, replay memory {schedule.replay_size:,}, batch "
        f"{schedule.batch_size}, Adam lr {schedule.learning_rate}, discount "
        f"{schedule.discount}, target network copied every {schedule.target_every:,} frames, "
        f"epsilon {schedule.epsilon_start} to {schedule.epsilon_end} over the first "
        f"{schedule.epsilon_frames:,} frames, Double DQN targets, Huber loss. Learning curve: "
        "learning_curve.png beside this card.",
        **card_facts(model),
        metrics={
            f"mean return, greedy, {greedy['games']} unseen games (onnxruntime)":
                f"{greedy['mean_return']} (median {greedy['median_return']}, best "
                f"{greedy['max_return']})",
            "mean return of a random policy, same games": str(greedy["random_policy_mean_return"]),
            "greedy return during training (20 games each), every 100k frames": curve,
            "CPU time per frame, batch 1 (onnxruntime, this machine)":
                f"{metrics['cpu_ms_per_frame']} ms",
        },
        verification=verification,
        notes="The seed's Atari Breakout in miniature, named as such: 10x10 cells, no "
        "pixels, and the ball moves one cell a frame. Games longer than "
        f"{MAX_EVALUATION_FRAMES:,} frames were cut there when measured. Not good for: "
        "any other game, or the Atari original.",
    )
