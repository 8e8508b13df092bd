#!/usr/bin/env python3
"""Sketch Cleanup for GIMP 3: Filters > Artistic > Clean Sketch…

Sends the active layer (or the selected part of it) to the Sketch Cleanup backend over
ZeroMQ and adds the clean line art as a new layer "Clean Sketch" above it, in one undo
step. The source layer is never modified. See docs/gimp.md.

Imports sketch_client (and cleanup_support) from this folder, pyzmq from ./vendor when
install.py put it there, else from the Python running GIMP's plug-ins.
"""

import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
VENDOR = os.path.join(HERE, "vendor")
sys.path.insert(0, HERE)
if os.path.isdir(VENDOR):
    sys.path.insert(0, VENDOR)
    try:
        import zmq  # noqa: F401
    except ImportError:  # vendored for another Python version: try the system's pyzmq
        sys.path.remove(VENDOR)
        for _name in [m for m in sys.modules if m == "zmq" or m.startswith("zmq.")]:
            del sys.modules[_name]
if not os.path.exists(os.path.join(HERE, "sketch_client.py")):
    # running from a source checkout (gimp_plugin/sketch-cleanup): use the repository's copy
    sys.path.append(os.path.dirname(os.path.dirname(HERE)))

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Babl", "0.1")
import cleanup_support as support  # noqa: E402
from gi.repository import Babl, Gegl, Gimp, GLib, GObject  # noqa: E402

RW = GObject.ParamFlags.READWRITE

STYLE_LABELS = {
    "transparent": "Lines on a transparent layer",
    "white": "Lines on white",
    "soft": "Soft gray lines on white (no threshold)",
}
THRESHOLD_LABELS = {
    "otsu": "Automatic (Otsu)",
    "mean": "Darker than the mean",
    "none": "None: soft, anti-aliased lines",
    "fixed": "Fixed level",
}
DETAIL_LABELS = {
    "auto": "Automatic (from the stroke width)",
    "custom": "Custom factor",
}
LINE_WEIGHT_LABELS = {
    "model": "As the model draws them",
    "auto": "Automatic (one pencil pass wide)",
    "custom": "Custom width",
}


def _choice(labels: dict) -> Gimp.Choice:
    choice = Gimp.Choice.new()
    for number, (nick, label) in enumerate(labels.items()):
        choice.add(nick, number, label, "")
    return choice


def _fail(procedure, message: str):
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(message))


def _color_hex(color) -> str:
    """#rrggbb (sRGB) of a Gegl.Color, whatever space the colour was picked in."""
    if color is None:
        return "#000000"
    data = color.get_bytes(Babl.format("R'G'B'A u8")).get_data()
    return "#{:02x}{:02x}{:02x}".format(*data[:3])


def _layer_type(image) -> Gimp.ImageType:
    if image.get_base_type() == Gimp.ImageBaseType.GRAY:
        return Gimp.ImageType.GRAYA_IMAGE
    return Gimp.ImageType.RGBA_IMAGE


def _check_drawable(image, drawables) -> Gimp.Layer:
    """The one pixel layer to clean, or a PluginError saying why not."""
    if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
        # its palette would turn the lines (and white) into the nearest palette entries
        raise support.PluginError(
            "Indexed images cannot hold the clean lines' colours: convert the image to RGB "
            "or Grayscale first (Image ▸ Mode)."
        )
    if len(drawables) != 1:
        raise support.PluginError(
            f"Select exactly one layer to clean ({len(drawables)} are selected)."
        )
    drawable = drawables[0]
    if drawable.is_layer_mask():
        raise support.PluginError(
            "A layer mask is active: click the layer's thumbnail to clean the layer itself."
        )
    if not drawable.is_layer():
        raise support.PluginError(
            "A channel is active: select the layer with the sketch in the Layers dialog."
        )
    if drawable.is_group_layer():
        raise support.PluginError(
            f"“{drawable.get_name()}” is a layer group. Select one layer inside it, or merge "
            "the group (Layer ▸ Merge Layer Group) and clean the result."
        )
    return drawable


def _show_dialog(procedure, config) -> bool:
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi

    GimpUi.init(support.PROCEDURE)
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "Clean Sketch")
    dialog.get_spin_scale("threshold-level", 100.0)  # shown as 1-99 %
    dialog.get_label("connection-title", "Backend connection", False, False)
    dialog.fill_box("connection-box", ["server", "server-key-file"])
    dialog.fill_expander("connection-expander", "connection-title", False, "connection-box")
    dialog.fill(
        [
            "style",
            "line-color",
            "threshold",
            "threshold-level",
            "detail",
            "detail-factor",
            "line-weight",
            "line-width",
            "connection-expander",
        ]
    )
    try:  # the level, factor and width only matter for "fixed" and "custom"
        for prop, choice_prop, value in (
            ("threshold-level", "threshold", "fixed"),
            ("detail-factor", "detail", "custom"),
            ("line-width", "line-weight", "custom"),
        ):
            values = Gimp.ValueArray.new(1)
            values.append(GObject.Value(GObject.TYPE_STRING, value))
            dialog.set_sensitive_if_in(prop, None, choice_prop, values, True)
    except Exception:  # cosmetics only: never let them block the dialog
        pass
    accepted = dialog.run()
    dialog.destroy()
    return accepted


class Progress:
    """Keeps GIMP's progress bar moving while this process waits on the backend."""

    STAGES = {
        "sent": "Sending the sketch",
        "queued": "Waiting for the backend",
        "preprocess": "Preparing",
        "inference": "Cleaning",
        "postprocess": "Finishing",
        "done": "Adding the layer",
    }

    def __init__(self):
        self.stage = None
        Gimp.progress_init("Clean Sketch: connecting to the backend…")

    def status(self, text):
        if text:
            Gimp.progress_set_text(text)
        Gimp.progress_pulse()

    def job(self, stage, fraction):
        if stage != self.stage:
            self.stage = stage
            Gimp.progress_set_text("Clean Sketch: " + self.STAGES.get(stage, stage) + "…")
        if stage == "inference" and fraction > 0:
            Gimp.progress_update(0.05 + 0.9 * fraction)
        elif stage in ("queued", "sent"):
            Gimp.progress_pulse()
        elif stage == "postprocess":
            Gimp.progress_update(0.95)


def run(procedure, run_mode, image, drawables, config, data):
    if run_mode == Gimp.RunMode.INTERACTIVE and not _show_dialog(procedure, config):
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
    try:
        clean_layer(image, drawables, config)
    except support.PluginError as exc:
        return _fail(procedure, str(exc))
    except Exception as exc:  # a bug: say so plainly, with details on GIMP's stderr
        traceback.print_exc()
        return _fail(procedure, f"Clean Sketch failed unexpectedly: {exc!r}")
    finally:
        Gimp.progress_end()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


def clean_layer(image, drawables, config) -> None:
    source = _check_drawable(image, drawables)
    options = support.protocol_options(
        config.get_property("style"),
        _color_hex(config.get_property("line-color")),
        config.get_property("threshold"),
        config.get_property("threshold-level"),
        config.get_property("detail"),
        config.get_property("detail-factor"),
        config.get_property("line-weight"),
        config.get_property("line-width"),
    )
    key_file = config.get_property("server-key-file")
    key_path = key_file.get_path() if key_file is not None else ""

    intersects, x, y, width, height = source.mask_intersect()
    if not intersects or width <= 0 or height <= 0:
        raise support.PluginError("The selection does not touch the layer: nothing to clean.")
    has_selection = not Gimp.Selection.is_empty(image)
    rect = Gegl.Rectangle.new(x, y, width, height)
    babl_format, fmt = support.formats_for_precision(image.get_precision().value_nick)
    buffer = source.get_buffer()
    alpha = buffer.get(rect, 1.0, "A u8", Gegl.AbyssPolicy.NONE)
    if support.is_all_transparent(alpha):
        where = "The selected part of the layer" if has_selection else "The layer"
        raise support.PluginError(
            f"{where} “{source.get_name()}” is empty (fully transparent): nothing to clean."
        )
    del alpha

    progress = Progress()
    client = support.connect(config.get_property("server"), key_path, on_status=progress.status)
    try:
        support.check_limits(client, width, height, fmt)  # before reading a huge layer
        pixels = buffer.get(rect, 1.0, babl_format, Gegl.AbyssPolicy.NONE)
        result = support.clean(client, pixels, width, height, fmt, options, progress.job)
        del pixels
    finally:
        client.close()
    progress.job("done", 1.0)

    offset_x, offset_y = source.get_offsets()[1:]
    image.undo_group_start()
    inserted = None
    try:
        layer = Gimp.Layer.new(
            image,
            support.LAYER_NAME,
            width,
            height,
            _layer_type(image),
            100.0,
            Gimp.LayerMode.NORMAL,
        )
        image.insert_layer(layer, source.get_parent(), image.get_item_position(source))
        inserted = layer
        layer.set_offsets(offset_x + x, offset_y + y)
        out = layer.get_buffer()
        out.set(Gegl.Rectangle.new(0, 0, width, height), babl_format, result)
        out.flush()
        if has_selection:  # only what was selected, with the selection's soft edges
            layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
            layer.remove_mask(Gimp.MaskApplyMode.APPLY)
        layer.update(0, 0, width, height)
    except Exception:
        if inserted is not None and inserted.is_valid():
            image.remove_layer(inserted)  # leave the image as it was
        raise
    finally:
        image.undo_group_end()
    Gimp.displays_flush()


class SketchCleanup(Gimp.PlugIn):
    def do_set_i18n(self, name):
        return False

    def do_query_procedures(self):
        return [support.PROCEDURE]

    def do_create_procedure(self, name):
        Gegl.init(None)
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("RGB*, GRAY*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label("Clean _Sketch…")
        procedure.add_menu_path("<Image>/Filters/Artistic")
        procedure.set_documentation(
            "Turn a rough sketch into clean line art",
            "Sends the active layer (or the selected part of it) to the Sketch Cleanup "
            "backend and adds the clean line art as a new layer “Clean Sketch” above it. "
            "The source layer is not changed. Layer groups, masks, channels and indexed "
            "images are refused; text layers are cleaned as pixels. Leave 'server' empty "
            "to use the local backend install.py set up (started on first use if needed).",
            name,
        )
        procedure.set_attribution("Sketch Cleanup", "MIT", "2025")

        black = Gegl.Color.new("black")
        procedure.add_choice_argument(
            "style",
            "Output st_yle",
            "transparent, white or soft",
            _choice(STYLE_LABELS),
            "transparent",
            RW,
        )
        procedure.add_color_argument(
            "line-color",
            "Li_ne color",
            "Colour of the lines (transparent and white styles)",
            False,
            black,
            RW,
        )
        procedure.add_choice_argument(
            "threshold",
            "_Threshold",
            "How line pixels are chosen: otsu, mean, none, fixed",
            _choice(THRESHOLD_LABELS),
            "otsu",
            RW,
        )
        procedure.add_double_argument(
            "threshold-level",
            "Threshold le_vel",
            "Level in (0, 1) for threshold 'fixed'",
            0.01,
            0.99,
            0.5,
            RW,
        )
        procedure.add_choice_argument(
            "detail",
            "_Detail",
            "auto: match the model's stroke width; custom: a factor",
            _choice(DETAIL_LABELS),
            "auto",
            RW,
        )
        procedure.add_double_argument(
            "detail-factor",
            "Detail _factor",
            "Working resolution for detail 'custom' (larger keeps finer detail)",
            0.1,
            4.0,
            1.0,
            RW,
        )
        procedure.add_choice_argument(
            "line-weight",
            "Line _weight",
            "model: lines as the network draws them; auto: redrawn at the sketch's stroke "
            "width (1-4 px); custom: at a width in px",
            _choice(LINE_WEIGHT_LABELS),
            support.sketch_client.DEFAULT_OPTIONS["line_width"],
            RW,
        )
        procedure.add_double_argument(
            "line-width",
            "Line w_idth",
            "Width in px of every line for line weight 'custom', centred on the stroke",
            *support.sketch_client.LINE_WIDTH_RANGE,
            2.0,
            RW,
        )
        procedure.add_string_argument(
            "server",
            "Server _address",
            "ZeroMQ endpoint of the backend, e.g. tcp://gpu-box:5571; empty: the local "
            "backend install.py set up",
            "",
            RW,
        )
        procedure.add_file_argument(
            "server-key-file",
            "Server _key file",
            "The backend's server.key (CURVE public key) when it listens beyond this machine",
            Gimp.FileChooserAction.OPEN,
            True,
            None,
            RW,
        )
        return procedure


Gimp.main(SketchCleanup.__gtype__, sys.argv)
