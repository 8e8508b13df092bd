"""How good cleaned line art is, measured the way an artist looks at it.

* Distance-tolerant precision/recall/F1 (the rough-sketch cleanup benchmark's measure): a pixel
  is ink below 0.75 gray; a predicted ink pixel is correct if a ground-truth ink pixel lies
  within d = a fraction of the long edge, and vice versa for recall.
* Exact pixel scores (the trainer's metrics).
* Filled ink: the share of ink deeper inside ink than 1.5 line widths, i.e. in blobs at
  least three lines wide, where hatching clogged or a smudge was drawn as solid black. Clean
  line art has almost none.
* Delivered line width: ink area (alpha summed) over centre-line length.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.morphology import skeletonize

INK_LEVEL = 0.75
TOLERANCES = (0.001, 0.002, 0.004, 0.01)
FILLED_DEPTH = 1.5  # line widths


def ink(gray01: np.ndarray) -> np.ndarray:
    return gray01 < INK_LEVEL


def tolerant_scores(pred_ink: np.ndarray, true_ink: np.ndarray, fraction: float) -> dict:
    """Precision/recall/F1 where a pixel within d = fraction × long edge counts as a hit."""
    d = fraction * max(pred_ink.shape)

    def near(mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.zeros_like(mask)
        distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
        return distance <= d

    precision = float(near(true_ink)[pred_ink].mean()) if pred_ink.any() else 0.0
    recall = float(near(pred_ink)[true_ink].mean()) if true_ink.any() else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def pixel_scores(pred_ink: np.ndarray, true_ink: np.ndarray) -> dict:
    tp = float(np.sum(pred_ink & true_ink))
    fp = float(np.sum(pred_ink & ~true_ink))
    fn = float(np.sum(~pred_ink & true_ink))
    tn = float(np.sum(~pred_ink & ~true_ink))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {
        "accuracy": (tp + tn) / pred_ink.size,
        "iou": tp / (tp + fp + fn) if tp + fp + fn else 1.0,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }


def line_width(mask: np.ndarray) -> float:
    """Typical width (px) of the lines in a boolean mask: 2 × median depth on their ridge.

    The median keeps a few solid blobs from counting as "wide lines"."""
    m = mask.astype(np.uint8)
    if not m.any() or m.all():
        return float("nan")
    depth = cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ridge = (m > 0) & (depth >= cv2.dilate(depth, np.ones((3, 3), np.uint8)))
    return float(2.0 * np.median(depth[ridge]))


def filled_ink_share(mask: np.ndarray, width: float | None = None) -> float:
    """Share of ink pixels deeper than FILLED_DEPTH line widths from paper (0 for thin lines)."""
    m = mask.astype(np.uint8)
    if not m.any():
        return 0.0
    width = line_width(mask) if width is None else width
    depth = cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return float(np.mean(depth[m > 0] > FILLED_DEPTH * width))


def delivered_width(alpha: np.ndarray) -> float:
    """Mean line width in px: ink (alpha summed) per px of centre line."""
    centre = skeletonize(alpha >= 0.5)
    length = float(centre.sum())
    return float(alpha.sum()) / length if length else float("nan")


def all_scores(pred_ink: np.ndarray, true_ink: np.ndarray) -> dict:
    scores = {f"f1@{t:.1%}": tolerant_scores(pred_ink, true_ink, t) for t in TOLERANCES}
    return {
        "tolerant": scores,
        "pixel": pixel_scores(pred_ink, true_ink),
        "filled": filled_ink_share(pred_ink),
        "ink": float(pred_ink.mean()),
    }
