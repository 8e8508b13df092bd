"""Metrics of the line class (Keras 3 metrics, backend-agnostic).

A pixel is *line* when its value is below ``threshold`` (0.5), in the target as in the
prediction (1 = paper, 0 = line). The confusion metrics accumulate true/false positive/negative
counts over all pixels seen since the last reset (so an epoch's IoU is the IoU of all its
pixels, not a mean of per-batch IoUs). When a ratio's denominator is 0 (e.g. precision when no
line pixel was predicted) it is 1.0 if there was nothing to get wrong, else 0.0: an empty
prediction on a blank page scores IoU = precision = recall = F1 = 1, an empty prediction on a
page with lines scores recall = F1 = IoU = 0 and precision = 1.

PMI and GMI are the soft per-image scores of :mod:`trainer.losses`, averaged over the images
in which that class is present (images without any line pixel do not count towards GMI; 1.0
when no image had the class).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from trainer.losses import class_scores

__all__ = [
    "ConfusionMetric",
    "PixelAccuracy",
    "LineIoU",
    "LinePrecision",
    "LineRecall",
    "LineF1",
    "PMI",
    "GMI",
    "all_metrics",
    "compute_metrics",
]

_register = keras.saving.register_keras_serializable(package="sketch_cleanup")


class ConfusionMetric(keras.metrics.Metric):
    """Accumulates line-class confusion counts; subclasses define ``_value``."""

    def __init__(self, threshold: float = 0.5, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.threshold = float(threshold)
        self.tp = self.add_variable((), "zeros", name="tp")
        self.fp = self.add_variable((), "zeros", name="fp")
        self.fn = self.add_variable((), "zeros", name="fn")
        self.tn = self.add_variable((), "zeros", name="tn")

    def update_state(self, y_true, y_pred, sample_weight=None):
        true_line = ops.cast(ops.cast(y_true, "float32") < self.threshold, "float32")
        pred_line = ops.cast(ops.cast(y_pred, "float32") < self.threshold, "float32")
        if sample_weight is not None:
            w = ops.cast(sample_weight, "float32")
            w = ops.reshape(w, (-1,) + (1,) * (len(true_line.shape) - 1))
            w = ops.broadcast_to(w, true_line.shape)
        else:
            w = ops.ones_like(true_line)
        self.tp.assign_add(ops.sum(w * true_line * pred_line))
        self.fp.assign_add(ops.sum(w * (1.0 - true_line) * pred_line))
        self.fn.assign_add(ops.sum(w * true_line * (1.0 - pred_line)))
        self.tn.assign_add(ops.sum(w * (1.0 - true_line) * (1.0 - pred_line)))

    @staticmethod
    def _ratio(num, den, empty_ok):
        # den == 0: 1.0 when nothing could be wrong (empty_ok), else 0.0
        safe = ops.where(den > 0, den, ops.ones_like(den))
        return ops.where(den > 0, num / safe, ops.where(empty_ok, 1.0, 0.0))

    def result(self):
        # Tensors, not variables: JAX refuses variables inside jnp.where.
        counts = [ops.convert_to_tensor(v) for v in (self.tp, self.fp, self.fn, self.tn)]
        return self._value(*counts)

    def _value(self, tp, fp, fn, tn):  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_state(self):
        for v in (self.tp, self.fp, self.fn, self.tn):
            v.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@_register
class PixelAccuracy(ConfusionMetric):
    def __init__(self, threshold=0.5, name="pixel_accuracy", dtype=None):
        super().__init__(threshold, name=name, dtype=dtype)

    def _value(self, tp, fp, fn, tn):
        return self._ratio(tp + tn, tp + fp + fn + tn, ops.convert_to_tensor(True))


@_register
class LineIoU(ConfusionMetric):
    def __init__(self, threshold=0.5, name="iou", dtype=None):
        super().__init__(threshold, name=name, dtype=dtype)

    def _value(self, tp, fp, fn, tn):
        den = tp + fp + fn
        return self._ratio(tp, den, den <= 0)


@_register
class LinePrecision(ConfusionMetric):
    def __init__(self, threshold=0.5, name="precision", dtype=None):
        super().__init__(threshold, name=name, dtype=dtype)

    def _value(self, tp, fp, fn, tn):
        return self._ratio(tp, tp + fp, ops.convert_to_tensor(True))


@_register
class LineRecall(ConfusionMetric):
    def __init__(self, threshold=0.5, name="recall", dtype=None):
        super().__init__(threshold, name=name, dtype=dtype)

    def _value(self, tp, fp, fn, tn):
        return self._ratio(tp, tp + fn, ops.convert_to_tensor(True))


@_register
class LineF1(ConfusionMetric):
    def __init__(self, threshold=0.5, name="f1", dtype=None):
        super().__init__(threshold, name=name, dtype=dtype)

    def _value(self, tp, fp, fn, tn):
        den = 2.0 * tp + fp + fn
        return self._ratio(2.0 * tp, den, den <= 0)


class _ClassScore(keras.metrics.Metric):
    """Mean of a per-image class score over the images in which the class is present."""

    _index = 0  # 0: PMI (paper), 1: GMI (line)

    def __init__(self, alpha: float = 0.5, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.alpha = float(alpha)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        pmi, gmi, paper, line = class_scores(y_true, y_pred, self.alpha)
        score, present = (pmi, paper) if self._index == 0 else (gmi, line)
        w = ops.cast(present, "float32")
        if sample_weight is not None:
            w = w * ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        self.total.assign_add(ops.sum(w * score))
        self.count.assign_add(ops.sum(w))

    def result(self):
        total, count = ops.convert_to_tensor(self.total), ops.convert_to_tensor(self.count)
        safe = ops.where(count > 0, count, 1.0)
        # No image had this class: nothing to find, so nothing missed (false ink on blank
        # pages shows in PMI and the confusion metrics).
        return ops.where(count > 0, total / safe, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@_register
class PMI(_ClassScore):
    _index = 0

    def __init__(self, alpha=0.5, name="pmi", dtype=None):
        super().__init__(alpha, name=name, dtype=dtype)


@_register
class GMI(_ClassScore):
    _index = 1

    def __init__(self, alpha=0.5, name="gmi", dtype=None):
        super().__init__(alpha, name=name, dtype=dtype)


def all_metrics(threshold: float = 0.5, alpha: float = 0.5) -> list[keras.metrics.Metric]:
    """Fresh instances of every metric, for ``model.compile(metrics=...)``."""
    return [
        PixelAccuracy(threshold),
        LineIoU(threshold),
        LinePrecision(threshold),
        LineRecall(threshold),
        LineF1(threshold),
        PMI(alpha),
        GMI(alpha),
    ]


def compute_metrics(y_true, y_pred, threshold: float = 0.5, alpha: float = 0.5) -> dict:
    """All metrics of one array pair (NHWC or HW/HWC for one image) as a dict of floats."""
    y_true = np.asarray(y_true, dtype="float32")
    y_pred = np.asarray(y_pred, dtype="float32")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shape mismatch: {y_true.shape} vs {y_pred.shape}")
    if y_true.ndim == 2:
        y_true, y_pred = y_true[None, ..., None], y_pred[None, ..., None]
    elif y_true.ndim == 3:
        y_true, y_pred = y_true[None], y_pred[None]
    out = {}
    for m in all_metrics(threshold, alpha):
        m.update_state(y_true, y_pred)
        out[m.name] = float(ops.convert_to_numpy(m.result()))
    return out
