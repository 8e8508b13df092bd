"""Everything the plug-in asks of GIMP about the image: the layer, its pixels, the result.

With the entry script's dialog and progress bar, the only code that calls GIMP; the rest
(finding and starting the backend, the job, options) is the shared kit's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sketch_kit import svg

try:
    from gi.repository import Babl, Gegl, Gimp
except ImportError:  # outside GIMP (the tests): only the pure helpers below are usable
    Babl = Gegl = Gimp = None

LAYER_NAME = "Clean Sketch"
PREVIEW_SIDE = 512  # the live preview's largest region: quick on a CPU backend


class PluginError(Exception):
    """Something the artist must be told; nothing in the image was changed."""


def formats_for_precision(precision_nick: str) -> tuple[str, str]:
    """(babl format, protocol format) that keeps an image precision's depth.

    GIMP converts any drawable (gray, indexed, any precision) to the babl format asked
    for, so 8-bit images travel as R'G'B'A u8 (rgba8), 16-bit ones as R'G'B'A u16
    (rgba16), and 32-bit integer, half, float and double ones as linear RGBA float
    (rgbaf32). Both sides keep the same meaning: 8/16-bit sRGB-encoded, float linear.
    """
    if precision_nick.startswith("u8"):
        return "R'G'B'A u8", "rgba8"
    if precision_nick.startswith("u16"):
        return "R'G'B'A u16", "rgba16"
    return "RGBA float", "rgbaf32"


def color_hex(color) -> str:
    """#rrggbb (sRGB) of a Gegl.Color, whatever space the colour was picked in."""
    if color is None:
        return "#000000"
    data = color.get_bytes(Babl.format("R'G'B'A u8")).get_data()
    return "#{:02x}{:02x}{:02x}".format(*data[:3])


@dataclass
class Source:
    """The part of the layer being cleaned and how its pixels travel."""

    image: Any  # Gimp.Image
    layer: Any  # Gimp.Layer
    rect: tuple[int, int, int, int]  # x, y, w, h within the layer
    babl_format: str
    fmt: str
    has_selection: bool

    @property
    def name(self) -> str:
        return self.layer.get_name()

    def read(self) -> bytes:
        return self.read_part(0, 0, self.rect[2], self.rect[3], self.babl_format)

    def read_part(self, x: int, y: int, w: int, h: int, babl_format: str) -> bytes:
        """Pixels of a rectangle of `rect` (x, y relative to it) in a babl format; reading
        never changes the layer."""
        buffer = self.layer.get_buffer()
        rect = Gegl.Rectangle.new(self.rect[0] + x, self.rect[1] + y, w, h)
        return buffer.get(rect, 1.0, babl_format, Gegl.AbyssPolicy.NONE)


def preview_region(width: int, height: int, side: int = PREVIEW_SIDE) -> tuple[int, int, int, int]:
    """The part of a width×height source the live preview shows: all of it up to `side`
    pixels a side, else its centred side×side middle. The source is the selection's bounds
    when there is a selection, so a small selection is previewed whole."""
    w, h = min(width, side), min(height, side)
    return (width - w) // 2, (height - h) // 2, w, h


@dataclass
class PreviewSource:
    """What the live preview sends (the very pixels Clean Sketch would send, so automatic
    detail measures the same sketch) and the region of them it shows."""

    source: Source
    data: bytes
    region: tuple[int, int, int, int]  # x, y, w, h within data
    before: bytes  # the region's own pixels as R'G'B'A u8, for the before / after toggle

    @property
    def width(self) -> int:
        return self.source.rect[2]

    @property
    def height(self) -> int:
        return self.source.rect[3]


def preview_source(image, drawables) -> PreviewSource:
    """The layer as Clean Sketch would read it, or the PluginError it would raise."""
    src = source_layer(image, drawables)
    region = preview_region(src.rect[2], src.rect[3])
    return PreviewSource(src, src.read(), region, src.read_part(*region, "R'G'B'A u8"))


def source_layer(image, drawables) -> Source:
    """The one pixel layer to clean (its selected part), or a PluginError saying why not."""
    if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
        # its palette would turn the lines (and white) into the nearest palette entries
        raise PluginError(
            "Indexed images cannot hold the clean lines' colours: convert the image to RGB "
            "or Grayscale first (Image ▸ Mode)."
        )
    if len(drawables) != 1:
        raise PluginError(f"Select exactly one layer to clean ({len(drawables)} are selected).")
    layer = drawables[0]
    if layer.is_layer_mask():
        raise PluginError(
            "A layer mask is active: click the layer's thumbnail to clean the layer itself."
        )
    if not layer.is_layer():
        raise PluginError(
            "A channel is active: select the layer with the sketch in the Layers dialog."
        )
    if layer.is_group_layer():
        raise PluginError(
            f"“{layer.get_name()}” is a layer group. Select one layer inside it, or merge "
            "the group (Layer ▸ Merge Layer Group) and clean the result."
        )
    intersects, x, y, width, height = layer.mask_intersect()
    if not intersects or width <= 0 or height <= 0:
        raise PluginError("The selection does not touch the layer: nothing to clean.")
    has_selection = not Gimp.Selection.is_empty(image)
    rect = Gegl.Rectangle.new(x, y, width, height)
    alpha = layer.get_buffer().get(rect, 1.0, "A u8", Gegl.AbyssPolicy.NONE)
    if not alpha.strip(b"\x00"):
        where = "The selected part of the layer" if has_selection else "The layer"
        raise PluginError(
            f"{where} “{layer.get_name()}” is empty (fully transparent): nothing to clean."
        )
    babl_format, fmt = formats_for_precision(image.get_precision().value_nick)
    return Source(image, layer, (x, y, width, height), babl_format, fmt, has_selection)


def _import_paths(image, traced: str, x: int, y: int) -> list:
    """The traced lines as one path of strokes (GIMP paths have no width: the SVG's
    stroke widths stay on the raster layer), where the cleaned rectangle sits."""
    placed = svg.place(traced, x, y, image.get_width(), image.get_height()).encode("utf-8")
    ok, paths = image.import_paths_from_string(placed.decode("utf-8"), len(placed), True, False)
    if not ok:
        raise PluginError("GIMP could not import the traced lines as paths.")
    for path in paths:
        path.set_name(LAYER_NAME)
    return list(paths)


def _layer_type(image):
    if image.get_base_type() == Gimp.ImageBaseType.GRAY:
        return Gimp.ImageType.GRAYA_IMAGE
    return Gimp.ImageType.RGBA_IMAGE


def add_result_layer(src: Source, header: dict, result: bytes, traced: str | None) -> None:
    """A new layer above the source with the result and, with `traced` (the result's SVG),
    the lines as one path "Clean Sketch" of strokes: one undo step; on failure the image is
    left as it was."""
    x, y, width, height = src.rect
    if (header.get("width"), header.get("height")) != (width, height):
        raise PluginError(
            f"The backend answered with a {header.get('width')}x{header.get('height')} "
            f"{header.get('format')} result for a {width}x{height} {src.fmt} layer."
        )
    image, source = src.image, src.layer
    offset_x, offset_y = source.get_offsets()[1:]
    image.undo_group_start()
    inserted = None
    imported: list = []
    try:
        layer = Gimp.Layer.new(
            image, LAYER_NAME, width, height, _layer_type(image), 100.0, Gimp.LayerMode.NORMAL
        )
        image.insert_layer(layer, source.get_parent(), image.get_item_position(source))
        inserted = layer
        layer.set_offsets(offset_x + x, offset_y + y)
        out = layer.get_buffer()
        out.set(Gegl.Rectangle.new(0, 0, width, height), src.babl_format, result)
        out.flush()
        if src.has_selection:  # only what was selected, with the selection's soft edges
            layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
            layer.remove_mask(Gimp.MaskApplyMode.APPLY)
        layer.update(0, 0, width, height)
        if traced is not None:
            imported = _import_paths(image, traced, offset_x + x, offset_y + y)
    except Exception:
        if inserted is not None and inserted.is_valid():
            image.remove_layer(inserted)  # leave the image as it was
        for path in imported:
            if path.is_valid():
                image.remove_path(path)
        raise
    finally:
        image.undo_group_end()
    Gimp.displays_flush()
