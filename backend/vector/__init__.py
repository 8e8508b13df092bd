"""Vector line art: a cleaned result's lines as SVG strokes (centre lines, solid blobs filled)
or fills (outlines).

    items = trace_centrelines(mask)              # or trace_outlines(mask)
    svg = to_svg(items, width, height, "#000000")

See docs/vector.md for the method and its parameters.
"""

from backend.vector.layer import line_mask
from backend.vector.outline import Shape, trace_outlines
from backend.vector.svg import to_svg
from backend.vector.trace import Stroke, trace_centrelines
from sketch_kit.protocol import CleanOptions

__all__ = [
    "Shape",
    "Stroke",
    "line_mask",
    "svg_of_result",
    "to_svg",
    "trace_centrelines",
    "trace_outlines",
]


def svg_of_result(
    pixels: bytes,
    width: int,
    height: int,
    fmt: str,
    options: CleanOptions,
    mode: str = "centreline",
    tolerance: float | None = None,
) -> str:
    """The SVG of a finished result layer: its lines traced as `mode` (VECTOR_MODES)."""
    mask = line_mask(pixels, width, height, fmt, options)
    if mode == "outline":
        items: list = trace_outlines(mask)
    elif tolerance is None:
        items = trace_centrelines(mask)
    else:
        items = trace_centrelines(mask, tolerance=tolerance)
    return to_svg(items, width, height, options.color)
