"""contract.breakout plays MinAtar's Breakout: the same boards, rewards and endings, frame by
frame, as the MinAtar package's own game (downloaded from PyPI, read but not installed: it is
GPL-3.0 and pulls in matplotlib and seaborn)."""

from __future__ import annotations

import copy
import importlib.util
from types import ModuleType

import numpy as np
import pytest

from contract.breakout import ACTIONS, BRICK_ROWS, SIZE, Breakout, seeded_game

MINATAR, MINATAR_VERSION = "MinAtar", "1.0.15"
MINATAR_ACTIONS = (0, 1, 3)  # MinAtar's no-op, left, right for our stay, left, right


@pytest.fixture(scope="module")
def minatar_breakout() -> ModuleType:
    packages = pytest.importorskip("toolchain.packages")
    try:
        wheel = packages.pypi_wheel(MINATAR, MINATAR_VERSION)
    except Exception as error:  # noqa: BLE001 - no registry here: say what is missing
        pytest.skip(f"MinAtar {MINATAR_VERSION} could not be downloaded from PyPI: {error}")
    path = packages.wheel_member(wheel, "minatar/environments/breakout.py")
    spec = importlib.util.spec_from_file_location("minatar_breakout", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def minatar_board(env) -> np.ndarray:  # noqa: ANN001 - MinAtar's Env
    return env.state().transpose(2, 0, 1).astype(np.float32)


def landing_column(game: Breakout) -> int:
    """Where the ball will next come down to the row above the paddle (a copy played ahead)."""
    ahead = copy.deepcopy(game)
    ahead.sticky_actions = 0.0
    for _ in range(4 * SIZE * SIZE):
        if ahead.ball_y == SIZE - 2 and ahead.direction in (2, 3):
            break
        ahead.paddle = ahead.ball_x  # it must not be lost while looking ahead
        ahead.step(0)
    return ahead.ball_x


def test_every_frame_matches_minatar(minatar_breakout):
    """Games of a paddle that mostly goes where the ball will land (long games: bricks cleared
    and built again) and sometimes moves at random."""
    rng = np.random.default_rng(7)
    frames = refills = 0
    for game_index in range(40):
        theirs = minatar_breakout.Env()
        theirs.random = np.random.RandomState(game_index)
        theirs.reset()
        ours = Breakout(np.random.default_rng(game_index), sticky_actions=0.0)
        ours.ball_x, ours.direction = theirs.ball_x, theirs.ball_dir  # the same start
        ours.trail = (ours.ball_x, ours.ball_y)
        assert np.array_equal(ours.observation(), minatar_board(theirs))
        for _ in range(3000):
            follow = int(np.sign(landing_column(ours) - ours.paddle))  # -1, 0 or 1
            action = int(rng.integers(3)) if rng.random() < 0.05 else (0, 2, 1)[follow]
            bricks_before = ours.bricks.sum()
            reward, over = ours.step(action)
            expected_reward, expected_over = theirs.act(MINATAR_ACTIONS[action])
            frames += 1
            assert (reward, over) == (expected_reward, expected_over), frames
            assert np.array_equal(ours.observation(), minatar_board(theirs)), frames
            refills += ours.bricks.sum() > bricks_before
            if over:
                break
    assert frames > 10_000 and refills >= 10, (frames, refills)  # the wall is built again


def test_sticky_actions_repeat_the_last_action():
    game = Breakout(np.random.default_rng(0), sticky_actions=1.0)
    for _ in range(3):
        game.step(ACTIONS.index("left"))
    assert game.paddle == 4  # the first action (stay) stuck
    free = Breakout(np.random.default_rng(0), sticky_actions=0.0)
    for _ in range(3):
        free.step(ACTIONS.index("left"))
    assert free.paddle == 1


def test_a_game_starts_with_three_rows_of_bricks_and_the_ball_in_a_corner():
    starts = set()
    for seed in range(20):
        game, _ = seeded_game(seed)
        board = game.observation()
        assert board.shape == (4, SIZE, SIZE)
        assert board[3].sum() == 30 and board[3][BRICK_ROWS].all()
        assert board[0, SIZE - 1, 4] == 1
        starts.add((game.ball_x, game.ball_y))
    assert starts == {(0, 3), (SIZE - 1, 3)}


def test_a_seed_is_one_game():
    def replay(seed: int) -> list[np.ndarray]:
        game, explore = seeded_game(seed)
        boards = []
        while not game.over and len(boards) < 500:
            game.step(int(explore.integers(3)))
            boards.append(game.observation())
        return boards
    first, again, other = replay(11), replay(11), replay(12)
    assert len(first) == len(again) and all(np.array_equal(a, b) for a, b in zip(first, again))
    assert len(first) != len(other) or any(not np.array_equal(a, b)
                                           for a, b in zip(first, other))


def test_after_the_game_is_over_nothing_changes():
    game = Breakout(np.random.default_rng(3), sticky_actions=0.0)
    while not game.over:
        game.step(0)
    board = game.observation()
    assert game.step(2) == (0, True)
    assert np.array_equal(game.observation(), board)
