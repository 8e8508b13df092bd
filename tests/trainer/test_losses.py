"""The PMI/GMI loss against values computed by hand on 2x2 images."""

import numpy as np
import pytest
from keras import ops

from trainer.losses import IntersectionLoss, class_scores, intersection_loss


def img(*rows):
    """One 2x2 image as a (1, 2, 2, 1) float32 batch."""
    return np.array(rows, np.float32)[None, ..., None]


def per_image(y, p, **kw):
    return ops.convert_to_numpy(intersection_loss(y, p, **kw))


# y: one line pixel at (0, 1); p: soft prediction
Y1 = img([1, 0], [1, 1])
P1 = img([0.9, 0.2], [0.6, 1.0])
# background: |P∩G| = .9 + .6 + 1 = 2.5, |G| = 3, |P| = 2.7
# line: P = [.1 .8; .4 0], G = [0 1; 0 0]: |P∩G| = .8, |G| = 1, |P| = 1.3
PMI1 = 0.5 * 2.5 / 3 + 0.5 * 2.5 / 2.7  # 0.8796296
GMI1 = 0.5 * 0.8 / 1 + 0.5 * 0.8 / 1.3  # 0.7076923


def test_scores_by_hand():
    pmi, gmi, paper, line = class_scores(Y1, P1)
    assert ops.convert_to_numpy(pmi)[0] == pytest.approx(PMI1, abs=1e-5)
    assert ops.convert_to_numpy(gmi)[0] == pytest.approx(GMI1, abs=1e-5)
    assert bool(ops.convert_to_numpy(paper)[0]) and bool(ops.convert_to_numpy(line)[0])


def test_loss_by_hand_default_weights():
    want = 1 - (0.5 * PMI1 + 0.5 * GMI1)  # 0.2063391
    assert per_image(Y1, P1)[0] == pytest.approx(want, abs=1e-5)
    assert want == pytest.approx(0.2063391, abs=1e-6)


def test_loss_by_hand_other_gamma_alpha():
    pmi = 0.8 * 2.5 / 3 + 0.2 * 2.5 / 2.7
    gmi = 0.8 * 0.8 + 0.2 * 0.8 / 1.3
    want = 1 - (0.25 * pmi + 0.75 * gmi)  # 0.2147293
    got = per_image(Y1, P1, gamma=0.25, alpha=0.8)[0]
    assert got == pytest.approx(want, abs=1e-5)
    assert got == pytest.approx(0.2147293, abs=1e-5)


def test_low_alpha_prefers_a_thin_line_to_a_bold_one():
    """alpha < 0.5 makes over-inking dearer than missing ink: what --loss-alpha relies on."""
    target = np.ones((1, 16, 16, 1), np.float32)
    target[:, 6:10] = 0  # a line 4 px wide
    bold, thin = np.ones_like(target), np.ones_like(target)
    bold[:, 5:11] = 0  # 6 px: covers the line and a ring of paper
    thin[:, 7:9] = 0  # 2 px: misses half the line, inks no paper
    for alpha, bold_wins in ((0.5, True), (0.25, False)):
        loss_bold = per_image(target, bold, alpha=alpha)[0]
        loss_thin = per_image(target, thin, alpha=alpha)[0]
        assert (loss_bold < loss_thin) == bold_wins, (alpha, loss_bold, loss_thin)


def test_perfect_prediction_is_zero_and_inverted_is_one():
    assert per_image(Y1, Y1)[0] == pytest.approx(0.0, abs=1e-5)
    assert per_image(Y1, 1 - Y1)[0] == pytest.approx(1.0, abs=1e-5)


def test_empty_line_patch_drops_gmi():
    y = img([1, 1], [1, 1])  # blank paper: no line pixel
    p = img([1.0, 0.5], [0.8, 0.9])
    # GMI is dropped, PMI gets all the weight: PMI = .5 * 3.2/4 + .5 * 3.2/3.2 = 0.9
    for gamma in (0.5, 0.25, 1.0):
        got = per_image(y, p, gamma=gamma)[0]
        assert np.isfinite(got)
        assert got == pytest.approx(0.1, abs=1e-5)  # = alpha * (1 - mean(p))
    assert per_image(y, img([1, 1], [1, 1]))[0] == pytest.approx(0.0, abs=1e-5)
    # Nearly all ink on a blank page: alpha * (1 - mean(p)) = .5 * .9 ...
    assert per_image(y, img([0.1, 0.1], [0.1, 0.1]))[0] == pytest.approx(0.45, abs=1e-5)
    # ... and exactly zero everywhere also zeroes the |P∩G|/|P| term (0 / eps): loss 1
    assert per_image(y, img([0, 0], [0, 0]))[0] == pytest.approx(1.0, abs=1e-5)


def test_all_line_patch_drops_pmi():
    y = img([0, 0], [0, 0])
    p = img([0.0, 0.5], [0.2, 0.1])
    # line P = 1 - p = [1 .5 .8 .9], G = 1: GMI = .5 * 3.2/4 + .5 * 1 = 0.9
    assert per_image(y, p)[0] == pytest.approx(0.1, abs=1e-5)


def test_loss_class_averages_batch_and_is_finite_when_prediction_empty():
    y = np.concatenate([Y1, img([1, 1], [1, 1])])
    p = np.concatenate([P1, img([1.0, 0.5], [0.8, 0.9])])
    loss = IntersectionLoss()
    want = (1 - (0.5 * PMI1 + 0.5 * GMI1) + 0.1) / 2
    assert float(ops.convert_to_numpy(loss(y, p))) == pytest.approx(want, abs=1e-5)
    # the network predicts no line at all while there is one: finite, GMI = 0
    got = per_image(Y1, img([1, 1], [1, 1]))[0]
    assert np.isfinite(got)
    assert got == pytest.approx(1 - 0.5 * (0.5 * 3 / 3 + 0.5 * 3 / 4), abs=1e-5)


def test_gradients_finite_on_empty_patches():
    tf = pytest.importorskip("tensorflow")
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("gradient check written with tf.GradientTape")
    y = np.concatenate([img([1, 1], [1, 1]), img([0, 0], [0, 0]), Y1])
    p = tf.Variable(np.concatenate([img([1, 1], [1, 1]), img([0, 0], [0, 0]), P1]))
    with tf.GradientTape() as tape:
        value = IntersectionLoss()(y, p)
    grad = tape.gradient(value, p).numpy()
    assert np.all(np.isfinite(grad))
    assert np.abs(grad[2]).sum() > 0  # the non-empty image does get a gradient


def test_config_roundtrip_and_validation():
    loss = IntersectionLoss(gamma=0.3, alpha=0.7)
    again = IntersectionLoss.from_config(loss.get_config())
    assert (again.gamma, again.alpha) == (0.3, 0.7)
    with pytest.raises(ValueError):
        IntersectionLoss(gamma=1.5)
