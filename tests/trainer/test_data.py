"""Data loading: pair matching, preprocessing, the PyDataset, augmentation, stroke width."""

import math

import cv2
import numpy as np
import pytest

from tests.trainer.conftest import make_simple_pair, write_pair_folder
from trainer.augment import AugmentConfig, augment_pair
from trainer.data import (
    SketchDataset,
    UnmatchedPairsError,
    binarize_at_mean,
    binarize_target,
    dataset_stroke_width,
    dataset_stroke_widths,
    find_pairs,
    ink_stroke_width,
    median_stroke_width,
    normalize_by_max,
    read_gray,
    sample_patch,
    split_pairs,
)


def test_find_pairs_matches_by_stem_across_extensions(pair_folder):
    pairs = find_pairs(pair_folder)
    assert len(pairs) == 12
    assert pairs[0].stem == "s000"
    assert pairs[0].input.suffix == ".jpg" and pairs[0].target.suffix == ".png"


def test_unmatched_names_are_listed(tmp_path):
    for sub, names in (("input", ["a.png", "b.png", "notes.txt"]), ("target", ["a.tif", "c.jpg"])):
        (tmp_path / sub).mkdir()
        for n in names:
            cv2.imwrite(str(tmp_path / sub / n), np.full((8, 8), 255, np.uint8)) if not n.endswith(
                ".txt"
            ) else (tmp_path / sub / n).write_text("x")
    with pytest.raises(UnmatchedPairsError) as e:
        find_pairs(tmp_path)
    msg = str(e.value)
    assert "b.png" in msg and "c.jpg" in msg
    assert "a.png" not in msg and "notes.txt" not in msg


def test_missing_folder_and_duplicate_stems(tmp_path):
    (tmp_path / "input").mkdir()
    with pytest.raises(FileNotFoundError, match="target"):
        find_pairs(tmp_path)
    (tmp_path / "target").mkdir()
    for name in ("input/x.png", "input/x.jpg", "target/x.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((4, 4), np.uint8))
    with pytest.raises(UnmatchedPairsError, match="share a stem"):
        find_pairs(tmp_path)


def test_read_gray_alpha_16bit_and_color(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (0, 0, 0, 0)  # fully transparent black -> white paper
    rgba[0, 1] = (0, 0, 0, 255)  # opaque black
    rgba[1, :] = (255, 255, 255, 255)
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    g = read_gray(tmp_path / "a.png")
    assert g.dtype == np.float32 and g.shape == (2, 2)
    np.testing.assert_allclose(g, [[1, 0], [1, 1]], atol=1e-6)
    cv2.imwrite(str(tmp_path / "b.png"), np.array([[0, 65535], [32768, 65535]], np.uint16))
    np.testing.assert_allclose(read_gray(tmp_path / "b.png"), [[0, 1], [0.5, 1]], atol=1e-4)
    bgr = np.zeros((1, 1, 3), np.uint8)
    bgr[0, 0] = (255, 0, 0)  # pure blue: luma 0.114
    cv2.imwrite(str(tmp_path / "c.png"), bgr)
    assert read_gray(tmp_path / "c.png")[0, 0] == pytest.approx(0.114, abs=0.01)


def test_normalize_and_binarize_by_hand():
    x = np.array([[0.1, 0.4], [0.8, 0.2]], np.float32)
    np.testing.assert_allclose(normalize_by_max(x), [[0.125, 0.5], [1.0, 0.25]])
    assert normalize_by_max(np.zeros((2, 2))).max() == 0
    y = np.array([[0.2, 1.0], [0.9, 1.0]], np.float32)  # mean 0.775
    np.testing.assert_array_equal(binarize_at_mean(y), [[0, 1], [1, 1]])
    assert binarize_at_mean(np.full((3, 3), 0.7)).min() == 1.0  # constant: all paper
    # float rounding of a blank crop must not invent lines
    nearly = np.ones((8, 8), np.float32)
    nearly[::3, ::2] = np.float32(0.99999994)
    assert binarize_at_mean(nearly).min() == 1.0


def test_binarize_target_otsu_and_level_ignore_paper_noise():
    rng = np.random.default_rng(0)
    y = np.clip(rng.normal(0.97, 0.015, (64, 64)), 0, 1).astype(np.float32)  # textured paper
    y[10, :] = 0.05  # one thin line: 1.6 % of the pixels
    assert (binarize_at_mean(y) == 0).sum() > 300  # the mean rule turns texture into specks
    for method in ("otsu", 0.5):
        b = binarize_target(y, method)
        assert (b == 0).sum() == 64 and (b[10] == 0).all()
    with pytest.raises(ValueError):
        binarize_target(y, 1.5)


def test_sample_patch_crops_large_and_resizes_small():
    rng = np.random.default_rng(0)
    big = np.ones((400, 500), np.float32)
    big[:, 250] = 0.0
    x, y = sample_patch(big, big, 64, rng)  # 400 >= 1.5 * 64: random crop of 64..96 px
    assert x.shape == y.shape == (64, 64)
    small = np.ones((80, 90), np.float32)
    x, _ = sample_patch(small, small, 64, None)  # resized whole
    assert x.shape == (64, 64)
    # target of another resolution is brought onto the input grid first
    x, y = sample_patch(np.ones((100, 100), np.float32), np.ones((50, 50), np.float32), 64, None)
    assert y.shape == (64, 64)


def test_dataset_batches_shapes_dtypes_and_binary_targets(pair_folder):
    ds = SketchDataset(find_pairs(pair_folder), patch=64, batch_size=4, seed=3)
    assert len(ds) == 3
    x, y = ds[0]
    assert x.shape == y.shape == (4, 64, 64, 1)
    assert x.dtype == y.dtype == np.float32
    assert set(np.unique(y)) <= {0.0, 1.0} and 0 < y.mean() < 1
    np.testing.assert_allclose(x.reshape(4, -1).max(axis=1), 1.0)  # normalised by max
    assert x.min() >= 0
    with pytest.raises(IndexError):
        ds[3]


def test_dataset_reproducible_and_reshuffled_per_epoch(pair_folder):
    pairs = find_pairs(pair_folder)
    a = SketchDataset(pairs, patch=32, batch_size=4, seed=1)
    b = SketchDataset(pairs, patch=32, batch_size=4, seed=1)
    np.testing.assert_array_equal(a[1][0], b[1][0])
    first = a[1][0]
    a.on_epoch_end()
    assert a.epoch == 1
    assert not np.array_equal(first, a[1][0])
    b.set_epoch(1)  # resuming at epoch 1 reproduces it
    np.testing.assert_array_equal(a[1][0], b[1][0])
    val = SketchDataset(pairs, patch=32, batch_size=5, train=False)
    assert len(val) == 3  # 12 samples, last batch partial
    v0 = val[0][0]
    val.on_epoch_end()
    np.testing.assert_array_equal(v0, val[0][0])  # validation does not change
    assert val[2][0].shape[0] == 2


def test_synthetic_stream_is_seeded_per_epoch_and_index():
    ds = SketchDataset(patch=32, batch_size=2, synthetic=6, make_pair=make_simple_pair, seed=4)
    assert len(ds) == 3 and ds.num_samples == 6
    x0, y0 = ds[0]
    assert x0.shape == (2, 32, 32, 1)
    again = SketchDataset(patch=32, batch_size=2, synthetic=6, make_pair=make_simple_pair, seed=4)
    np.testing.assert_array_equal(again[0][1], y0)
    again.set_epoch(1)
    assert not np.array_equal(again[0][1], y0)  # fresh pairs each epoch
    val = SketchDataset(
        patch=32, batch_size=2, synthetic=6, make_pair=make_simple_pair, seed=4, train=False
    )
    v = val[0][1]
    val.set_epoch(3)
    np.testing.assert_array_equal(val[0][1], v)


def test_files_and_synthetic_mix(pair_folder):
    ds = SketchDataset(
        find_pairs(pair_folder), patch=32, batch_size=4, synthetic=4, make_pair=make_simple_pair
    )
    assert ds.num_samples == 16 and len(ds) == 4
    assert "12 file pairs + 4 synthetic" in ds.describe()


def test_real_synth_module_if_present():
    synth = pytest.importorskip("trainer.synth")
    ds = SketchDataset(patch=64, batch_size=2, synthetic=2, seed=0, make_pair=synth.make_pair)
    x, y = ds[0]
    assert x.shape == y.shape == (2, 64, 64, 1)
    assert set(np.unique(y)) <= {0.0, 1.0} and 0 < y.mean() < 1


def test_split_pairs(pair_folder):
    pairs = find_pairs(pair_folder)
    tr, va = split_pairs(pairs, 0.25, seed=0)
    assert len(va) == 3 and len(tr) == 9
    assert not {p.stem for p in tr} & {p.stem for p in va}
    assert split_pairs(pairs, 0.25, seed=0) == (tr, va)
    assert split_pairs(pairs[:1], 0.5, seed=0) == (pairs[:1], [])


def _line_iou(a, b):
    return np.logical_and(a, b).sum() / max(1, np.logical_or(a, b).sum())


def test_geometric_augmentation_is_identical_for_input_and_target():
    _, clean = make_simple_pair(np.random.default_rng(7), 96)
    y = (clean / 255.0).astype(np.float32)
    geo_only = AugmentConfig(photometric_p=0.0, geometric_p=1.0, rotate_deg=25)
    changed = 0
    for seed in range(6):
        xa, ya = augment_pair(y.copy(), y.copy(), np.random.default_rng(seed), geo_only)
        assert set(np.unique(ya)) <= {0.0, 1.0}
        np.testing.assert_array_equal((xa >= 0.5).astype(np.float32), ya)
        changed += not np.array_equal(ya, y)
    assert changed >= 5  # the transforms really move things


def test_full_augmentation_keeps_lines_aligned():
    _, clean = make_simple_pair(np.random.default_rng(8), 96)
    y = (clean / 255.0).astype(np.float32)
    for seed in range(8):
        xa, ya = augment_pair(y.copy(), y.copy(), np.random.default_rng(seed), AugmentConfig())
        mid = (xa.min() + xa.max()) / 2
        assert _line_iou(xa < mid, ya < 0.5) > 0.75, seed
        # the line does move relative to the un-augmented image in most draws
    photometric_only = AugmentConfig(geometric_p=0, hflip=0, vflip=0, photometric_p=1)
    xa, ya = augment_pair(y, y, np.random.default_rng(0), photometric_only)
    np.testing.assert_array_equal(ya, y)  # the target is untouched by photometric changes
    assert not np.array_equal(xa, y)


def test_dataset_augmentation_aligned_through_crop_and_resize(tmp_path):
    # input == target, so every geometric step must keep them on top of each other
    root = tmp_path / "same"
    write_pair_folder(root, 2, 200, seed=2)
    for p in (root / "target").iterdir():
        (root / "input" / p.name).write_bytes(p.read_bytes())
    ds = SketchDataset(find_pairs(root), patch=64, batch_size=2, seed=0, crop_factor=1.5)
    checked = 0
    for epoch in range(4):
        ds.set_epoch(epoch)
        x, y = ds[0]
        for i in range(2):
            if (y[i] < 0.5).sum() < 20:
                continue  # this random crop caught blank paper
            mid = (x[i].min() + x[i].max()) / 2
            assert _line_iou(x[i] < mid, y[i] < 0.5) > 0.6
            checked += 1
    assert checked >= 4


def test_median_stroke_width_of_straight_lines():
    def line(width):
        m = np.zeros((40, 60), bool)
        m[10 : 10 + width, 5:55] = True
        return m

    # 2 * DT at the ridge: w for even widths, w + 1 for odd widths (pixel centres)
    assert [median_stroke_width(line(w)) for w in (1, 2, 3, 4, 5)] == [2, 2, 4, 4, 6]
    assert math.isnan(median_stroke_width(np.zeros((5, 5), bool)))
    assert math.isnan(median_stroke_width(np.ones((5, 5), bool)))
    # pooled over several masks: the median of all ridge values
    assert median_stroke_width([line(3), line(3), line(1)]) == 4


def test_ink_stroke_width_measures_known_strokes():
    def page(width):
        g = np.full((80, 200), 0.95, np.float32)
        g[30 : 30 + width, 10:190] = 0.1
        return g

    got = [ink_stroke_width(page(w)) for w in (1, 2, 3, 4, 6)]
    np.testing.assert_allclose(got, [1, 2, 3, 4, 6], atol=0.15)
    assert math.isnan(ink_stroke_width(np.full((10, 10), 0.9, np.float32)))


def test_dataset_stroke_width_is_measured_at_patch_size(pair_folder):
    ds = SketchDataset(find_pairs(pair_folder), patch=96, batch_size=4, train=False)
    w96 = dataset_stroke_width(ds)
    ds48 = SketchDataset(find_pairs(pair_folder), patch=48, batch_size=4, train=False)
    w48 = dataset_stroke_width(ds48)
    assert 2 <= w96 <= 6  # the fixtures draw 2-3 px lines
    assert w48 < w96
    widths = dataset_stroke_widths(ds)
    assert widths["targets"] == w96
    assert 0.5 < widths["inputs"] < 4  # the rough fixture strokes are 1 px pencil lines
    assert widths["auto"] == widths["inputs"]  # auto scale reads strokes like the training's
