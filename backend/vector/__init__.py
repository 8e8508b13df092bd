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

__all__ = ["Shape", "Stroke", "line_mask", "to_svg", "trace_centrelines", "trace_outlines"]
