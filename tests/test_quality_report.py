"""The quality report's distance-tolerant scores, on cases worked out by hand."""

import numpy as np

from trainer.quality_report import pixel_scores, tolerant_scores


def line(shape, row):
    mask = np.zeros(shape, bool)
    mask[row, 10:90] = True
    return mask


def test_a_line_off_by_one_pixel_counts_only_within_tolerance():
    truth, shifted = line((100, 100), 50), line((100, 100), 51)
    assert pixel_scores(shifted, truth)["f1"] == 0.0
    # d = 0.2 % of 100 px = 0.2 px: one pixel off is a miss; 1 % = 1 px: a hit
    assert tolerant_scores(shifted, truth, 0.002)["f1"] == 0.0
    assert tolerant_scores(shifted, truth, 0.01) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_extra_strokes_cost_precision_and_missing_ones_recall():
    truth = line((100, 100), 20) | line((100, 100), 70)
    only_one = line((100, 100), 20)
    scores = tolerant_scores(only_one, truth, 0.004)
    assert scores["precision"] == 1.0 and scores["recall"] == 0.5
    scores = tolerant_scores(truth, only_one, 0.004)
    assert scores["precision"] == 0.5 and scores["recall"] == 1.0
    assert abs(scores["f1"] - 2 / 3) < 1e-9


def test_empty_prediction_scores_zero():
    truth = line((50, 100), 10)
    assert tolerant_scores(np.zeros_like(truth), truth, 0.01)["f1"] == 0.0
    assert pixel_scores(np.zeros_like(truth), truth)["recall"] == 0.0
