"""Pen writing's pieces: the Hershey font reader the trainer learns from, and the drawing of
offsets that both the server and the trainer use (contract/handwriting.py)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from contract.handwriting import (
    MARGIN,
    PIXELS_PER_UNIT,
    next_offset,
    png_of,
    strokes_of,
    svg_of,
    text_done,
)
from toolchain.datasets import hershey

needs_fonts = pytest.mark.skipif(not hershey.FONT_FOLDER.is_dir(),
                                 reason="hershey-fonts-data is not installed "
                                        "(make system-packages)")


@needs_fonts
@pytest.mark.parametrize("name", ["cursive", "futural", "rowmans", "timesi"])
def test_a_font_has_the_96_ascii_glyphs_in_order(name):
    glyphs = hershey.font(name)
    assert len(glyphs) == 96 and list(glyphs)[:3] == [" ", "!", '"']
    assert glyphs[" "].strokes == () and glyphs[" "].width > 0
    assert all(glyphs[c].strokes for c in "aZ7?")


@needs_fonts
def test_glyph_shapes_read_from_the_file():
    futura = hershey.font("futural")
    strokes = futura["l"].strokes  # one vertical line
    assert len(strokes) == 1 and len(strokes[0]) == 2
    assert strokes[0][0][0] == strokes[0][1][0] and strokes[0][0][1] != strokes[0][1][1]
    assert len(futura["i"].strokes) == 2  # the stem and the dot
    assert len(futura["="].strokes) == 2


def test_a_record_that_wraps_onto_the_next_line_is_one_glyph():
    record = "12345 27H\\PBP_ RTBT_ RYIWGTFPFMGKIKKLMMNOOUQWRXSYUYXWZT[P[MZKX"
    wrapped = record[:40] + "\n" + record[40:] + "\n"
    glyphs = hershey.parse_glyphs(wrapped + "12345  1JZ\n")
    assert len(glyphs) == 2 and glyphs[1].strokes == ()
    assert [len(s) for s in glyphs[0].strokes] == [2, 2, 20]


@needs_fonts
def test_pen_offsets_walk_the_strokes_and_lift_between_them():
    strokes = hershey.strokes_of("hi", "futural")
    offsets = hershey.pen_offsets(strokes, unit=2.0)
    assert len(offsets) == sum(len(s) for s in strokes)
    assert offsets[:, 2].sum() == len(strokes)  # the pen lifts after every stroke
    rebuilt = strokes_of(list(offsets))
    assert len(rebuilt) == len([s for s in strokes if len(s) > 1])
    np.testing.assert_allclose(rebuilt[0] * 2.0, strokes[0], atol=1e-4)
    later = hershey.strokes_of("hi", "futural", hershey.Wobble(spacing=3.0))
    assert later[-1][0, 0] == pytest.approx(strokes[-1][0, 0] + 3.0)  # the i moved right


@needs_fonts
def test_the_closing_move_ends_where_the_next_letter_would_start():
    plain = hershey.strokes_of("ab", "timesi")
    closed = hershey.strokes_of("ab", "timesi", closing_move=True)
    glyphs = hershey.font("timesi")
    assert len(closed) == len(plain) + 1 and closed[-1].shape == (1, 2)
    assert closed[-1][0, 0] == glyphs["a"].width + glyphs["b"].width


def mixture(means, log_scales, weight_logits, lift=0.0, correlation=0.0):
    count = len(means)
    return {"weight_logits": np.array(weight_logits, np.float32),
            "means": np.array(means, np.float32),
            "log_scales": np.array(log_scales, np.float32).reshape(count, 2),
            "correlations": np.full(count, correlation, np.float32),
            "lift": np.array([lift], np.float32)}


def test_bias_picks_the_likelier_component_and_narrows_it():
    step = mixture([[1, 0], [-5, 5]], [[0, 0], [0, 0]], [1.0, 0.0], lift=0.3)
    rng = np.random.default_rng(0)
    plain = np.array([next_offset(step, 0.0, rng) for _ in range(4000)])
    neat = np.array([next_offset(step, 5.0, rng) for _ in range(4000)])
    # as trained: the components in proportion e^1 : 1, each with its own spread
    assert (plain[:, 0] < -2).mean() == pytest.approx(1 / (1 + np.e), abs=0.03)
    assert plain[plain[:, 0] > -2, 0].std() == pytest.approx(1.0, abs=0.1)
    # bias 5: the likelier component nearly always, its spread e^-5 as wide
    assert (neat[:, 0] < -2).mean() < 0.01  # e^6 : 1 now
    likelier = neat[neat[:, 0] > -2, 0]
    assert likelier.std() < 0.02 and likelier.mean() == pytest.approx(1.0, abs=0.01)
    assert plain[:, 2].mean() == pytest.approx(0.3, abs=0.03)  # the pen lifts as often


def test_correlation_tilts_the_drawn_offsets():
    step = mixture([[0, 0]], [[0, 0]], [0.0], correlation=0.9)
    rng = np.random.default_rng(1)
    drawn = np.array([next_offset(step, 0.0, rng)[:2] for _ in range(4000)])
    assert np.corrcoef(drawn.T)[0, 1] == pytest.approx(0.9, abs=0.03)


def test_the_writing_is_done_when_the_window_rests_on_the_closing_space():
    assert not text_done(np.array([0.1, 0.8, 0.3]))
    assert text_done(np.array([0.0, 0.2, 0.5]))


def test_the_pictures_show_every_stroke_at_the_stated_scale():
    offsets = [np.array(o, np.float32) for o in
               ([0, 0, 0], [10, 0, 1], [0, 5, 0], [0, 5, 1], [3, 0, 1])]
    strokes = strokes_of(offsets)
    assert len(strokes) == 2  # the last point alone draws nothing
    svg = svg_of(strokes)
    assert svg.count("<polyline") == 2
    width, height = (int(v) for v in re.search(r'width="(\d+)" height="(\d+)"', svg).groups())
    assert (width, height) == (10 * PIXELS_PER_UNIT + 2 * MARGIN,
                               10 * PIXELS_PER_UNIT + 2 * MARGIN)
    picture = np.asarray(Image.open(io.BytesIO(png_of(strokes))).convert("L"))
    assert picture.shape == (height, width)
    assert picture[MARGIN, MARGIN + 30] < 100  # on the first line
    assert picture[height // 2, width // 2] > 200  # the middle is paper
    assert svg_of([]).count("<polyline") == 0 and png_of([])
