"""The numpy geometry text reading uses instead of OpenCV, checked against OpenCV itself."""

from __future__ import annotations

import numpy as np
import pytest

from service.tasks import geometry

cv2 = pytest.importorskip("cv2", reason="OpenCV comes with the toolchain extra (RapidOCR)")


def test_resize_matches_opencv_bilinear_both_ways():
    image = np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    for width, height in ((40, 48), (200, 100)):
        ours = geometry.as_pixels(geometry.resize_bilinear(image, width, height))
        theirs = cv2.resize(image, (width, height))
        assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_warp_quad_matches_opencv_perspective_cubic():
    image = np.random.default_rng(1).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    quad = np.array([[10, 5], [70, 9], [68, 40], [12, 37]], np.float32)
    width, height = 61, 33
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    theirs = cv2.warpPerspective(image, cv2.getPerspectiveTransform(quad, target),
                                 (width, height), borderMode=cv2.BORDER_REPLICATE,
                                 flags=cv2.INTER_CUBIC)
    ours = geometry.as_pixels(geometry.warp_quad(image, quad, width, height))
    assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_regions_are_8_connected_like_opencv_components():
    mask = np.zeros((12, 16), bool)
    mask[1:3, 1:5] = True  # a bar
    mask[3, 5] = True  # touches the bar diagonally: same region
    mask[6:10, 8:9] = True  # a column
    mask[6:10, 12:15] = True  # a block
    mask[6, 9:12] = True  # joins the column and the block
    mask[11, 0] = True  # a lone pixel
    found = geometry.regions(mask)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    assert len(found) == count - 1 == 3
    ours = sorted((*points.min(axis=0), *(points.max(axis=0) + 1)) for points in found)
    theirs = sorted((x, y, x + w, y + h) for x, y, w, h, _ in stats[1:])
    assert ours == theirs


def test_min_area_rect_of_a_rotated_rectangle_matches_opencv():
    mask = np.zeros((120, 160), np.uint8)
    corners = cv2.boxPoints(((80, 60), (90, 30), 20)).astype(np.int32)
    cv2.fillPoly(mask, [corners], 1)
    points = np.concatenate(geometry.regions(mask.astype(bool)))
    ours = geometry.min_area_rect(points)
    (cx, cy), (w, h), _ = cv2.minAreaRect(np.argwhere(mask)[:, ::-1].astype(np.float32))
    assert ours.center == pytest.approx((cx, cy), abs=1)
    assert sorted(ours.size) == pytest.approx(sorted((w, h)), abs=1.5)
    box = geometry.order_corners(ours.corners())
    assert box[0][0] < box[1][0] and box[0][1] < box[3][1]  # top-left, top-right, ..., bottom-left
