# Runs inside gimp-console-3.0 (python-fu-eval), exec'd with SPEC = "/path/spec.json" set.
# For each case of the spec it loads a real image file, sets it up as the case says, calls
# the real plug-in procedure through the PDB (NONINTERACTIVE, with a config; in GUI GIMP
# also INTERACTIVE, which opens the real dialog: test_gimp_preview.py) and writes
# what happened to CASE_OUT/result.json plus raw pixel dumps that the test checks with
# numpy. One GIMP start serves many cases (a start costs seconds); each case gets its own
# image. GIMP's exit code does not pass through, hence the result files and done.json.
import json
import os
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

PROCEDURE = "plug-in-sketch-cleanup"


def _rect(drawable):
    return Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())


def _dump(drawable, fmt, path):
    data = drawable.get_buffer().get(_rect(drawable), 1.0, fmt, Gegl.AbyssPolicy.NONE)
    with open(path, "wb") as f:
        f.write(data)
    return os.path.basename(path)


def _native(drawable):
    return bytes(drawable.get_buffer().get(_rect(drawable), 1.0, None, Gegl.AbyssPolicy.NONE))


def _describe(layer):
    is_group = layer.is_group_layer()
    return {
        "name": layer.get_name(),
        "offsets": list(layer.get_offsets()[1:]),
        "size": [layer.get_width(), layer.get_height()],
        "bpp": layer.get_bpp(),
        "has_alpha": layer.has_alpha(),
        "is_group": is_group,
        "children": [_describe(c) for c in layer.get_children()] if is_group else [],
    }


def _new_layer(image, name, width, height):
    layer = Gimp.Layer.new(
        image, name, width, height, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL
    )
    image.insert_layer(layer, None, 0)
    return layer


def run_diagnostics(case, result):
    """The diagnostics procedure, run as a script would: it returns its text."""
    procedure = Gimp.get_pdb().lookup_procedure(PROCEDURE + "-diagnostics")
    result["procedure_found"] = procedure is not None
    config = procedure.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    for name, value in case.get("config", {}).items():
        config.set_property(name, value)
    values = procedure.run(config)
    result["status"] = values.index(0).value_nick
    result["text"] = values.index(1)


def run_case(case, result):
    if case.get("diagnostics"):
        return run_diagnostics(case, result)
    out = case["out_dir"]
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(case["image"]))
    source = image.get_layers()[0]
    source.set_name(case.get("layer_name", "sketch"))
    if case.get("indexed"):
        image.convert_indexed(
            Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16, False, True, ""
        )
    if case.get("precision"):
        image.convert_precision(getattr(Gimp.Precision, case["precision"]))
    if case.get("canvas_offset"):  # a bigger canvas: the source layer gets offsets
        dx, dy = case["canvas_offset"]
        image.resize(image.get_width() + 2 * dx, image.get_height() + 2 * dy, dx, dy)
    if case.get("add_top_layer"):
        _new_layer(image, "top", 16, 16)
    target = source
    if case.get("group"):
        group = Gimp.GroupLayer.new(image, "sketch group")
        image.insert_layer(group, None, 0)
        image.reorder_item(source, group, 0)
        target = group
    if case.get("empty_layer"):
        target = _new_layer(image, "empty", 64, 64)
        target.fill(Gimp.FillType.TRANSPARENT)
    if case.get("layer_mask"):
        source.add_mask(source.create_mask(Gimp.AddMaskType.WHITE))
        target = source.get_mask()
    selection = case.get("selection")
    if selection:
        shape = selection["shape"]
        select = image.select_ellipse if shape == "ellipse" else image.select_rectangle
        select(Gimp.ChannelOps.REPLACE, *selection["rect"])

    result["precision"] = image.get_precision().value_nick
    result["base_type"] = image.get_base_type().value_nick
    result["source_offsets"] = list(source.get_offsets()[1:])
    before = _native(source)
    result["layers_before"] = [_describe(layer) for layer in image.get_layers()]

    procedure = Gimp.get_pdb().lookup_procedure(PROCEDURE)
    result["procedure_found"] = procedure is not None
    if procedure is None:
        return
    config = procedure.create_config()
    # interactive (GUI GIMP only): the real dialog, answered by the plug-in's preview hook
    interactive = case.get("interactive")
    mode = Gimp.RunMode.INTERACTIVE if interactive else Gimp.RunMode.NONINTERACTIVE
    config.set_property("run-mode", mode)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [target])
    for name, value in case.get("config", {}).items():
        if name == "line-color":
            value = Gegl.Color.new(value)
        elif name == "server-key-file":
            value = Gio.File.new_for_path(value)
        config.set_property(name, value)
    result["run_started"] = time.time()  # wall clock: the plug-in's test hooks use it too
    values = procedure.run(config)
    result["run_ended"] = time.time()
    result["status"] = values.index(0).value_nick
    result["message"] = str(values.index(1)) if values.length() > 1 else ""

    result["precision_after"] = image.get_precision().value_nick
    result["layers"] = [_describe(layer) for layer in image.get_layers()]
    result["source_unchanged"] = _native(source) == before
    result["paths"] = [
        {
            "name": path.get_name(),
            "strokes": len(path.get_strokes()),
            "svg": image.export_path_to_string(path),
        }
        for path in image.get_paths()
    ]
    new = [layer for layer in image.get_layers() if layer.get_name() == "Clean Sketch"]
    if target is source and source.get_parent() is None and new:
        layer = new[0]
        result["new_layer"] = _describe(layer)
        result["new_position"] = image.get_item_position(layer)
        result["source_position"] = image.get_item_position(source)
        result["dumps"] = {"u8": _dump(layer, "R'G'B'A u8", os.path.join(out, "new_u8.raw"))}
        if case.get("dump_deep"):
            result["dumps"]["u16"] = _dump(layer, "R'G'B'A u16", os.path.join(out, "u16.raw"))
            result["dumps"]["float"] = _dump(layer, "RGBA float", os.path.join(out, "f32.raw"))
    image.delete()


_spec = json.load(open(SPEC))  # noqa: F821 - set by the -b command line
for _case in _spec["cases"]:
    _result = {"ok": False}
    try:
        run_case(_case, _result)
        _result["ok"] = True
    except Exception:
        _result["error"] = traceback.format_exc()
    with open(os.path.join(_case["out_dir"], "result.json"), "w") as _f:
        json.dump(_result, _f, indent=1)
with open(os.path.join(_spec["out_dir"], "done.json"), "w") as _f:
    json.dump({"cases": len(_spec["cases"])}, _f)
