"""trainer.synth line sources, SVG parsing, the command line and the contact sheet."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from trainer.synth import cli, glyphs
from trainer.synth.compose import SOURCES, compose
from trainer.synth.curves import resample, resample_many


def test_parse_svg_path_absolute_relative_and_smooth():
    (p,) = glyphs.parse_svg_path("M10,10 l5,0 h5 v5 L10,15 z")
    assert np.allclose(p, [[10, 10], [15, 10], [20, 10], [20, 15], [10, 15], [10, 10]])
    (q,) = glyphs.parse_svg_path("M0,0c0,10,10,10,10,0s10-10,10,0")
    assert np.allclose(q[0], [0, 0]) and np.allclose(q[-1], [20, 0])
    mid = q[np.argmin(np.abs(q[:, 0] - 5))]
    assert mid[1] == pytest.approx(7.5, abs=0.6)  # the first bump bulges down
    assert q[:, 1].min() < -5  # the reflected control point makes the second bump go up
    assert len(glyphs.parse_svg_path("M1,1 2,2 3,3")[0]) == 3  # implicit lineto


def test_resample_many_matches_resample():
    rng = np.random.default_rng(0)
    polys = [rng.uniform(0, 100, (int(rng.integers(2, 9)), 2)) for _ in range(30)]
    for a, b in zip(resample_many(polys, 2.0), [resample(p, 2.0) for p in polys], strict=True):
        assert a.shape == b.shape and np.allclose(a, b, atol=1e-3)


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_draws_lines_near_its_box(name):
    fn = SOURCES[name][0]
    ok = glyphs.available()
    need = {"kanji": "kanji", "text": "hershey", "letters": "outline_letters"}
    if not ok.get(need.get(name, ""), True):
        pytest.skip(f"{name}: package not installed")
    for seed in range(5):
        el = fn(np.random.default_rng(seed), 200.0, 200.0, 160.0, 2.5)
        assert el.lines, name
        pts = np.concatenate([st.pts for st in el.lines])
        assert np.isfinite(pts).all()
        # within a generous box around (200, 200): sources may overhang a little
        assert (np.abs(pts - 200) < 160 * 1.6).all(), name


def test_packaged_stroke_sources_are_used():
    """KanjiVG and Hershey glyphs (if installed) give many distinct centre-line strokes."""
    if not glyphs.available()["kanji"]:
        pytest.skip("kanjivg not installed")
    assert len(glyphs._kanji_files()) > 1000
    el = glyphs.kanji(np.random.default_rng(0), 100, 100, 90, 2.0)
    assert 1 <= len(el.lines) < 60


def test_compose_density_and_bounds():
    rng = np.random.default_rng(3)
    sparse = [len(compose(rng, 424, 2.5, "sparse").lines) for _ in range(6)]
    dense = [len(compose(rng, 424, 2.5, "dense").lines) for _ in range(6)]
    assert np.mean(dense) > np.mean(sparse)
    d = compose(np.random.default_rng(4), 300, 3.0)
    for st in d.lines:
        assert len(st.pts) >= 2
        assert st.pts.max() > -4 and st.pts.min() < 304


def test_cli_writes_pairs_and_contact_sheet(tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    rc = cli.main(
        [
            "--out",
            str(tmp_path / "d"),
            "-n",
            "2",
            "--size",
            "96",
            "--seed",
            "3",
            "--contact-sheet",
            str(sheet),
            "--sheet-count",
            "2",
        ]
    )
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "d" / "input").iterdir()) == [
        "00000.png",
        "00001.png",
    ]
    img = cv2.imread(str(sheet), cv2.IMREAD_GRAYSCALE)
    assert img is not None and img.shape[0] == 2 * 96 + 8
    assert img.shape[1] >= 2 * 96


def test_cli_needs_an_output(capsys):
    assert cli.main([]) == 2
    assert "--out DIR and/or --contact-sheet PATH" in capsys.readouterr().err
