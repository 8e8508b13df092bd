"""The PMI/GMI intersection loss of the sketch-cleanup U-Net (Keras 3 ops only).

Polarity: ``y_true`` and ``y_pred`` are 1 on paper (background) and 0 on lines.

For one class with soft prediction ``P`` and target ``G`` (sums over the pixels of one image)::

    score(P, G) = alpha * |P*G| / (|G| + eps) + (1 - alpha) * |P*G| / (|P| + eps)

    PMI = score(pred, target)            # background (paper) pixels
    GMI = score(1 - pred, 1 - target)    # foreground (line) pixels
    loss = 1 - (gamma * PMI + (1 - gamma) * GMI)

Empty classes (decided here, tested in tests/trainer/test_losses.py): a class whose target mass
``|G|`` is below ``empty_threshold`` (half a pixel by default, i.e. "no pixel of that class" for
binary targets) is *dropped* and its weight goes to the other class. So a patch of blank paper
has ``loss = 1 - PMI = alpha * (1 - mean(pred))``: zero when the network predicts paper
everywhere, and growing with every pixel it wrongly inks (in the limit of a prediction that is
exactly 0 everywhere the ``|P*G| / |P|`` term also drops to 0 / eps = 0 and the loss is 1; a
sigmoid never gets there). A patch that is all line likewise
has ``loss = 1 - GMI``. Every value is finite (the ``eps`` guards the divisions, and the
dropped term never produces a NaN that ``where`` could leak into the gradient).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["IntersectionLoss", "class_scores", "intersection_loss"]

_EPS = 1e-6
_EMPTY = 0.5


def _reduce_axes(x) -> list[int]:
    return list(range(1, len(x.shape)))


def _score(p, g, alpha: float, eps: float, axes):
    inter = ops.sum(p * g, axis=axes)
    return alpha * inter / (ops.sum(g, axis=axes) + eps) + (1.0 - alpha) * inter / (
        ops.sum(p, axis=axes) + eps
    )


def class_scores(y_true, y_pred, alpha: float = 0.5, eps: float = _EPS, empty: float = _EMPTY):
    """Per-image ``(pmi, gmi, paper_present, line_present)``, each of shape ``(batch,)``."""
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    axes = _reduce_axes(y_true)
    pmi = _score(y_pred, y_true, alpha, eps, axes)
    gmi = _score(1.0 - y_pred, 1.0 - y_true, alpha, eps, axes)
    paper_present = ops.sum(y_true, axis=axes) >= empty
    line_present = ops.sum(1.0 - y_true, axis=axes) >= empty
    return pmi, gmi, paper_present, line_present


def intersection_loss(
    y_true,
    y_pred,
    gamma: float = 0.5,
    alpha: float = 0.5,
    eps: float = _EPS,
    empty: float = _EMPTY,
):
    """Per-image loss, shape ``(batch,)``. See the module docstring for the definition."""
    pmi, gmi, paper, line = class_scores(y_true, y_pred, alpha, eps, empty)
    both = gamma * pmi + (1.0 - gamma) * gmi
    score = ops.where(
        ops.logical_and(paper, line),
        both,
        ops.where(line, gmi, pmi),
    )
    return 1.0 - score


@keras.saving.register_keras_serializable(package="sketch_cleanup")
class IntersectionLoss(keras.losses.Loss):
    """``1 - (gamma * PMI + (1 - gamma) * GMI)``, averaged over the batch."""

    def __init__(
        self,
        gamma: float = 0.5,
        alpha: float = 0.5,
        epsilon: float = _EPS,
        empty_threshold: float = _EMPTY,
        name: str = "intersection_loss",
        reduction: str = "sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not 0.0 <= gamma <= 1.0 or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"gamma and alpha must be in [0, 1], got {gamma}, {alpha}")
        self.gamma = float(gamma)
        self.alpha = float(alpha)
        self.epsilon = float(epsilon)
        self.empty_threshold = float(empty_threshold)

    def call(self, y_true, y_pred):
        return intersection_loss(
            y_true, y_pred, self.gamma, self.alpha, self.epsilon, self.empty_threshold
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            gamma=self.gamma,
            alpha=self.alpha,
            epsilon=self.epsilon,
            empty_threshold=self.empty_threshold,
        )
        return config
