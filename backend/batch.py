"""`python -m backend clean`: clean image files or whole folders (frames, scans).

Runs the same pipeline in-process, or sends each file to a running backend (`--server`),
and writes each result as a PNG, an SVG traced from it (backend.vector), or both.
Nothing is lost: outputs that would collide or land on an input are refused before any work,
unreadable or truncated files are reported, and every result is written under a temporary
name and renamed, so a killed run leaves whole files or none.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from sketch_kit import protocol as proto
from sketch_kit.client import Client
from sketch_kit.protocol import CleanOptions

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
FORMATS = ("png", "svg")
VECTOR_MODES = ("centreline", "outline")


def collect(inputs: list[str]) -> list[tuple[Path, Path]]:
    """(file, path relative to the output folder) for files and folders, sorted."""
    found = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.suffix.lower() in IMAGE_SUFFIXES and file.is_file():
                    found.append((file, file.relative_to(path).with_suffix(".png")))
        elif path.is_file():
            found.append((path, Path(path.stem + ".png")))
        else:
            raise SystemExit(f"no such file or folder: {path}")
    if not found:
        raise SystemExit("no images found in " + ", ".join(inputs))
    return found


def plan(inputs: list[str], out_dir, formats=("png",)) -> list[tuple[Path, Path]]:
    """(file, output path, as .png) for every input; refuses (SystemExit) before any work
    when two inputs would be written to one output (`x/a.png y/a.png`, `a.png a.jpg`) or an
    output in one of `formats` would replace an input (`clean DIR -o DIR`)."""
    out_dir = Path(out_dir)
    files = [(source, out_dir / relative) for source, relative in collect(inputs)]
    by_output = defaultdict(list)
    for source, target in files:  # casefold: on macOS and Windows A.png is a.png
        by_output[str(target.resolve()).casefold()].append(source)
    clashes = [sources for sources in by_output.values() if len(sources) > 1]
    if clashes:
        lines = [" and ".join(str(s) for s in sources) for sources in clashes[:10]]
        raise SystemExit(
            "error: these inputs would be cleaned into the same output file:\n  "
            + "\n  ".join(lines)
            + "\nrename them or clean them into separate folders; nothing was written"
        )
    sources = {str(source.resolve()).casefold() for source, _ in files}
    outputs = [t.with_suffix("." + f) for _, t in files for f in formats]
    overwritten = [t for t in outputs if str(t.resolve()).casefold() in sources]
    if overwritten:
        raise SystemExit(
            f"error: cleaning into {out_dir} would replace the input(s) "
            + ", ".join(str(t) for t in overwritten[:10])
            + "; choose another output folder; nothing was written"
        )
    return files


def jpeg_is_complete(data: bytes) -> bool:
    """Whether a JPEG's last scan is closed by its end marker (FFD9).

    Entropy-coded data never holds FFD9, so a file cut short has none after its last
    start-of-scan (FFDA); a thumbnail's own markers come before it.
    """
    end = data.rstrip(b"\0\r\n\t ")
    if end.endswith(b"\xff\xd9"):
        return True
    return data.rfind(b"\xff\xd9") > data.rfind(b"\xff\xda") >= 0


def read_image(path: Path) -> tuple[bytes, int, int, str]:
    """Pixels as one of the wire formats, keeping 16-bit depth."""
    data = path.read_bytes()
    if data[:3] == b"\xff\xd8\xff" and not jpeg_is_complete(data):
        raise ValueError(f"{path} is a truncated JPEG (no end marker): not cleaned")
    # imdecode, not imread: imread returns a half-decoded image for a truncated JPEG
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot read {path} as an image (unknown format or damaged)")
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


def output_format(options: CleanOptions) -> str:
    """PNG files: gray for black on white, BGRA (cv2's order) otherwise."""
    if options.style != "transparent" and options.color == "#000000":
        return "gray8"
    return "bgra8"


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file atomically: to a hidden temporary name in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_image(path: Path, pixels: bytes, width: int, height: int, fmt: str) -> None:
    """Write a PNG atomically."""
    channels = proto.bytes_per_pixel(fmt)
    image = np.frombuffer(pixels, np.uint8).reshape(height, width, channels)
    ok, encoded = cv2.imencode(".png", image if channels > 1 else image[..., 0])
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    write_atomically(path, encoded.tobytes())


def write_svg(
    path: Path, pixels: bytes, width: int, height: int, fmt: str, options: CleanOptions, vector
):
    """Trace the result layer's lines and write them as an SVG, atomically.

    vector: {"mode": "centreline" (default) or "outline", "tolerance": px, centreline only}.
    """
    from backend.vector import svg_of_result

    mode = vector.get("mode", "centreline")
    svg = svg_of_result(pixels, width, height, fmt, options, mode, vector.get("tolerance"))
    write_atomically(path, svg.encode("utf-8"))


def run(
    files,
    out_dir,
    options: CleanOptions,
    cleaner=None,
    endpoint=None,
    server_key=None,
    formats=("png",),
    vector=None,
) -> int:
    """Clean every (file, output path) of plan() into each of `formats` ("png", "svg");
    returns how many failed (each failure is reported, others go on). vector: how SVGs are
    traced (write_svg)."""
    vector = vector or {}
    out_dir = Path(out_dir)
    client = Client(endpoint, server_key=server_key) if endpoint else None
    failures = 0
    bar = tqdm(files, unit="img", desc="cleaning")
    try:
        for source, target in bar:
            bar.set_postfix_str(source.name)
            try:
                pixels, width, height, fmt = read_image(source)
                wanted = options.replace(output_format=output_format(options))
                if client is not None:
                    _, result = client.clean(pixels, width, height, fmt, wanted)
                else:
                    result, _ = cleaner.clean(pixels, width, height, fmt, wanted)
                out_fmt = output_format(options)
                if "png" in formats:
                    write_image(target, result, width, height, out_fmt)
                if "svg" in formats:
                    write_svg(
                        target.with_suffix(".svg"), result, width, height, out_fmt, wanted, vector
                    )
            except proto.BackendUnavailable:
                raise
            except (ValueError, OSError, proto.BackendError, proto.ProtocolError) as exc:
                failures += 1
                tqdm.write(f"failed: {source}: {exc}", file=sys.stderr)
    finally:
        if client is not None:
            client.close()
    print(f"{len(files) - failures} of {len(files)} image(s) cleaned into {out_dir}")
    return failures
