"""`python -m backend clean`: clean image files or whole folders (frames, scans).

Runs the same pipeline in-process, or sends each file to a running backend (`--server`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

import sketch_client as proto

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


def collect(inputs: list[str]) -> list[tuple[Path, Path]]:
    """(file, path relative to the output folder) for files and folders, sorted."""
    found = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.suffix.lower() in IMAGE_SUFFIXES:
                    found.append((file, file.relative_to(path).with_suffix(".png")))
        elif path.is_file():
            found.append((path, Path(path.stem + ".png")))
        else:
            raise SystemExit(f"no such file or folder: {path}")
    if not found:
        raise SystemExit("no images found in " + ", ".join(inputs))
    return found


def read_image(path: Path) -> tuple[bytes, int, int, str]:
    """Pixels as one of the wire formats, keeping 16-bit depth."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot read {path} as an image")
    if image.dtype not in (np.uint8, np.uint16):
        image = np.clip(image, 0, 1) * 65535 if image.dtype.kind == "f" else image
        image = image.astype(np.uint16)
    deep = image.dtype == np.uint16
    if image.ndim == 2:
        if not deep:
            return image.tobytes(), image.shape[1], image.shape[0], "gray8"
        image = np.dstack([image, np.full_like(image, 65535)])
        return image.tobytes(), image.shape[1], image.shape[0], "graya16"
    if image.shape[2] == 3:
        opaque = np.full(image.shape[:2], 65535 if deep else 255, image.dtype)
        image = np.dstack([image, opaque])
    fmt = "bgra16" if deep else "bgra8"
    return np.ascontiguousarray(image).tobytes(), image.shape[1], image.shape[0], fmt


def output_format(options: dict) -> str:
    """PNG files: gray for black on white, BGRA (cv2's order) otherwise."""
    if options["style"] != "transparent" and options["color"] == "#000000":
        return "gray8"
    return "bgra8"


def write_image(path: Path, pixels: bytes, width: int, height: int, fmt: str) -> None:
    channels = proto.bytes_per_pixel(fmt)
    image = np.frombuffer(pixels, np.uint8).reshape(height, width, channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image if channels > 1 else image[..., 0]):
        raise OSError(f"could not write {path}")


def run(inputs, out_dir, options, cleaner=None, endpoint=None, server_key=None) -> int:
    """Clean every input; returns how many failed (each failure is reported, others go on)."""
    files = collect(inputs)
    out_dir = Path(out_dir)
    client = proto.Client(endpoint, server_key=server_key) if endpoint else None
    failures = 0
    bar = tqdm(files, unit="img", desc="cleaning")
    try:
        for source, relative in bar:
            bar.set_postfix_str(source.name)
            try:
                pixels, width, height, fmt = read_image(source)
                wanted = {
                    **options,
                    "output_format": output_format({**proto.DEFAULT_OPTIONS, **options}),
                }
                if client is not None:
                    _, result = client.clean(pixels, width, height, fmt, wanted)
                else:
                    header = {"width": width, "height": height, "format": fmt, "options": wanted}
                    full = proto.check_clean(
                        header, len(pixels), {"max_side": 1 << 30, "max_pixels": 1 << 40}
                    )
                    result, _ = cleaner.clean(pixels, width, height, fmt, full)
                write_image(out_dir / relative, result, width, height, wanted["output_format"])
            except proto.BackendUnavailable:
                raise
            except (ValueError, OSError, proto.BackendError, proto.ProtocolError) as exc:
                failures += 1
                tqdm.write(f"failed: {source}: {exc}")
    finally:
        if client is not None:
            client.close()
    print(f"{len(files) - failures} of {len(files)} image(s) cleaned into {out_dir}")
    return failures
