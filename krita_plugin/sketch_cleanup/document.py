"""Everything the plugin asks of Krita: the layer, the result layer, settings, windows.

The only module that calls Krita's API. Krita (and Qt) are imported inside the functions
that need them, so the pure parts (formats, refusals) are tested in any Python.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sketch_kit import clip, pixels, svg
from sketch_kit.options import EditorOptions, dump_presets, load_presets

if TYPE_CHECKING:  # stubs/krita.pyi; Krita itself is imported only inside Krita
    from krita import Document, Node

RESULT_LAYER = "Clean Sketch"
VECTOR_LAYER = "Clean Sketch (vector)"
SETTINGS_GROUP = "sketch_cleanup"  # kritarc: [sketch_cleanup]

# (Krita colorModel(), colorDepth()) -> protocol format. Krita stores RGBA U8 and U16 as
# B,G,R,A and the float depths as R,G,B,A; GrayA is gray, alpha.
KRITA_FORMATS = {
    ("RGBA", "U8"): "bgra8",
    ("RGBA", "U16"): "bgra16",
    ("RGBA", "F16"): "rgbaf16",
    ("RGBA", "F32"): "rgbaf32",
    ("GRAYA", "U8"): "graya8",
    ("GRAYA", "U16"): "graya16",
    ("GRAYA", "F32"): "grayaf32",
}
MODEL_NAMES = {
    "RGBA": "RGB",
    "GRAYA": "grayscale",
    "CMYKA": "CMYK",
    "LABA": "L*a*b*",
    "XYZA": "XYZ",
    "YCbCrA": "YCbCr",
    "A": "alpha-only",
}
DEPTH_NAMES = {
    "U8": "8-bit integer",
    "U16": "16-bit integer",
    "F16": "16-bit float",
    "F32": "32-bit float",
}
NODE_KINDS = {
    "grouplayer": "a group layer",
    "vectorlayer": "a vector layer",
    "filelayer": "a file layer",
    "clonelayer": "a clone layer",
    "filllayer": "a fill layer",
    "filterlayer": "a filter layer",
    "transparencymask": "a transparency mask",
    "filtermask": "a filter mask",
    "transformmask": "a transform mask",
    "selectionmask": "a selection mask",
    "colorizemask": "a colorize mask",
}


class Refusal(Exception):
    """The action cannot run on what is selected; the message tells the artist why."""


def _app():
    from krita import Krita

    return Krita.instance()


def format_for(color_model: str, color_depth: str) -> str:
    """The protocol format for a Krita layer's colour model and depth, or a Refusal."""
    fmt = KRITA_FORMATS.get((color_model, color_depth))
    if fmt is not None:
        return fmt
    model = MODEL_NAMES.get(color_model, color_model)
    depth = DEPTH_NAMES.get(color_depth, color_depth)
    if color_model in ("RGBA", "GRAYA"):
        raise Refusal(
            f"{depth} {model} layers are not supported. Convert the image to 8-bit, 16-bit "
            "integer or 32-bit float (Image ▸ Convert Image Color Space…) and try again."
        )
    raise Refusal(
        f"The layer uses the {model} colour model ({depth}). Sketch Cleanup works on RGB and "
        "grayscale layers only: convert the image to RGB or grayscale (Image ▸ Convert Image "
        "Color Space…), clean it, then convert back if you need to."
    )


@dataclass
class Source:
    """The layer being cleaned: where it is, and its pixels as they were when read."""

    doc: Any  # krita.Document
    node: Any  # krita.Node
    name: str
    fmt: str
    rect: tuple[int, int, int, int]
    data: bytes
    mask: bytes | None


def _refuse_node_kind(name: str, kind: str) -> None:
    what = NODE_KINDS.get(kind, "not a paint layer")
    if kind == "grouplayer":
        hint = (
            "Select the paint layer with the sketch inside the group, or merge the group "
            "into one layer first (Layer ▸ Merge with Layer Below, or Flatten Layer)."
        )
    elif kind.endswith("mask"):
        hint = "Select the paint layer itself, not its mask."
    else:
        hint = (
            "Convert it to a paint layer first (Layer ▸ Convert ▸ to Paint Layer), or "
            "select the paint layer that holds the sketch."
        )
    raise Refusal(f"“{name}” is {what}: Clean Sketch works on paint layers only. {hint}")


def _active_paint_layer() -> tuple[Document, Node, str, str]:
    """The active document, its active node, the node's name and protocol format, or a
    Refusal saying what to select instead."""
    doc = _app().activeDocument()
    if doc is None:
        raise Refusal("Open an image first: Clean Sketch works on the active paint layer.")
    node = doc.activeNode()
    if node is None:
        raise Refusal("Select the paint layer that holds the sketch, then try again.")
    name = node.name()
    if node.type() != "paintlayer":
        _refuse_node_kind(name, node.type())
    try:
        fmt = format_for(node.colorModel(), node.colorDepth())
    except Refusal as exc:
        raise Refusal(f"Cannot clean “{name}”: {exc}") from None
    return doc, node, name, fmt


def _area(doc: Document) -> tuple[tuple[int, int, int, int], bytes | None]:
    """What to clean: the canvas, or the selection's bounding box and its mask."""
    canvas = (0, 0, doc.width(), doc.height())
    selection = doc.selection()
    if selection is None or selection.width() <= 0 or selection.height() <= 0:
        return canvas, None
    box = (selection.x(), selection.y(), selection.width(), selection.height())
    rect = pixels.intersect(box, canvas)
    if rect[2] == 0 or rect[3] == 0:
        raise Refusal("The selection lies outside the canvas: nothing to clean.")
    mask = bytes(selection.pixelData(*rect))
    if not mask.strip(b"\0"):
        raise Refusal("The selection is empty: select the area to clean, or deselect all.")
    return rect, mask


def _checked(data, what: str, fmt: str, rect) -> bytes:
    data = bytes(data)
    if len(data) != rect[2] * rect[3] * pixels.layout(fmt)[0]:
        raise Refusal(f"Krita returned {len(data)} bytes for {what}; expected {fmt} pixels.")
    return data


def read_source() -> Source:
    """The active paint layer's pixels (the selection's bounding box when there is one)."""
    doc, node, name, fmt = _active_paint_layer()
    rect, mask = _area(doc)
    data = _checked(node.pixelData(*rect), f"“{name}”", fmt, rect)
    visible = pixels.mask_alpha(data, fmt, mask) if mask is not None else data
    if not pixels.has_visible_pixels(visible, fmt):
        where = " inside the selection" if mask is not None else ""
        raise Refusal(f"“{name}” is empty{where} (fully transparent): nothing to clean.")
    return Source(doc, node, name, fmt, rect, data, mask)


PREVIEW_SIDE = 512  # px of the layer the live preview shows, at most, each way


@dataclass
class PreviewSource:
    """What the live preview sends: the very pixels Clean Sketch would send (so auto scale
    measures the same), and the region of them it shows."""

    data: bytes
    width: int
    height: int
    fmt: str
    region: tuple[int, int, int, int]  # within data
    from_selection: bool
    before: Any  # QImage of the canvas there, as the artist sees it


def _preview_centre(doc, src: Source) -> tuple[float, float]:
    """Canvas point the preview is centred on: the selection's, else the view's centre."""
    x, y, w, h = src.rect
    if src.mask is not None:
        return x + w / 2, y + h / 2
    window = _app().activeWindow()
    view = window.activeView() if window is not None else None
    canvas = view.canvas() if view is not None else None
    centre = getattr(canvas, "preferredCenter", None)  # Krita 5.2 and later
    if centre is not None:
        point = centre()
        return point.x(), point.y()
    return x + w / 2, y + h / 2


def preview_source() -> PreviewSource:
    """The active layer's pixels as Clean Sketch would read them, and a region to show."""
    src = read_source()
    x, y, w, h = src.rect
    cx, cy = _preview_centre(src.doc, src)
    rw, rh = min(w, PREVIEW_SIDE), min(h, PREVIEW_SIDE)
    rx = int(min(max(cx - x - rw / 2, 0), w - rw))
    ry = int(min(max(cy - y - rh / 2, 0), h - rh))
    before = src.doc.projection(x + rx, y + ry, rw, rh)
    return PreviewSource(src.data, w, h, src.fmt, (rx, ry, rw, rh), src.mask is not None, before)


def _same_document(a, b) -> bool:
    try:
        return a == b
    except Exception:  # noqa: BLE001 - bindings without == fall back to identity of file
        return a.fileName() == b.fileName() and a.name() == b.name()


def _still_there(src: Source):
    """The source layer's parent, or a Refusal if the image or the layer went away while
    the backend worked."""
    if not any(_same_document(d, src.doc) for d in _app().documents()):
        raise Refusal("The image was closed while it was being cleaned; nothing was added.")
    parent = src.node.parentNode()
    if parent is None:
        raise Refusal(f"The layer “{src.name}” was deleted while it was being cleaned.")
    return parent


def add_result_layer(src: Source, header: dict, data: bytes) -> str:
    """Add the result as a new paint layer right above the source: one undo step."""
    x, y, w, h = src.rect
    if (header.get("width"), header.get("height"), header.get("format")) != (w, h, src.fmt):
        raise Refusal(
            f"The backend answered with a {header.get('width')}×{header.get('height')} "
            f"{header.get('format')} image; expected {w}×{h} {src.fmt}."
        )
    if len(data) != w * h * pixels.layout(src.fmt)[0]:
        raise Refusal(f"The backend's result has {len(data)} bytes; expected {w}×{h} pixels.")
    doc, node = src.doc, src.node
    parent = _still_there(src)
    if src.mask is not None:
        data = pixels.mask_alpha(data, src.fmt, src.mask)
    layer = doc.createNode(RESULT_LAYER, "paintlayer")
    wanted = (node.colorModel(), node.colorDepth(), node.colorProfile())
    if (layer.colorModel(), layer.colorDepth(), layer.colorProfile()) != wanted:
        layer.setColorSpace(*wanted)
    from .qt import QtCore

    # Pixels go in before the layer joins the image: adding it is then one undo step.
    layer.setPixelData(QtCore.QByteArray(data), x, y, w, h)
    if not parent.addChildNode(layer, node):
        raise Refusal("Krita refused to add the result layer.")
    doc.refreshProjection()
    return layer.name()


def add_vector_layer(src: Source, traced: str) -> str:
    """Add the traced lines as a vector layer of editable shapes right above the source.

    Krita adds the shapes and then the layer as two undo steps; the first only touches the
    layer while it is not yet in the image, so one Undo removes everything the artist sees.
    """
    x, y, _, _ = src.rect
    doc, node = src.doc, src.node
    parent = _still_there(src)
    # Krita reads vector shapes in points: size the page so one user unit is one pixel
    placed = svg.place(traced, x, y, doc.width(), doc.height(), 72.0 / doc.resolution())
    layer = doc.createVectorLayer(VECTOR_LAYER)
    shapes = layer.addShapesFromSvg(placed)
    if svg.path_count(traced) and not shapes:
        raise Refusal("Krita could not read the traced lines; nothing was added.")
    if not parent.addChildNode(layer, node):
        raise Refusal("Krita refused to add the vector layer.")
    return layer.name()


# ---------------------------------------------------------------- animation

# Krita 5's Python API cannot list keyframes: every time up to here is asked (about 30 ms).
LAST_KEYFRAME_SEARCHED = 100_000
SWITCH_TIMEOUT_S = 30.0


@dataclass
class ClipSource:
    """An animated paint layer: where its keyframes are and what to clean, as when read."""

    doc: Document
    node: Node
    name: str
    fmt: str
    rect: tuple[int, int, int, int]
    mask: bytes | None
    times: list[int]
    start_time: int  # the document's current time, put back at the end


def read_clip() -> ClipSource:
    """The active animated paint layer's keyframes; their pixels are read one at a time."""
    doc, node, name, fmt = _active_paint_layer()
    if not node.animated():
        raise Refusal(
            f"“{name}” is not animated: Clean Sketch: All Keyframes cleans every keyframe of "
            "an animated layer. For a still layer use Filter ▸ Clean Sketch."
        )
    last = max(LAST_KEYFRAME_SEARCHED, doc.fullClipRangeEndTime())
    times = clip.keyframe_times(node.hasKeyframeAtTime, last)
    if not times:
        raise Refusal(
            f"“{name}” has no keyframes yet: nothing to clean. For a still layer use "
            "Filter ▸ Clean Sketch."
        )
    if node.childNodes():
        raise Refusal(
            f"“{name}” has masks. The clean layer is made from a copy of the layer (so it gets "
            "the same keyframes), and the copy would carry the masks too: apply or delete "
            "them first, or clean a copy of the layer without them."
        )
    rect, mask = _area(doc)
    return ClipSource(doc, node, name, fmt, rect, mask, times, doc.currentTime())


def read_frame(src: ClipSource, at: int) -> bytes:
    """The pixels of the keyframe at time `at`, read without changing the document's time."""
    data = src.node.pixelDataAtTime(*src.rect, at)
    return _checked(data, f"frame {at} of “{src.name}”", src.fmt, src.rect)


class ClipLayer:
    """The new animated layer: built outside the image, added to it in one step at the end.

    Krita's Python API can make keyframes only through actions on the active layer of the
    image (one undo step each), so the layer starts as a copy of the sketch layer, with its
    keyframes, holds and cloned frames, and each keyframe's pixels are replaced by its
    result. Writing a frame needs the document at that time: Krita records those switches
    as one merged "Switch current time" undo entry, and the time is put back before the
    layer is added, so one Edit ▸ Undo removes the layer with all its frames.
    """

    def __init__(self, src: ClipSource):
        self.src = src
        layer = src.node.duplicate()
        # A fresh layer's state. The blending mode stays: setting it adds an undo entry.
        layer.setName(RESULT_LAYER)
        layer.setOpacity(255)
        layer.setVisible(True)
        layer.setLocked(False)
        layer.setAlphaLocked(False)
        layer.setInheritAlpha(False)
        layer.setColorLabel(0)
        self.layer = layer
        self._asked: int | None = None
        self._asked_at = 0.0

    def show(self, at: int) -> None:
        """Have Krita switch to time `at` (it does so in the background)."""
        if self._asked != at and self.src.doc.currentTime() != at:
            self.src.doc.setCurrentTime(at)
            self._asked, self._asked_at = at, time.monotonic()

    def write(self, output: clip.Output) -> bool:
        """Put one keyframe's result on the layer: False while Krita is still switching to
        its time (call again), True once written. Everything else in the frame is cleared."""
        src, layer = self.src, self.layer
        if src.doc.currentTime() != output.time:
            self.show(output.time)
            if time.monotonic() - self._asked_at > SWITCH_TIMEOUT_S:
                raise Refusal(f"Krita did not switch to frame {output.time}; nothing was added.")
            return False
        from .qt import QtCore

        bounds = layer.bounds()
        frame = (bounds.x(), bounds.y(), bounds.width(), bounds.height())
        clear = pixels.around(frame, src.rect)
        if output.kind == "blank":
            clear.append(src.rect)
        else:
            if output.kind == "copy":
                assert output.same_as is not None
                copied = layer.pixelDataAtTime(*src.rect, output.same_as)
                data = _checked(copied, f"frame {output.same_as} of the result", src.fmt, src.rect)
            else:
                data = output.data
                if src.mask is not None:
                    data = pixels.mask_alpha(data, src.fmt, src.mask)
            layer.setPixelData(QtCore.QByteArray(data), *src.rect)
        bpp = pixels.layout(src.fmt)[0]
        for part in clear:
            for x, y, w, h in pixels.bands(part, bpp):
                layer.setPixelData(QtCore.QByteArray(bytes(w * h * bpp)), x, y, w, h)
        return True

    def add(self) -> str:
        """Put the document back at its time, then add the layer right above the sketch."""
        src = self.src
        if not any(_same_document(d, src.doc) for d in _app().documents()):
            raise Refusal("The image was closed while it was being cleaned; nothing was added.")
        parent = src.node.parentNode()
        if parent is None:
            raise Refusal(f"The layer “{src.name}” was deleted while it was being cleaned.")
        src.doc.setCurrentTime(src.start_time)
        src.doc.waitForDone()  # the time switch's undo entry goes in before the layer's
        if not parent.addChildNode(self.layer, src.node):
            raise Refusal("Krita refused to add the result layer.")
        src.doc.refreshProjection()
        return self.layer.name()

    def discard(self) -> None:
        """Add nothing (the copy never joined the image); put the document's time back."""
        src = self.src
        if any(_same_document(d, src.doc) for d in _app().documents()):
            src.doc.setCurrentTime(src.start_time)


# ---------------------------------------------------------------- settings and windows


def load_options() -> EditorOptions:
    app = _app()
    names = EditorOptions().to_strings()
    return EditorOptions.from_strings(
        {name: app.readSetting(SETTINGS_GROUP, name, "") for name in names}
    )


def save_options(options: EditorOptions) -> None:
    app = _app()
    for name, value in options.to_strings().items():
        app.writeSetting(SETTINGS_GROUP, name, value)


def load_named_presets() -> dict[str, dict[str, str]]:
    return load_presets(_app().readSetting(SETTINGS_GROUP, "presets", ""))


def save_named_presets(presets: dict[str, dict[str, str]]) -> None:
    _app().writeSetting(SETTINGS_GROUP, "presets", dump_presets(presets))


def editor_version() -> str:
    from .qt import QT_API

    try:
        return f"Krita {_app().version()} ({QT_API})"
    except Exception:  # noqa: BLE001 - only for the diagnostics text
        return f"Krita (unknown version, {QT_API})"


def main_window():
    """The active Krita main window (a QMainWindow), or None."""
    try:
        window = _app().activeWindow()
        return window.qwindow() if window is not None else None
    except Exception:  # noqa: BLE001 - no window is a normal state while Krita closes
        return None


def batch_mode() -> bool:
    try:
        return bool(_app().batchmode())
    except Exception:  # noqa: BLE001
        return False


def floating_message(text: str, milliseconds: int = 3000) -> None:
    """A short note on the canvas (no click needed), e.g. after a successful clean."""
    try:
        window = _app().activeWindow()
        view = window.activeView() if window is not None else None
        if view is not None:
            from .qt import QtGui

            view.showFloatingMessage(text, QtGui.QIcon(), milliseconds, 1)
    except Exception:  # noqa: BLE001 - a missing note must never break a finished job
        pass


def on_application_closing(callback) -> None:
    notifier = _app().notifier()
    notifier.setActive(True)
    notifier.applicationClosing.connect(callback)
