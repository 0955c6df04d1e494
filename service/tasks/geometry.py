"""Image geometry in numpy alone: resampling, connected regions, rotated rectangles.

What text reading needs from OpenCV without OpenCV on the serving path: `resize_bilinear`
samples as cv2's INTER_LINEAR and `warp_quad` as its INTER_CUBIC (pixel centres at integer
coordinates, borders replicated, no antialiasing), `regions` labels 8-connected regions of a
mask through its horizontal runs, `min_area_rect` finds the smallest rotated rectangle around
points (rotating calipers over the convex hull).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _sample(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of an [H, W, C] image at float coordinates, edges replicated."""
    height, width = image.shape[:2]
    xs = np.clip(xs, 0, width - 1)
    ys = np.clip(ys, 0, height - 1)
    x0 = np.floor(xs).astype(np.int64)
    y0 = np.floor(ys).astype(np.int64)
    x1 = np.minimum(x0 + 1, width - 1)
    y1 = np.minimum(y0 + 1, height - 1)
    fx = (xs - x0)[..., np.newaxis]
    fy = (ys - y0)[..., np.newaxis]
    data = image.astype(np.float32)
    top = data[y0, x0] * (1 - fx) + data[y0, x1] * fx
    bottom = data[y1, x0] * (1 - fx) + data[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _cubic_weights(fraction: np.ndarray) -> np.ndarray:
    """cv2's bicubic weights (a = -0.75) of the 4 neighbours at offsets -1, 0, 1, 2."""
    a = -0.75
    weights = []
    for offset in (-1, 0, 1, 2):
        d = np.abs(fraction - offset)
        near = ((a + 2) * d - (a + 3)) * d * d + 1
        far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        weights.append(np.where(d <= 1, near, np.where(d < 2, far, 0.0)))
    return np.stack(weights, axis=-1)


def _sample_cubic(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bicubic samples of an [H, W, C] image at float coordinates, edges replicated."""
    height, width = image.shape[:2]
    x0, y0 = np.floor(xs).astype(np.int64), np.floor(ys).astype(np.int64)
    wx, wy = _cubic_weights(xs - x0), _cubic_weights(ys - y0)
    data = image.astype(np.float32)
    out = np.zeros(xs.shape + image.shape[2:], np.float32)
    for j, dy in enumerate((-1, 0, 1, 2)):
        rows = np.clip(y0 + dy, 0, height - 1)
        line = np.zeros_like(out)
        for i, dx in enumerate((-1, 0, 1, 2)):
            line += data[rows, np.clip(x0 + dx, 0, width - 1)] * wx[..., i, np.newaxis]
        out += line * wy[..., j, np.newaxis]
    return out


def resize_bilinear(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """[H, W, C] -> [height, width, C] float32, as cv2.resize with INTER_LINEAR."""
    source_h, source_w = image.shape[:2]
    xs = (np.arange(width, dtype=np.float32) + 0.5) * (source_w / width) - 0.5
    ys = (np.arange(height, dtype=np.float32) + 0.5) * (source_h / height) - 0.5
    grid_x, grid_y = np.meshgrid(np.maximum(xs, 0), np.maximum(ys, 0))
    return _sample(image, grid_x, grid_y)


def as_pixels(array: np.ndarray) -> np.ndarray:
    """Float samples rounded back to uint8 pixels, as OpenCV returns them for uint8 images."""
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def perspective_matrix(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 3x3 homography that maps four source points [4, 2] onto four target points."""
    rows, values = [], []
    for (x, y), (u, v) in zip(source.astype(np.float64), target.astype(np.float64)):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    solution = np.linalg.solve(np.array(rows), np.array(values))
    return np.append(solution, 1.0).reshape(3, 3)


def warp_quad(image: np.ndarray, quad: np.ndarray, width: int, height: int) -> np.ndarray:
    """The quadrilateral [4, 2] (top-left, top-right, bottom-right, bottom-left) of an
    [H, W, C] image straightened into a [height, width, C] float32 rectangle (bicubic, as
    cv2.warpPerspective with INTER_CUBIC and replicated borders)."""
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    to_source = perspective_matrix(corners, quad)
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float64),
                                 np.arange(height, dtype=np.float64))
    points = np.stack([grid_x, grid_y, np.ones_like(grid_x)], axis=-1) @ to_source.T
    xs, ys = points[..., 0] / points[..., 2], points[..., 1] / points[..., 2]
    return np.clip(_sample_cubic(image, xs, ys), 0, 255)


def dilate_2x2(mask: np.ndarray) -> np.ndarray:
    """cv2.dilate with a 2x2 kernel of ones: a pixel is set when it or its left, upper or
    upper-left neighbour is."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[1:, :] |= mask[:-1, :]
    out[1:, 1:] |= mask[:-1, :-1]
    return out


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of set pixels: row, first column, last column (row-major order)."""
    padded = np.pad(mask.astype(np.int8), ((0, 0), (1, 1)))
    steps = np.diff(padded, axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, ends = np.nonzero(steps == -1)
    return rows, starts, ends - 1


def regions(mask: np.ndarray) -> list[np.ndarray]:
    """8-connected regions of a boolean mask, each as the [N, 2] (x, y) end points of its
    runs (enough for the convex hull), in order of their first pixel (row-major)."""
    rows, starts, ends = _runs(mask)
    parent = list(range(rows.size))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    row_begin = np.searchsorted(rows, np.arange(mask.shape[0] + 1))
    for row in range(1, mask.shape[0]):
        above = range(row_begin[row - 1], row_begin[row])
        here = range(row_begin[row], row_begin[row + 1])
        a = 0
        for h in here:
            while a < len(above) and ends[above[a]] < starts[h] - 1:
                a += 1
            b = a
            while b < len(above) and starts[above[b]] <= ends[h] + 1:
                parent[root(h)] = root(above[b])
                b += 1
    groups: dict[int, list[int]] = {}
    for i in range(rows.size):
        groups.setdefault(root(i), []).append(i)
    found = []
    for members in groups.values():
        index = np.array(members)
        xs = np.concatenate([starts[index], ends[index]])
        ys = np.concatenate([rows[index], rows[index]])
        found.append(np.stack([xs, ys], axis=1).astype(np.float64))
    return found


def _turn(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """> 0 when a -> b -> c turns counter-clockwise (the z of the cross product)."""
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull [M, 2] of points [N, 2], counter-clockwise (Andrew's monotone chain)."""
    unique = np.unique(points, axis=0)
    if len(unique) < 3:
        return unique

    def half(ordered: np.ndarray) -> list:
        chain: list = []
        for p in ordered:
            while len(chain) >= 2 and _turn(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    return np.array(half(unique) + half(unique[::-1]))


@dataclass(frozen=True)
class RotatedRect:
    center: np.ndarray  # (x, y)
    axis: np.ndarray  # unit vector along the first side
    size: tuple[float, float]  # length along axis, length across it

    def corners(self) -> np.ndarray:
        """The four corners [4, 2]."""
        across = np.array([-self.axis[1], self.axis[0]])
        half_w, half_h = self.size[0] / 2, self.size[1] / 2
        signs = ((-1, -1), (1, -1), (1, 1), (-1, 1))
        return np.array([self.center + sx * half_w * self.axis + sy * half_h * across
                         for sx, sy in signs])

    def grown(self, distance: float) -> RotatedRect:
        """The rectangle pushed out by `distance` on every side."""
        return RotatedRect(self.center, self.axis,
                           (self.size[0] + 2 * distance, self.size[1] + 2 * distance))


def min_area_rect(points: np.ndarray) -> RotatedRect:
    """The smallest-area rectangle around points [N, 2] (any rotation)."""
    hull = convex_hull(np.asarray(points, dtype=np.float64))
    if len(hull) < 3:
        low, high = hull.min(axis=0), hull.max(axis=0)
        return RotatedRect((low + high) / 2, np.array([1.0, 0.0]), tuple(high - low))
    best: tuple[float, RotatedRect] | None = None
    for i in range(len(hull)):
        edge = hull[(i + 1) % len(hull)] - hull[i]
        length = np.hypot(*edge)
        if length == 0:
            continue
        axis = edge / length
        across = np.array([-axis[1], axis[0]])
        along, side = hull @ axis, hull @ across
        area = (along.max() - along.min()) * (side.max() - side.min())
        if best is None or area < best[0]:
            center = (axis * (along.max() + along.min()) / 2
                      + across * (side.max() + side.min()) / 2)
            best = (area, RotatedRect(center, axis, (along.max() - along.min(),
                                                      side.max() - side.min())))
    if best is None:  # every hull edge had no length: one point
        return RotatedRect(hull[0], np.array([1.0, 0.0]), (0.0, 0.0))
    return best[1]


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left: the two left-most
    sorted by y give top-left and bottom-left, likewise on the right."""
    by_x = points[np.argsort(points[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], dtype=np.float32)
