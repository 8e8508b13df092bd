"""Line-class metrics on tiny arrays, values by hand."""

import numpy as np
import pytest

from trainer.metrics import GMI, PMI, LineIoU, compute_metrics

Y = np.array([[1, 0], [0, 1]], np.float32)  # two line pixels: (0,1) and (1,0)
P = np.array([[0.2, 0.3], [0.7, 0.9]], np.float32)  # predicted line: (0,0) and (0,1)
# tp = (0,1), fp = (0,0), fn = (1,0), tn = (1,1)


def test_confusion_metrics_by_hand():
    m = compute_metrics(Y, P)
    assert m["pixel_accuracy"] == pytest.approx(0.5)
    assert m["iou"] == pytest.approx(1 / 3)
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(0.5)


def test_pmi_gmi_by_hand():
    m = compute_metrics(Y, P)
    # paper: P = p, G = y: inter = .2 + .9 = 1.1, |G| = 2, |P| = 2.1
    assert m["pmi"] == pytest.approx(0.5 * 1.1 / 2 + 0.5 * 1.1 / 2.1, abs=1e-5)
    # line: P = [.8 .7 .3 .1], G = [0 1 1 0]: inter = 1.0, |G| = 2, |P| = 1.9
    assert m["gmi"] == pytest.approx(0.5 * 1.0 / 2 + 0.5 * 1.0 / 1.9, abs=1e-5)


def test_threshold_is_strict_at_half():
    y = np.array([[0.0, 1.0]], np.float32)
    m = compute_metrics(y, np.array([[0.5, 0.49]], np.float32))  # 0.5 counts as paper
    assert m["iou"] == 0.0 and m["pixel_accuracy"] == 0.0


def test_empty_conventions():
    blank = np.ones((4, 4), np.float32)
    m = compute_metrics(blank, blank)
    assert m == pytest.approx(
        {"pixel_accuracy": 1, "iou": 1, "precision": 1, "recall": 1, "f1": 1, "pmi": 1, "gmi": 1},
        abs=1e-5,
    )
    inked = blank.copy()
    inked[0, 0] = 0.0  # one false line pixel on a blank page
    m = compute_metrics(blank, inked)
    assert (m["iou"], m["precision"], m["recall"], m["f1"]) == (0.0, 0.0, 1.0, 0.0)
    assert m["pixel_accuracy"] == pytest.approx(15 / 16)
    # no predicted line where there is one
    m = compute_metrics(inked, blank)
    assert (m["iou"], m["precision"], m["recall"], m["f1"]) == (0.0, 1.0, 0.0, 0.0)


def test_metrics_accumulate_over_batches_not_mean_of_batches():
    iou = LineIoU()
    # batch 1: 1 tp, 0 fp, 0 fn; batch 2: 0 tp, 3 fp, 0 fn -> global IoU 1/4 (mean would be .5)
    iou.update_state(np.array([[[[0.0]]]]), np.array([[[[0.0]]]]))
    iou.update_state(np.ones((1, 1, 3, 1)), np.zeros((1, 1, 3, 1)))
    assert float(iou.result()) == pytest.approx(0.25)
    iou.reset_state()
    assert float(iou.result()) == pytest.approx(1.0)


def test_gmi_skips_images_without_lines():
    gmi, pmi = GMI(), PMI()
    y = np.stack([Y, np.ones_like(Y)])[..., None]
    p = np.stack([P, np.full_like(P, 0.3)])[..., None]
    gmi.update_state(y, p)
    pmi.update_state(y, p)
    assert float(gmi.result()) == pytest.approx(0.5 * 1.0 / 2 + 0.5 * 1.0 / 1.9, abs=1e-5)
    # PMI counts both images: (first + (.5 * 1.2/4 + .5 * 1)) / 2
    first = 0.5 * 1.1 / 2 + 0.5 * 1.1 / 2.1
    assert float(pmi.result()) == pytest.approx((first + 0.65) / 2, abs=1e-5)
