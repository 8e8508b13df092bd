"""The Open Peeps line source: vendored data, geometry, determinism, use in pairs."""

from __future__ import annotations

import gzip
import json

import cv2
import numpy as np
import pytest

from trainer.synth import compose as compose_mod
from trainer.synth import make_pair, peeps

pytestmark = pytest.mark.skipif(not peeps.available(), reason="vendored Open Peeps data missing")


def only_peeps(monkeypatch):
    monkeypatch.setattr(compose_mod, "_usable_sources", lambda: (["peep"], np.array([1.0])))


def test_vendored_file_loads_and_is_small():
    assert peeps.DATA.stat().st_size <= 500_000
    with gzip.open(peeps.DATA, "rt", encoding="utf-8") as f:
        data = json.load(f)
    assert "@dicebear/open-peeps" in data["source"] and "CC0" in data["source"]
    assert "Pablo Stanley" in data["source"]
    pps = peeps.load_peeps()
    assert 200 <= len(pps) <= 600
    assert {p.kind for p in pps} == {"bust", "head"}
    assert len({p.parts[0] for p in pps}) == 48  # every head design
    assert len({p.parts[1] for p in pps}) == 30  # every face
    for p in pps:
        assert len(p.lines) == len(p.closed) == len(p.solid) >= 5
        for q in p.lines:
            assert q.shape[1] == 2 and len(q) >= 2 and np.isfinite(q).all()
            assert (q > -1).all() and (q < peeps.UNITS + 1).all()  # in the 704-unit viewBox
        for q, closed, solid in zip(p.lines, p.closed, p.solid, strict=True):
            if closed:  # closed lines come back to their start
                assert np.allclose(q[0], q[-1], atol=0.6)
            assert closed or not solid  # a mass outline is closed
        assert p.dots.shape[1] == 3 and (p.dots[:, 2] > 0).all()
        assert len(p.fill) >= 3
        # the silhouette holds the drawing
        lo, hi = p.fill.min(0), p.fill.max(0)
        assert (p.lo > lo - 8).all() and (p.hi < hi + 8).all()


def test_missing_data_file_degrades(tmp_path):
    assert peeps.load_peeps(tmp_path / "nope.json.gz") == ()


@pytest.mark.parametrize("lw", [1.8, 2.5, 3.6])
def test_peep_lines_in_bounds_and_finite(lw):
    for seed in range(20):
        rng = np.random.default_rng(seed)
        s = rng.uniform(60 * lw, 420)
        el = peeps.peep(rng, 200.0, 200.0, s, lw)
        assert len(el.lines) >= 5
        pts = np.concatenate([st.pts for st in el.lines])
        assert np.isfinite(pts).all()
        # about max(s, the clog limit's size) across around the centre
        big = max(s, peeps.MIN_SIZE_LW * lw, peeps.MIN_UNIT_LW * lw * 480)
        assert (np.abs(pts - 200) < 0.5 * big * 1.3 + 2).all(), (seed, s)
        for g in el.guides:
            assert np.isfinite(g).all() and len(g) >= 2
        assert len(el.fills) == 1 and len(el.fills[0]) >= 3


def test_peep_is_deterministic():
    a = peeps.peep(np.random.default_rng(7), 100, 120, 300, 2.5)
    b = peeps.peep(np.random.default_rng(7), 100, 120, 300, 2.5)
    assert len(a.lines) == len(b.lines) and len(a.guides) == len(b.guides)
    for x, y in zip(a.lines, b.lines, strict=True):
        assert np.array_equal(x.pts, y.pts) and x.width == y.width


def test_detail_never_finer_than_the_line_width():
    """One drawing unit (distinct lines are >= GAP units apart) is >= MIN_UNIT_LW line widths."""
    pp = peeps.load_peeps()[0]
    ext = float((pp.hi - pp.lo).max())
    lw = 3.0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        el = peeps._place(rng, pp, 100, 100, 20 * lw, lw, False)  # asked far too small
        pts = np.concatenate([st.pts for st in el.lines])
        assert np.ptp(pts, 0).max() >= ext * peeps.MIN_UNIT_LW * lw * 0.9
    assert peeps.GAP * peeps.MIN_UNIT_LW >= 2.5


def test_small_peeps_are_bare_heads(monkeypatch):
    kinds = []
    place = peeps._place

    def spy(rng, pp, *a):
        kinds.append(pp.kind)
        return place(rng, pp, *a)

    monkeypatch.setattr(peeps, "_place", spy)
    for seed in range(20):
        peeps.peep(np.random.default_rng(seed), 100, 100, 80, 3.0)  # a bust: far too large
        peeps.peep(np.random.default_rng(seed), 200, 200, 420, 1.8)  # a bust fits
    assert set(kinds[::2]) == {"head"}
    assert "bust" in kinds[1::2]


def test_make_pair_with_only_peeps(monkeypatch):
    only_peeps(monkeypatch)
    for seed in range(3):
        rough, clean = make_pair(np.random.default_rng(seed), 256)
        assert rough.shape == clean.shape == (256, 256)
        assert rough.dtype == clean.dtype == np.uint8
        assert (clean < 128).mean() > 0.005  # peeps were drawn


def test_rough_lies_on_the_target(monkeypatch):
    """The rough is drawn from the same centre lines: the target is covered by rough ink."""
    only_peeps(monkeypatch)
    cover = []
    for seed in range(4):
        rough, clean = make_pair(np.random.default_rng(10 + seed), 256, "hatching")
        clean_ink = clean < 128
        paper = float(np.percentile(rough, 90))
        rough_ink = rough < paper - 0.15 * max(paper - float(rough.min()), 1.0)
        near = cv2.dilate(rough_ink.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        cover.append((near & clean_ink).sum() / max(clean_ink.sum(), 1))
    assert min(cover) > 0.85, cover


def test_make_pair_with_peeps_is_deterministic(monkeypatch):
    only_peeps(monkeypatch)
    a = make_pair(np.random.default_rng(5), 200)
    b = make_pair(np.random.default_rng(5), 200)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_peep_is_a_registered_source():
    names, probs = compose_mod._usable_sources()
    assert "peep" in names
    assert 0.03 < probs[names.index("peep")] < 0.08


def test_compose_chooses_peeps_at_about_their_weight(monkeypatch):
    """Counted over many elements of real compositions (favourites included)."""
    names, probs = compose_mod._usable_sources()
    counts: dict[str, int] = {}

    def counting(name, fn):
        def f(rng, cx, cy, s, lw):
            counts[name] = counts.get(name, 0) + 1
            return fn(rng, cx, cy, s, lw)

        return f

    patched = {k: (counting(k, fn), w, m) for k, (fn, w, m) in compose_mod.SOURCES.items()}
    monkeypatch.setattr(compose_mod, "SOURCES", patched)
    rng = np.random.default_rng(0)
    for _ in range(60):
        compose_mod.compose(rng, 424, 2.5)
    total = sum(counts.values())
    share = counts.get("peep", 0) / total
    expected = probs[names.index("peep")]
    assert total > 300
    assert 0.3 * expected < share < 2.5 * expected, (share, expected)
