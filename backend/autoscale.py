"""Auto scale: bring a sketch's strokes to the width the network was trained on.

The network sees strokes of a typical width during training (the card's
``working_scale.auto_stroke_width_px``, measured on the training inputs with
:func:`estimate_stroke_width` itself). An incoming sketch is resized so that its main
strokes measure the same; only the ratio of the two measurements matters.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import cv2
import numpy as np

AUTO_SCALE_RANGE = (0.25, 4.0)  # up to 4: clean 1 px lines need it to stay thin
ESTIMATE_MAX_SIDE = 2048  # bigger pages are measured downscaled (the ratio is what counts)
BACKGROUND_KERNEL = 15  # px: wider than strokes, narrower than the paper's light falloff
MIN_SPECK_AREA = 12  # px: ink components smaller than this are paper grain, not strokes
MIN_CONTRAST = 0.1  # a page whose flattened range is below this has no clear ink
# Faint strokes on fibrous paper: when the ink mask is barely darker than the paper's own
# grain (contrast under MIN_SNR robust standard deviations of the paper), grain made the mask.
# Half resolution averages the grain away, so the stroke width is measured there; strokes
# measure about HALF_RATIO times wider at half resolution (×2), as their edges soften.
MIN_SNR = 3.0
HALF_RATIO = 1.2
MIN_HALF_SIDE = 128  # px: smaller pages are not halved
REMEMBERED = 8  # layers whose measure StrokeWidths keeps


def flatten_paper(gray: np.ndarray) -> np.ndarray:
    """The sketch divided by its paper: mottling, uneven light and tinted paper become 1.

    The paper is estimated with a grey-level dilation wider than the strokes (which removes
    them), smoothed. Without this, Otsu's level on a faint sketch on mottled paper falls
    inside the paper's own tones and measures blotches instead of strokes.
    """
    k = BACKGROUND_KERNEL
    paper = cv2.dilate(gray, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    paper = cv2.GaussianBlur(paper, (0, 0), k / 2)
    return np.clip(gray / np.maximum(paper, 1e-3), 0.0, 1.0).astype(np.float32)


def ink_mask(gray: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(uint8 mask, 255 = ink, of the flattened sketch's strokes; its contrast over the
    paper's grain in robust standard deviations), or None for a blank page."""
    flat = flatten_paper(np.asarray(gray, np.float32))
    if float(flat.max() - flat.min()) < MIN_CONTRAST:
        return None
    g8 = np.rint(flat * 255).astype(np.uint8)
    _, ink = cv2.threshold(g8, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= MIN_SPECK_AREA
    keep[0] = False
    ink = np.where(keep[labels], 255, 0).astype(np.uint8)
    paper, lines = flat[ink == 0], flat[ink > 0]
    if not paper.size or not lines.size:
        return ink, 0.0
    level = float(np.median(paper))
    grain = 1.4826 * float(np.median(np.abs(paper - level))) + 1e-4
    return ink, (level - float(np.median(lines))) / grain


def _downscaled(gray: np.ndarray, factor: float) -> np.ndarray:
    size = (max(1, round(gray.shape[1] / factor)), max(1, round(gray.shape[0] / factor)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def estimate_stroke_width(gray: np.ndarray) -> float | None:
    """Typical stroke width in px: 2 × ink area / ink outline length of :func:`ink_mask`.

    For long thin strokes area ≈ width × length and outline ≈ 2 × length. Returns None for
    a page with no clear ink. Big scans are measured downscaled and the result scaled back;
    where paper grain made the ink mask (see MIN_SNR), the half-resolution measure is used,
    and None when grain dominates there too: auto scale then keeps the sketch's own size.
    """
    gray = np.asarray(gray, np.float32)
    factor = max(1.0, max(gray.shape) / ESTIMATE_MAX_SIDE)
    if factor > 1.0:
        gray = _downscaled(gray, factor)
    width, snr = _mask_width(gray)
    if snr < MIN_SNR:  # grain made the mask: measure at half resolution, or not at all
        if min(gray.shape) < MIN_HALF_SIDE:
            return None
        half, snr = _mask_width(_downscaled(gray, 2.0))
        width = None if half is None or snr < MIN_SNR else 2 * half / HALF_RATIO
    return None if width is None else width * factor


def _mask_width(gray: np.ndarray) -> tuple[float | None, float]:
    """(2 × area / outline of the ink mask or None, the mask's contrast over grain)."""
    found = ink_mask(gray)
    if found is None:
        return None, float("inf")
    ink, snr = found
    area = float(np.count_nonzero(ink))
    if area < 20 or area > 0.6 * ink.size:
        return None, snr
    contours, _ = cv2.findContours(ink, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    outline = sum(cv2.arcLength(c, True) for c in contours)
    if outline <= 0:
        return None, snr
    return 2.0 * area / outline, snr


def working_scale(gray: np.ndarray, requested, model_width: float | None) -> float:
    """Factor the sketch is resized by before the network; ``requested``: 'auto' or a number."""
    if requested != "auto":
        return float(requested)
    return scale_for(estimate_stroke_width(gray), model_width)


def scale_for(measured: float | None, model_width: float | None) -> float:
    """Auto scale from a sketch's measured stroke width (1 when either width is unknown)."""
    if not measured or not model_width:
        return 1.0
    low, high = AUTO_SCALE_RANGE
    return float(np.clip(model_width / measured, low, high))


class StrokeWidths:
    """estimate_stroke_width of a sketch (gray, paper = its maximum), remembered for the last
    REMEMBERED sketches by a digest of their pixels.

    A live preview sends the same layer again for every region and option it shows, and the
    measure reads all of it; the digest costs about a tenth as much. Same pixels, same
    measure: a region's auto scale stays the full run's.
    """

    def __init__(self, size: int = REMEMBERED):
        self.size = size
        self._known: OrderedDict[bytes, float | None] = OrderedDict()

    def __call__(self, gray: np.ndarray) -> float | None:
        gray = np.ascontiguousarray(gray, np.float32)
        digest = hashlib.sha256(gray.data)
        key = digest.digest() + np.array(gray.shape, np.int64).tobytes()
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        peak = float(gray.max())
        measured = estimate_stroke_width(gray / peak if 0 < peak != 1 else gray)
        self._known[key] = measured
        while len(self._known) > self.size:
            self._known.popitem(last=False)
        return measured
