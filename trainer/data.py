"""Training data: paired folders on disk and a streaming synthetic source.

A data folder holds ``input/`` (rough sketches) and ``target/`` (clean line art), matched by
file stem; any of png/jpg/jpeg/tif/tiff/bmp/webp. Preprocessing of one pair (the original
design, see docs/training.md):

1. read as grayscale float32 and normalise by the maximum (``x / max(x)``), paper = 1;
2. geometry: an image much larger than the patch (shorter side >= ``crop_factor * patch``) is
   first cropped at random (a square of ``patch * s`` pixels, ``s`` uniform in
   ``scale_range``), then resized to ``patch x patch`` with ``cv2.INTER_AREA``; smaller
   images are resized whole (as in the original design);
3. the target is binarised at its mean at the training resolution: pixels darker than the
   mean are line (0), all others paper (1) (a blank crop stays blank; ``target_threshold``
   picks Otsu or a fixed level instead, for noisy scanned targets);
4. training only: :func:`trainer.augment.augment_pair`;
5. the input is normalised by its maximum once more (the backend does the same at inference).

Batches are ``(x, y)`` float32 arrays of shape ``(batch, patch, patch, 1)``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import keras
import numpy as np

from trainer.augment import AugmentConfig, augment_pair

__all__ = [
    "IMAGE_EXTENSIONS",
    "Pair",
    "UnmatchedPairsError",
    "find_pairs",
    "read_gray",
    "normalize_by_max",
    "binarize_at_mean",
    "binarize_target",
    "sample_patch",
    "ridge_distances",
    "median_stroke_width",
    "SketchDataset",
    "synthetic_source",
    "split_pairs",
    "dataset_stroke_width",
    "dataset_stroke_widths",
    "ink_stroke_width",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
MakePair = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


class UnmatchedPairsError(ValueError):
    """``input/`` and ``target/`` of a data folder do not hold the same file stems."""


@dataclasses.dataclass(frozen=True)
class Pair:
    stem: str
    input: Path
    target: Path


def _images_by_stem(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    duplicates = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
            if p.stem in found:
                duplicates.append(f"{found[p.stem].name} / {p.name}")
            found[p.stem] = p
    if duplicates:
        raise UnmatchedPairsError(f"{folder}: several images share a stem: {', '.join(duplicates)}")
    return found


def find_pairs(data_dir: str | os.PathLike) -> list[Pair]:
    """All (input, target) pairs of ``data_dir``, sorted by stem.

    Raises :class:`UnmatchedPairsError` naming every file that has no partner, and
    ``FileNotFoundError`` when a subfolder is missing or holds no image.
    """
    root = Path(data_dir)
    folders = {name: root / name for name in ("input", "target")}
    for name, folder in folders.items():
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{root}: no {name}/ folder (expected {root}/input and /target)"
            )
    inputs = _images_by_stem(folders["input"])
    targets = _images_by_stem(folders["target"])
    only_in = sorted(set(inputs) - set(targets))
    only_tg = sorted(set(targets) - set(inputs))
    if only_in or only_tg:
        lines = [f"{root}: input/ and target/ do not match by file name (stem):"]
        if only_in:
            lines.append(
                f"  in input/ only ({len(only_in)}): " + ", ".join(inputs[s].name for s in only_in)
            )
        if only_tg:
            lines.append(
                f"  in target/ only ({len(only_tg)}): "
                + ", ".join(targets[s].name for s in only_tg)
            )
        raise UnmatchedPairsError("\n".join(lines))
    if not inputs:
        raise FileNotFoundError(f"{root}: no images ({', '.join(IMAGE_EXTENSIONS)}) in input/")
    return [Pair(s, inputs[s], targets[s]) for s in sorted(inputs)]


def read_gray(path: str | os.PathLike) -> np.ndarray:
    """An image file as float32 HxW grayscale in [0, 1] (alpha composited over white paper)."""
    buf = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"cannot decode image {path}")
    if img.dtype == np.uint8:
        scale = 255.0
    elif img.dtype == np.uint16:
        scale = 65535.0
    else:
        scale = 1.0
    img = img.astype(np.float32) / scale
    if img.ndim == 3:
        channels = img.shape[2]
        alpha = img[..., 3:4] if channels in (2, 4) else None
        color = img[..., :3] if channels >= 3 else img[..., :1]
        gray = cv2.cvtColor(color, cv2.COLOR_BGR2GRAY) if color.shape[2] == 3 else color[..., 0]
        if alpha is not None:
            gray = gray * alpha[..., 0] + (1.0 - alpha[..., 0])
        img = gray
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def normalize_by_max(x: np.ndarray) -> np.ndarray:
    """``x / max(x)`` (an all-black image is returned unchanged)."""
    m = float(np.max(x)) if x.size else 0.0
    return (x / m).astype(np.float32) if m > 0 else x.astype(np.float32)


def binarize_at_mean(y: np.ndarray, min_contrast: float = 0.05) -> np.ndarray:
    """1.0 where ``y >= mean(y)`` (paper), 0.0 where darker than the mean (line).

    An image whose range ``max - min`` is below ``min_contrast`` is blank paper (all 1.0):
    without this guard float rounding (e.g. 0.99999994 next to 1.0 after a resize) of a blank
    crop would be "darker than the mean" and turn into invented lines.
    """
    y = np.asarray(y, np.float32)
    if y.size == 0 or float(y.max()) - float(y.min()) < min_contrast:
        return np.ones_like(y, dtype=np.float32)
    return (y >= np.mean(y)).astype(np.float32)


def binarize_target(y: np.ndarray, method: str | float = "mean") -> np.ndarray:
    """Binarise a clean target: ``"mean"`` (the original rule), ``"otsu"``, or a fixed level.

    ``"otsu"`` (or a level such as 0.5) suits scanned targets with paper texture or JPEG
    noise, which the mean rule (every pixel darker than the mean is line) turns into specks.
    """
    if method == "mean":
        return binarize_at_mean(y)
    y = np.asarray(y, np.float32)
    if float(y.max()) - float(y.min()) < 0.05:
        return np.ones_like(y, dtype=np.float32)
    if method == "otsu":
        u8 = (np.clip(y, 0, 1) * 255 + 0.5).astype(np.uint8)
        level, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        return (u8 > level).astype(np.float32)
    level = float(method)
    if not 0.0 < level < 1.0:
        raise ValueError(f"target threshold must be 'mean', 'otsu' or in (0, 1), got {method}")
    return (y >= level).astype(np.float32)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    if img.shape == (size, size):
        return img
    interp = cv2.INTER_AREA if min(img.shape) >= size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def sample_patch(
    x: np.ndarray,
    y: np.ndarray,
    patch: int,
    rng: np.random.Generator | None,
    crop_factor: float = 1.5,
    scale_range: tuple[float, float] = (1.0, 1.5),
) -> tuple[np.ndarray, np.ndarray]:
    """Crop (large scans) and resize one full-resolution pair to ``patch x patch``.

    ``rng=None`` is the deterministic evaluation mode: a centred crop of ``patch * sqrt(lo*hi)``
    pixels. ``y`` is returned resized but not yet binarised.
    """
    if x.shape != y.shape:
        # Targets drawn at another resolution: bring them onto the input's grid.
        y = cv2.resize(y, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_AREA)
    h, w = x.shape
    if min(h, w) >= crop_factor * patch:
        if rng is None:
            s = math.sqrt(scale_range[0] * scale_range[1])
        else:
            s = rng.uniform(*scale_range)
        side = int(min(round(patch * s), h, w))
        if rng is None:
            top, left = (h - side) // 2, (w - side) // 2
        else:
            top = int(rng.integers(0, h - side + 1))
            left = int(rng.integers(0, w - side + 1))
        x = x[top : top + side, left : left + side]
        y = y[top : top + side, left : left + side]
    return _resize(x, patch), _resize(y, patch)


def ridge_distances(line_mask: np.ndarray) -> np.ndarray:
    """Distance-transform values on the ridge (medial pixels) of the line pixels.

    ``line_mask`` is True (or nonzero) on line pixels. The distance transform (L2, precise) is
    the distance of each line pixel's centre to the nearest paper pixel's centre; the ridge is
    the line pixels where it is a local maximum (>= all 8 neighbours). Empty when the mask has
    no line pixel or no paper pixel.
    """
    m = (np.asarray(line_mask) > 0).astype(np.uint8)
    if not m.any() or m.all():
        return np.zeros((0,), np.float32)
    dt = cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ridge = (m > 0) & (dt >= cv2.dilate(dt, np.ones((3, 3), np.uint8)))
    return dt[ridge].astype(np.float32)


def median_stroke_width(line_mask: np.ndarray | Iterable[np.ndarray]) -> float:
    """``2 * median(distance transform on the line ridge)``, in pixels (NaN if no line).

    Accepts one mask or an iterable of masks (their ridge values are pooled). For a straight
    stroke ``w`` pixels wide this gives ``w`` for even ``w`` and ``w + 1`` for odd ``w`` (pixel
    centres are compared, so a 1-pixel line measures 2). The backend must measure sketches with
    exactly this definition: only the ratio of the two measurements is used.
    """
    if isinstance(line_mask, np.ndarray):
        values = ridge_distances(line_mask)
    else:
        parts = [ridge_distances(m) for m in line_mask]
        values = np.concatenate(parts) if parts else np.zeros((0,), np.float32)
    if values.size == 0:
        return float("nan")
    return float(2.0 * np.median(values))


def ink_stroke_width(gray: np.ndarray) -> float:
    """The backend's stroke-width estimate of a sketch (2 × ink area / outline; NaN if no ink).

    The very function the backend's auto scale applies to an incoming sketch, so what the
    model card records about the training inputs is measured the same way.
    """
    from backend.autoscale import estimate_stroke_width

    width = estimate_stroke_width(np.asarray(gray, np.float32))
    return float("nan") if width is None else float(width)


def split_pairs(
    pairs: Sequence[Pair], val_split: float, seed: int
) -> tuple[list[Pair], list[Pair]]:
    """Seeded random (train, val) split; at least one of each when there are two or more."""
    pairs = list(pairs)
    if val_split <= 0 or len(pairs) < 2:
        return pairs, []
    order = np.random.default_rng([seed, 7]).permutation(len(pairs))
    n_val = min(max(1, int(round(val_split * len(pairs)))), len(pairs) - 1)
    val = [pairs[i] for i in sorted(order[:n_val])]
    train = [pairs[i] for i in sorted(order[n_val:])]
    return train, val


def synthetic_source() -> MakePair:
    """``trainer.synth.make_pair``, with a clear error while that module is missing."""
    try:
        from trainer.synth import make_pair
    except ImportError as e:  # pragma: no cover - depends on the synth module being installed
        raise RuntimeError(
            "synthetic pairs need trainer.synth.make_pair(rng, size), which is not available "
            f"({e}); train from --data folders instead"
        ) from e
    return make_pair


class SketchDataset(keras.utils.PyDataset):
    """Batches of preprocessed (rough, clean) patches from files and/or a synthetic source.

    Samples ``0 .. len(pairs) - 1`` come from ``pairs`` (files), the next ``synthetic`` from
    ``make_pair(rng, patch)``. Everything random is drawn from generators seeded by
    ``(seed, epoch, sample)``, so a batch is reproducible from its epoch and index, in any
    worker thread or process. ``train=True`` shuffles the sample order every epoch, augments,
    and drops the last partial batch; ``train=False`` is deterministic (centre crops, no
    augmentation, same synthetic pairs every epoch).

    Call :meth:`set_epoch` when resuming; Keras calls :meth:`on_epoch_end` after each epoch.
    """

    def __init__(
        self,
        pairs: Sequence[Pair] = (),
        *,
        patch: int = 424,
        batch_size: int = 4,
        train: bool = True,
        seed: int = 0,
        synthetic: int = 0,
        make_pair: MakePair | None = None,
        augment: AugmentConfig | None = None,
        crop_factor: float = 1.5,
        scale_range: tuple[float, float] = (1.0, 1.5),
        cache: bool = False,
        target_threshold: str | float = "mean",
        shard: tuple[int, int] = (0, 1),
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
    ):
        super().__init__(
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size
        )
        self.pairs = list(pairs)
        self.synthetic = int(synthetic)
        if not self.pairs and self.synthetic <= 0:
            raise ValueError("a dataset needs file pairs or synthetic > 0")
        if self.synthetic > 0 and make_pair is None:
            make_pair = synthetic_source()
        self.make_pair = make_pair
        if patch <= 0 or batch_size <= 0:
            raise ValueError("patch and batch_size must be positive")
        self.patch = int(patch)
        self.batch_size = int(batch_size)
        self.train = bool(train)
        self.seed = int(seed)
        self.augment = (augment or AugmentConfig()) if train else None
        self.crop_factor = crop_factor
        self.scale_range = scale_range
        self.cache = cache
        self.target_threshold = target_threshold
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.shard_index, self.num_shards = shard
        self.epoch = 0

    # -- bookkeeping -------------------------------------------------------------------------

    @property
    def num_samples(self) -> int:
        return len(self.pairs) + self.synthetic

    def _order(self) -> np.ndarray:
        n = self.num_samples
        if self.train:
            order = np.random.default_rng([self.seed, self.epoch, 1]).permutation(n)
        else:
            order = np.arange(n)
        return order[self.shard_index :: self.num_shards]

    def __len__(self) -> int:
        n = len(range(self.shard_index, self.num_samples, self.num_shards))
        if self.train and n >= self.batch_size:
            return n // self.batch_size
        return max(1, math.ceil(n / self.batch_size))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def on_epoch_end(self) -> None:
        self.epoch += 1

    # -- samples -----------------------------------------------------------------------------

    def _sample_rng(self, k: int) -> np.random.Generator:
        epoch = self.epoch if self.train else 0
        return np.random.default_rng([self.seed, epoch, 2, k])

    def _full_res(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.cache and k in self._cache:
            return self._cache[k]
        pair = self.pairs[k]
        xy = (normalize_by_max(read_gray(pair.input)), normalize_by_max(read_gray(pair.target)))
        if self.cache:
            self._cache[k] = xy
        return xy

    def sample(self, k: int, augment: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``k`` as float32 ``(patch, patch)`` arrays (input, binary target)."""
        rng = self._sample_rng(k)
        if k < len(self.pairs):
            x, y = self._full_res(k)
            x, y = sample_patch(
                x, y, self.patch, rng if self.train else None, self.crop_factor, self.scale_range
            )
        else:
            srng = np.random.default_rng(
                [self.seed, self.epoch if self.train else 0, 3, k - len(self.pairs)]
            )
            if self.make_pair is None:  # unreachable: __init__ sets it whenever synthetic > 0
                raise RuntimeError("synthetic sample requested from a dataset without make_pair")
            rough, clean = self.make_pair(srng, self.patch)
            x = normalize_by_max(np.asarray(rough, np.float32))
            y = normalize_by_max(np.asarray(clean, np.float32))
            if x.shape != (self.patch, self.patch):
                x, y = sample_patch(x, y, self.patch, None, self.crop_factor, self.scale_range)
        y = binarize_target(y, self.target_threshold)
        do_aug = self.augment is not None if augment is None else augment
        if do_aug:
            x, y = augment_pair(x, y, rng, self.augment or AugmentConfig())
        return normalize_by_max(x), y

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index < 0 or index >= len(self):
            raise IndexError(index)
        ids = self._order()[index * self.batch_size : (index + 1) * self.batch_size]
        xs, ys = zip(*(self.sample(int(k)) for k in ids), strict=True)
        return np.stack(xs)[..., None], np.stack(ys)[..., None]

    def describe(self) -> str:
        parts = []
        if self.pairs:
            parts.append(f"{len(self.pairs)} file pairs")
        if self.synthetic:
            parts.append(f"{self.synthetic} synthetic pairs")
        return " + ".join(parts)


def dataset_stroke_width(ds: SketchDataset, max_samples: int = 256, seed: int = 0) -> float:
    """Median stroke width of the (un-augmented) targets of ``ds`` at its patch size."""
    return dataset_stroke_widths(ds, max_samples, seed)["targets"]


def dataset_stroke_widths(
    ds: SketchDataset, max_samples: int = 256, seed: int = 0
) -> dict[str, float]:
    """Stroke widths of the (un-augmented) samples of ``ds`` at its patch size.

    ``targets``: :func:`median_stroke_width` of the clean targets (pooled ridge values);
    ``inputs``: median over samples of :func:`ink_stroke_width` of the rough inputs, i.e.
    what the backend's estimator measures on a sketch like the training inputs;
    ``auto``: the width the backend's auto scale brings a sketch's strokes to. It is the
    inputs' width: the network then reads strokes as wide as those it learned from, and
    draws its thin centre lines; the line weight the artist sees is set after it
    (``line_width``), not by the scale.
    """
    n = ds.num_samples
    ids = np.random.default_rng(seed).permutation(n)[: min(n, max_samples)]
    masks, inputs = [], []
    for k in ids:
        x, y = ds.sample(int(k), augment=False)
        masks.append(y < 0.5)
        inputs.append(ink_stroke_width(x))

    def median(values: list[float]) -> float:
        finite = [v for v in values if not math.isnan(v)]
        return float(np.median(finite)) if finite else float("nan")

    return {
        "targets": median_stroke_width(masks),
        "inputs": median(inputs),
        "auto": median(inputs),
    }
