"""Breakout in miniature: the 10x10 game of MinAtar (Young and Tian 2019), in numpy.

The one implementation the DQN trainer learns on and the server's `play` task steps. The rules
are MinAtar's (tests step this game and MinAtar's side by side and compare every frame): a
paddle on the bottom row, a ball that moves one cell along a diagonal per frame, three rows of
bricks (rows 1-3) that come back when all are broken and the ball reaches the bottom row, +1 per
brick, and the game ends when the ball reaches the bottom row beside the paddle. Actions are the
three that matter: stay, left, right. "Sticky actions" (the previous action repeats with
probability 0.1, as MinAtar does by default) make a fixed policy meet varied games.

The observation is `[4, 10, 10]` float32, channels paddle, ball, trail (the ball's previous
cell, which shows its direction) and bricks, as the policy network takes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SIZE = 10
ACTIONS = ("stay", "left", "right")
CHANNELS = ("paddle", "ball", "trail", "brick")
STICKY_ACTION_PROBABILITY = 0.1
BRICK_ROWS = slice(1, 4)

# The ball's four diagonal directions as (dx, dy); y grows downwards
_STEPS = ((-1, -1), (1, -1), (1, 1), (-1, 1))
_MIRROR_X = (1, 0, 3, 2)  # a side wall: left <-> right
_MIRROR_Y = (3, 2, 1, 0)  # ceiling, brick or the paddle's centre: up <-> down
_REVERSE = (2, 3, 0, 1)  # the paddle's corner: back the way it came


@dataclass
class Breakout:
    """One game. `step` returns (reward, game over); `observation` shows the board."""

    rng: np.random.Generator
    sticky_actions: float = STICKY_ACTION_PROBABILITY
    paddle: int = 4
    ball_x: int = 0
    ball_y: int = 3
    direction: int = 2
    trail: tuple[int, int] = (0, 3)
    bricks: np.ndarray = field(default_factory=lambda: np.zeros((SIZE, SIZE), dtype=bool))
    striking: bool = False  # the ball hit a brick last frame (it breaks one brick per hit)
    over: bool = False
    last_action: int = 0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A new game: the ball starts in a top corner of the free rows, heading down."""
        self.ball_y = 3
        self.ball_x, self.direction = ((0, 2), (SIZE - 1, 3))[int(self.rng.integers(2))]
        self.paddle = 4
        self.bricks = np.zeros((SIZE, SIZE), dtype=bool)
        self.bricks[BRICK_ROWS] = True
        self.striking = False
        self.trail = (self.ball_x, self.ball_y)
        self.over = False
        self.last_action = 0

    def step(self, action: int) -> tuple[int, bool]:
        """Play one frame; after the game is over this changes nothing."""
        if self.over:
            return 0, True
        if self.sticky_actions and self.rng.random() < self.sticky_actions:
            action = self.last_action
        self.last_action = action
        self.paddle = min(SIZE - 1, max(0, self.paddle + (0, -1, 1)[action]))
        reward = self._move_ball()
        return reward, self.over

    def _move_ball(self) -> int:
        dx, dy = _STEPS[self.direction]
        x, y = self.ball_x + dx, self.ball_y + dy
        self.trail = (self.ball_x, self.ball_y)
        reward, hit_brick = 0, False
        if not 0 <= x < SIZE:
            x = min(SIZE - 1, max(0, x))
            self.direction = _MIRROR_X[self.direction]
        if y < 0:
            y = 0
            self.direction = _MIRROR_Y[self.direction]
        elif self.bricks[y, x]:
            hit_brick = True
            if not self.striking:
                reward, self.striking = 1, True
                self.bricks[y, x] = False
                y = self.ball_y
                self.direction = _MIRROR_Y[self.direction]
        elif y == SIZE - 1:
            if not self.bricks.any():
                self.bricks[BRICK_ROWS] = True
            if self.ball_x == self.paddle:
                y = self.ball_y
                self.direction = _MIRROR_Y[self.direction]
            elif x == self.paddle:
                y = self.ball_y
                self.direction = _REVERSE[self.direction]
            else:
                self.over = True
        if not hit_brick:
            self.striking = False
        self.ball_x, self.ball_y = x, y
        return reward

    def observation(self) -> np.ndarray:
        """The board as the policy sees it: `[4, 10, 10]` float32 of zeros and ones."""
        board = np.zeros((len(CHANNELS), SIZE, SIZE), dtype=np.float32)
        board[0, SIZE - 1, self.paddle] = 1
        board[1, self.ball_y, self.ball_x] = 1
        board[2, self.trail[1], self.trail[0]] = 1
        board[3] = self.bricks
        return board


def seeded_game(seed: int, sticky_actions: bool = True) -> tuple[Breakout, np.random.Generator]:
    """The game a seed stands for, and the generator of its exploration draws: the server plays
    this game for a request's seed, so a seed replays its game wherever it is played."""
    game = Breakout(np.random.default_rng([seed, 0]),
                    sticky_actions=STICKY_ACTION_PROBABILITY if sticky_actions else 0.0)
    return game, np.random.default_rng([seed, 1])
