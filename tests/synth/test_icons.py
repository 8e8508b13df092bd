"""The Tabler icon line source: vendored data, geometry, determinism, use in pairs."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from trainer.synth import compose as compose_mod
from trainer.synth import icons, make_pair

pytestmark = pytest.mark.skipif(not icons.available(), reason="vendored icon data missing")


def test_vendored_file_loads_and_is_small():
    assert icons.DATA.stat().st_size <= 1_500_000
    with gzip.open(icons.DATA, "rt", encoding="utf-8") as f:
        data = json.load(f)
    assert "@tabler/icons" in data["source"] and "MIT" in data["source"]
    ics = icons.load_icons()
    assert 500 <= len(ics) <= 1500
    assert len({ic.name for ic in ics}) == len(ics)
    for ic in ics:
        assert len(ic.lines) == len(ic.closed) >= 2
        for p in ic.lines:
            assert p.shape[1] == 2 and len(p) >= 2 and np.isfinite(p).all()
            assert (p > -1).all() and (p < 25).all()  # on the 24-unit grid
        for p, closed in zip(ic.lines, ic.closed, strict=True):
            if closed:  # closed sub-paths come back to their start
                assert np.allclose(p[0], p[-1], atol=0.05)
    names = {ic.name for ic in ics}
    assert {"cat", "bike", "campfire"} <= names
    assert not any(n.endswith("-off") or n.startswith("letter-") for n in names)


def test_missing_data_file_degrades(tmp_path):
    assert icons.load_icons(tmp_path / "nope.json.gz") == ()


@pytest.mark.parametrize("lw", [1.8, 2.5, 3.6])
def test_icon_lines_in_bounds_and_finite(lw):
    for seed in range(30):
        rng = np.random.default_rng(seed)
        s = rng.uniform(30 * lw, 400)
        el = icons.icon(rng, 200.0, 200.0, s, lw)
        assert el.lines
        pts = np.concatenate([st.pts for st in el.lines])
        assert np.isfinite(pts).all()
        # about s across around the centre (rotation and the aspect jitter overhang a little)
        assert (np.abs(pts - 200) < 0.5 * s * 1.35 + 2).all(), (seed, s)
        for g in el.guides:
            assert np.isfinite(g).all() and len(g) >= 2
        for f in el.fills:
            assert len(f) >= 3


def test_icon_is_deterministic():
    a = icons.icon(np.random.default_rng(7), 100, 120, 150, 2.5)
    b = icons.icon(np.random.default_rng(7), 100, 120, 150, 2.5)
    assert len(a.lines) == len(b.lines) and len(a.guides) == len(b.guides)
    for x, y in zip(a.lines, b.lines, strict=True):
        assert np.array_equal(x.pts, y.pts) and x.width == y.width


def test_detail_never_finer_than_the_line_width():
    """One icon unit (its strokes are >= 2 units apart) is >= MIN_UNIT_LW line widths."""
    ics = {ic.name: ic for ic in icons.load_icons()}
    ic = ics["bike"]
    lw = 3.0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        el = icons._place(rng, ic, 100, 100, 20 * lw, lw, False)  # asked too small
        p = el.lines[0].pts  # a wheel: 6 units across
        assert np.ptp(p, 0).min() >= 6 * icons.MIN_UNIT_LW * lw * 0.9


def test_make_pair_with_only_icons(monkeypatch):
    monkeypatch.setattr(compose_mod, "_usable_sources", lambda: (["icon"], np.array([1.0])))
    for seed in range(3):
        rough, clean = make_pair(np.random.default_rng(seed), 160)
        assert rough.shape == clean.shape == (160, 160)
        assert rough.dtype == clean.dtype == np.uint8
        assert (clean < 128).mean() > 0.005  # icons were drawn


def test_icon_is_a_registered_source():
    names, probs = compose_mod._usable_sources()
    assert "icon" in names
    assert 0.05 < probs[names.index("icon")] < 0.15
