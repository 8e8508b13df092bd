"""trainer.synth: the public API, reproducibility, and what a pair looks like."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from trainer.data import ink_stroke_width
from trainer.synth import make_pair, pair_rng, write_pairs
from trainer.synth.pairs import CATEGORIES, NEAR_CLEAN, TARGET_WIDTH
from trainer.synth.rough import hatching

SIZE = 424


@pytest.fixture(scope="module")
def pairs():
    """Pairs 0..59 of seed 1 (~3 s)."""
    return [make_pair(pair_rng(1, i), SIZE) for i in range(60)]


def ink_masks(rough: np.ndarray, clean: np.ndarray):
    clean_ink = clean < 128
    paper = float(np.percentile(rough, 90))
    rough_ink = rough < paper - 0.15 * max(paper - float(rough.min()), 1.0)
    return rough_ink, clean_ink


def near_clean(rough, clean) -> bool:
    """The rough is the target's lines drawn once with another pen, lightly degraded: every
    ink pixel of each lies within the other's pen width (nothing extra, nothing missing)."""
    paper, ink = float(np.percentile(rough, 90)), float(rough.min())
    r, c = (rough < (paper + ink) / 2).astype(np.uint8), (clean < 128).astype(np.uint8)
    near_c = cv2.dilate(c, np.ones((5, 5), np.uint8)) > 0
    near_r = cv2.dilate(r, np.ones((3, 3), np.uint8)) > 0
    return (r.astype(bool) & near_c).sum() / max(r.sum(), 1) > 0.97 and (
        c.astype(bool) & near_r
    ).sum() / max(c.sum(), 1) > 0.97


def test_reproducible_from_seed_and_index():
    a = make_pair(pair_rng(7, 3), SIZE)
    b = make_pair(pair_rng(7, 3), SIZE)
    c = make_pair(pair_rng(7, 4), SIZE)
    d = make_pair(pair_rng(8, 3), SIZE)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1]) and not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[1], d[1])


def test_same_generator_state_same_pair():
    rng1, rng2 = np.random.default_rng(123), np.random.default_rng(123)
    r1, c1 = make_pair(rng1, 200)
    r2, c2 = make_pair(rng2, 200)
    assert np.array_equal(r1, r2) and np.array_equal(c1, c2)


@pytest.mark.parametrize("size", [128, 256, SIZE])
def test_shapes_dtypes_ranges(size):
    for i in range(4):
        rough, clean = make_pair(pair_rng(2, i), size)
        for im in (rough, clean):
            assert im.shape == (size, size) and im.dtype == np.uint8
        assert (clean == 255).mean() > 0.5  # white paper
        assert clean.min() < 40  # dark lines
        assert np.median(rough) > 150  # mostly paper
        assert rough.min() < np.median(rough) - 60  # with dark marks on it


def test_clean_target_is_line_art(pairs):
    solid = []
    for _, clean in pairs:
        ink = clean < 128
        assert 0.005 < ink.mean() < 0.3
        # only paper, ink, and anti-aliased edges in between: few mid-gray pixels
        mid = (clean > 60) & (clean < 195)
        assert mid.sum() < 1.2 * ink.sum()
        # lines are thin: opening with a 7x7 square keeps only where lines meet or converge
        opened = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_OPEN, np.ones((7, 7), np.uint8))
        solid.append(opened.sum() / ink.sum())
    assert max(solid) < 0.35 and np.median(solid) < 0.1


def test_clean_lines_have_rough_ink_nearby(pairs):
    cover = []
    for rough, clean in pairs:
        rough_ink, clean_ink = ink_masks(rough, clean)
        near = cv2.dilate(rough_ink.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        cover.append((near & clean_ink).sum() / clean_ink.sum())
    assert np.mean(cover) > 0.95
    assert np.percentile(cover, 10) > 0.9
    assert min(cover) > 0.75


def test_rough_has_extra_marks_and_noise(pairs):
    rough_pairs = [(r, c) for r, c in pairs if not near_clean(r, c)]
    assert len(rough_pairs) > 0.6 * len(pairs)
    extra, diffs = [], []
    for rough, clean in rough_pairs:
        rough_ink, clean_ink = ink_masks(rough, clean)
        far = cv2.dilate(clean_ink.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
        extra.append((rough_ink & far).sum() / max(rough_ink.sum(), 1))
        diffs.append(np.abs(rough.astype(np.int16) - clean).mean())
    # marks away from every target line: construction, hatching, strays, smudges...
    assert np.median(extra) > 0.03
    assert np.mean(np.array(extra) > 0.01) > 0.6
    assert np.median(diffs) > 8  # a meaningful difference from the target


def test_some_pairs_are_nearly_clean(pairs):
    frac = np.mean([near_clean(r, c) for r, c in pairs])
    assert 0.3 * NEAR_CLEAN <= frac <= 2.5 * NEAR_CLEAN


def test_every_target_line_has_one_thin_width(pairs):
    # 2 x area / outline of the Otsu mask: about 1 px over the drawn width (anti-aliased
    # edges, ends and junctions); a spread of widths would show as a spread here
    widths = np.array([ink_stroke_width(clean / 255.0) for _, clean in pairs])
    assert np.all(np.abs(widths - (TARGET_WIDTH + 1)) < 0.8)
    assert widths.std() < 0.3


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_makes_pairs(category):
    rough, clean = make_pair(pair_rng(3, 0), 192, category)
    assert rough.shape == clean.shape == (192, 192)
    assert (clean < 128).any() and rough.min() < np.median(rough) - 10


def test_unknown_category_is_refused():
    with pytest.raises(ValueError, match="category"):
        make_pair(pair_rng(3, 0), 64, "watercolour")


def test_kept_hatching_is_spaced_and_dense_hatching_is_tone():
    rng = np.random.default_rng(4)
    keep, tone = hatching(rng, [], 256, 3.0, min_gap=4.5)
    assert keep and tone
    # kept strokes: each one's nearest parallel neighbour is at least the gap away
    for group in (keep,):
        mids = np.array([p.mean(0) for p in group if len(p) == 2])
        dist = np.sqrt(((mids[:, None] - mids[None]) ** 2).sum(-1))
        np.fill_diagonal(dist, np.inf)
        assert np.median(dist.min(1)) >= 4.5 * 0.9


def test_write_pairs_files_match_make_pair(tmp_path):
    out = write_pairs(tmp_path / "ds", 3, size=96, seed=5, progress=False)
    names = sorted(p.name for p in (out / "input").iterdir())
    assert names == ["00000.png", "00001.png", "00002.png"]
    assert sorted(p.name for p in (out / "target").iterdir()) == names
    for i, name in enumerate(names):
        rough, clean = make_pair(pair_rng(5, i), 96)
        assert np.array_equal(cv2.imread(str(out / "input" / name), cv2.IMREAD_GRAYSCALE), rough)
        assert np.array_equal(cv2.imread(str(out / "target" / name), cv2.IMREAD_GRAYSCALE), clean)


def test_write_pairs_parallel_equals_serial(tmp_path):
    a = write_pairs(tmp_path / "a", 4, size=64, seed=2, workers=1, progress=False)
    b = write_pairs(tmp_path / "b", 4, size=64, seed=2, workers=2, progress=False)
    for sub in ("input", "target"):
        for i in range(4):
            fa = (a / sub / f"{i:05d}.png").read_bytes()
            fb = (b / sub / f"{i:05d}.png").read_bytes()
            assert fa == fb
