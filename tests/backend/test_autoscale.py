"""Auto scale's stroke-width estimate on synthetic roughs of known geometry.

Each rough is rendered once as ideal graphite (no paper), then scanned at several
contrasts (0.1-1), on plain and on mottled, unevenly lit, fibrous paper, and resized by a
known factor. The estimate must follow the resize and ignore the paper: its ratio to the
ideal rendering's estimate (times the factor) stays within 1.5x of the typical ratio, or,
where the strokes are no darker than the paper's grain, it declines to measure.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from backend import autoscale
from backend.autoscale import estimate_stroke_width, flatten_paper, working_scale
from tests.support import fixtures
from trainer.synth.compose import compose
from trainer.synth.paper import ScanStyle, scan
from trainer.synth.rough import lowfreq, render_rough, sample_style

SIZE = 320


def _graphite(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    drawing = compose(rng, SIZE, 2.5)
    ink, _ = render_rough(rng, drawing.lines, drawing.guides, SIZE, sample_style(rng))
    return ink


def _scanned(ink: np.ndarray, contrast: float, textured: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    style = ScanStyle(
        paper=0.9,
        light=0.25 if textured else 0.0,
        fiber=0.08 if textured else 0.0,
        dark=contrast,
        levels=False,
        noise=0.01,
    )
    image = scan(rng, ink, style).astype(np.float32) / 255
    if textured:  # mottled paper: blotches larger than strokes
        image *= 1 - 0.12 * lowfreq(rng, SIZE, 12)
    return image / image.max()


def _resized(image: np.ndarray, factor: float) -> np.ndarray:
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=interpolation)


def _log_ratios(contrasts, textured: bool, seeds=range(8), factors=(0.5, 1.0, 2.0)):
    out = []
    for seed in seeds:
        ink = _graphite(seed)
        ideal = estimate_stroke_width(1 - ink)
        for contrast in contrasts:
            image = _scanned(ink, contrast, textured, seed)
            for factor in factors:
                measured = estimate_stroke_width(_resized(image, factor))
                out.append(np.log(measured / (ideal * factor)) if measured else np.inf)
    return np.array(out)


def test_estimate_follows_the_resize_on_plain_paper_down_to_faint_contrast():
    ratios = _log_ratios((0.1, 0.3, 1.0), textured=False)
    typical = np.median(ratios)
    assert abs(typical) < np.log(1.4)  # a consistent, small bias is fine: only ratios count
    assert np.mean(np.abs(ratios - typical) <= np.log(1.5)) >= 0.9


def test_estimate_ignores_mottled_uneven_fibrous_paper():
    plain = np.median(_log_ratios((1.0,), textured=False))
    ratios = _log_ratios((0.2, 0.5, 1.0), textured=True)
    assert np.mean(np.abs(ratios - plain) <= np.log(1.5)) >= 0.9


def test_strokes_fainter_than_the_paper_grain_are_not_measured_wrongly():
    """At contrast 0.1 on that paper the grain is as dark as the strokes: the estimate
    declines (auto scale keeps the sketch's size) rather than guess."""
    plain = np.median(_log_ratios((1.0,), textured=False))
    ratios = _log_ratios((0.1,), textured=True)
    wrong = np.isfinite(ratios) & (np.abs(ratios - plain) > np.log(1.6))
    assert wrong.mean() <= 0.05


def test_flattening_removes_uneven_light_and_blotches():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32) / 256
    paper = (0.95 - 0.35 * xx) * (1 - 0.15 * lowfreq(rng, 256, 8))
    flat = flatten_paper(paper)
    assert flat.min() > 0.93  # no part of a blank page reads as ink any more


def test_blank_and_grainy_pages_measure_nothing():
    rng = np.random.default_rng(0)
    assert estimate_stroke_width(np.ones((200, 200), np.float32)) is None
    grain = 1 - 0.04 * rng.random((200, 200)).astype(np.float32)
    assert estimate_stroke_width(grain) is None
    assert working_scale(grain, "auto", 3.5) == 1.0


def test_working_scale_brings_strokes_to_the_model_width():
    ink = _graphite(11)
    image = _scanned(ink, 0.6, textured=True, seed=11)
    measured = estimate_stroke_width(image)
    scale = working_scale(image, "auto", 2 * measured)
    assert scale == pytest.approx(2.0, rel=1e-6)
    assert working_scale(image, 1.5, 2 * measured) == 1.5


def test_each_layer_is_measured_once_while_remembered(monkeypatch):
    """A live preview sends the same layer for every region: its measure is reused."""
    real = autoscale.estimate_stroke_width
    calls = []

    def counted(gray):
        calls.append(gray.shape)
        return real(gray)

    monkeypatch.setattr(autoscale, "estimate_stroke_width", counted)
    widths = autoscale.StrokeWidths(size=2)
    a, b, c = (fixtures.drawing(200, 240, seed=s).astype(np.float32) / 255 for s in (1, 2, 3))
    assert widths(a) == real(a / a.max()) and len(calls) == 1
    assert widths(a.copy()) == widths(a) and len(calls) == 1
    widths(a.reshape(240, 200))  # the same bytes as another shape: another layer
    widths(b)  # three layers for two places: a, the least recently used, is forgotten
    widths(c)
    assert len(calls) == 4
    widths(c)
    widths(a)
    assert len(calls) == 5
