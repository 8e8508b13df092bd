#!/usr/bin/env python3
"""Sketch Cleanup for GIMP 3: Filters > Artistic > Clean Sketch…

Sends the active layer (or the selected part of it) to the Sketch Cleanup backend over
ZeroMQ and adds the clean line art as a new layer "Clean Sketch" above it, in one undo
step. The source layer is never modified. See docs/gimp.md.

This script is the plug-in's UI (procedure, dialog, progress bar); gimp_preview.py is the
dialog's live preview; gimp_presets.py its named presets; gimp_document.py reads and writes
the image; the shared kit
(`sketch_kit/`, copied next to this file by install.py) finds the backend and runs the
job. pyzmq comes from ./vendor when install.py put it there, else from the Python running
GIMP's plug-ins.

Test hook: with SKETCH_CLEANUP_PROGRESS_CANCEL set to a backend stage ("inference", …) or
"first", the interactive progress window presses its own Cancel (the `response` a click
sends) once, at the first progress step at which the layer was sent and the job is at that
stage ("first": any stage). With SKETCH_CLEANUP_PREVIEW_DUMP naming a folder too (the
dialog's hook, gimp_preview.py), it writes LAYER.cancel.json there: the job's id, stage and
fraction and the wall-clock time of the press, then the time the window closed.
tests/editors/test_gimp_cancel.py cancels a running clean in GUI GIMP this way.
"""

import json
import os
import sys
import time
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
if not os.path.isdir(os.path.join(HERE, "sketch_kit")):
    # running from a source checkout (gimp_plugin/sketch-cleanup): the repository's kit
    sys.path.append(os.path.dirname(os.path.dirname(HERE)))

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Babl", "0.1")
import gimp_document as document  # noqa: E402
from gi.repository import Gegl, Gimp, Gio, GLib, GObject  # noqa: E402

from sketch_kit import diagnostics  # noqa: E402
from sketch_kit.local import BackendProcess  # noqa: E402
from sketch_kit.options import FIELDS, EditorOptions  # noqa: E402
from sketch_kit.protocol import ProtocolError  # noqa: E402
from sketch_kit.session import Session, State  # noqa: E402

PROCEDURE = "plug-in-sketch-cleanup"
DIAGNOSTICS = "plug-in-sketch-cleanup-diagnostics"
SETTINGS_PLACE = "the Clean Sketch dialog (Backend connection)"
CANCEL_ENV = "SKETCH_CLEANUP_PROGRESS_CANCEL"  # test hook: see the module docstring
RW = GObject.ParamFlags.READWRITE
DEFAULTS = EditorOptions()
# The backend this plug-in process started, if any: one for the dialog's preview and the
# clean after it, so a backend the preview is still starting is waited for, not started
# twice. Detached: GIMP ends this process after every run, and kills a cancelled one's group.
PROCESS = BackendProcess("the GIMP plug-in", detached=True)


def _arg(name: str) -> str:
    """GIMP's name for an option (GObject properties use dashes)."""
    return name.replace("_", "-")


def _choice(labels: dict) -> Gimp.Choice:
    choice = Gimp.Choice.new()
    for number, (nick, label) in enumerate(labels.items()):
        choice.add(nick, number, label, "")
    return choice


def add_arguments(procedure) -> None:
    """One procedure argument per option of the kit's table, with its default and range."""
    for field in FIELDS:
        _add_argument(procedure, field)


def _add_argument(procedure, field) -> None:
    name, default = _arg(field.name), getattr(DEFAULTS, field.name)
    if field.kind == "choice":
        procedure.add_choice_argument(
            name, field.label, field.hint, _choice(field.choices), default, RW
        )
    elif field.kind == "number":
        procedure.add_double_argument(name, field.label, field.hint, *field.range, default, RW)
    elif field.kind == "color":
        color = Gegl.Color.new(default)
        procedure.add_color_argument(name, field.label, field.hint, False, color, RW)
    elif field.kind == "bool":
        procedure.add_boolean_argument(name, field.label, field.hint, default, RW)
    elif field.kind == "file":
        procedure.add_file_argument(
            name, field.label, field.hint, Gimp.FileChooserAction.OPEN, True, None, RW
        )
    else:
        procedure.add_string_argument(name, field.label, field.hint, default, RW)


def read_options(config) -> EditorOptions:
    values = {}
    for field in FIELDS:
        value = config.get_property(_arg(field.name))
        if field.kind == "color":
            value = document.color_hex(value)
        elif field.kind == "file":
            value = value.get_path() if value is not None else ""
        values[field.name] = value
    return EditorOptions(**values)


def write_options(config, options: EditorOptions) -> None:
    """Set the config's properties that differ from `options`, as picking them in the
    dialog would: its widgets follow, and the preview hears one change."""
    current = read_options(config)
    config.freeze_notify()
    try:
        for field in FIELDS:
            value = getattr(options, field.name)
            if value == getattr(current, field.name):
                continue
            if field.kind == "color":
                value = Gegl.Color.new(value)
            elif field.kind == "file":
                value = Gio.File.new_for_path(value) if value else None
            config.set_property(_arg(field.name), value)
    finally:
        config.thaw_notify()


def _preset_row(config):
    """The named presets' row (gimp_presets.py); a Gtk.Label saying why if it fails."""
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    try:
        import gimp_presets

        store = gimp_presets.PresetFile(os.path.join(Gimp.directory(), gimp_presets.FILE_NAME))
        return gimp_presets.preset_row(
            store, lambda: read_options(config), lambda o: write_options(config, o)
        )
    except Exception as exc:  # a bug: never let the presets block the dialog
        traceback.print_exc()
        return Gtk.Label(label=f"No presets: {exc!r}", wrap=True, max_width_chars=40)


def _add_preview(dialog, config, image, drawables):
    """The preset row above the options and the live preview to their right; returns the
    notify handler to drop when the dialog ends. Anything wrong with the layer shows as
    "No preview: …"."""
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    handler = None
    try:
        import gimp_preview

        source = document.preview_source(image, drawables)
        pane = gimp_preview.PreviewPane(
            source, lambda: read_options(config), PROCESS, SETTINGS_PLACE
        )
    except document.PluginError as exc:
        pane = Gtk.Label(label=f"No preview: {exc}", wrap=True, max_width_chars=40)
    except Exception as exc:  # a bug: never let the preview block the dialog
        traceback.print_exc()
        pane = Gtk.Label(label=f"No preview: {exc!r}", wrap=True, max_width_chars=40)
    else:
        handler = config.connect("notify", pane.changed)
        gimp_preview.dump_hook(dialog, pane, config)
    content = dialog.get_content_area()
    options = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=content.get_spacing())
    options.pack_start(_preset_row(config), False, False, 0)
    # fill() packs the option rows straight into the content area, above GIMP's own
    # "Load Saved / Save Settings" and Help/Reset/Cancel/OK button boxes: the rows become
    # the left column, the buttons stay below both columns
    for child in content.get_children():
        if isinstance(child, Gtk.ButtonBox):
            break
        content.remove(child)
        options.pack_start(child, False, False, 0)
    columns = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=12)
    columns.pack_start(options, False, False, 0)
    columns.pack_start(pane, True, True, 0)
    content.pack_start(columns, True, True, 0)
    content.reorder_child(columns, 0)
    columns.show_all()
    return handler


def _show_dialog(procedure, config, image, drawables) -> bool:
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi

    GimpUi.init(PROCEDURE)
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "Clean Sketch")
    dialog.get_spin_scale("threshold-level", 100.0)  # shown as 1-99 %
    dialog.get_label("connection-title", "Backend connection", False, False)
    backend = [_arg(f.name) for f in FIELDS if f.group == "backend"]
    dialog.fill_box("connection-box", backend)
    dialog.fill_expander("connection-expander", "connection-title", False, "connection-box")
    dialog.fill([_arg(f.name) for f in FIELDS if f.group == "result"] + ["connection-expander"])
    try:  # the level, factor and width only matter for "fixed" and "custom"
        for field in FIELDS:
            if field.enabled_when is not None:
                choice, value = field.enabled_when
                values = Gimp.ValueArray.new(1)
                values.append(GObject.Value(GObject.TYPE_STRING, value))
                dialog.set_sensitive_if_in(_arg(field.name), None, _arg(choice), values, True)
    except Exception:  # cosmetics only: never let them block the dialog
        pass
    handler = _add_preview(dialog, config, image, drawables)
    try:
        accepted = dialog.run()
    finally:
        if handler is not None:
            config.disconnect(handler)
        dialog.destroy()  # the pane's destroy cancels its job
    return accepted


class Progress:
    """GIMP's progress bar, kept moving while the session waits on the backend. Its cancel
    would end this process abruptly (GIMP kills a plug-in whose plain progress is
    cancelled), so interactive runs use CancellableProgress instead."""

    def __init__(self):
        self.text = None
        Gimp.progress_init("Clean Sketch: connecting to the backend…")

    def __call__(self, session: Session) -> bool:
        if session.status != self.text:
            self.text = session.status
            Gimp.progress_set_text("Clean Sketch: " + session.status)
        fraction = session.fraction
        if fraction:
            Gimp.progress_update(0.05 + 0.9 * fraction)
        else:
            Gimp.progress_pulse()
        return True

    def close(self) -> None:
        Gimp.progress_end()


class CancellableProgress:
    """A small window with the progress and a Cancel button that cancels the job on the
    backend and lets the plug-in return cleanly; GTK events run between steps."""

    def __init__(self):
        gi.require_version("GimpUi", "3.0")
        gi.require_version("Gtk", "3.0")
        from gi.repository import GimpUi, Gtk

        self.gtk = Gtk
        GimpUi.init(PROCEDURE)
        self.cancelled = False
        self.dialog = GimpUi.Dialog(title="Clean Sketch", role=PROCEDURE)
        self.dialog.add_button("_Cancel", Gtk.ResponseType.CANCEL)
        self.dialog.connect("response", self._response)
        self.bar = Gtk.ProgressBar(show_text=True, text="Connecting to the backend…")
        self.bar.set_size_request(360, -1)
        self.dialog.get_content_area().pack_start(self.bar, True, True, 12)
        self.dialog.show_all()
        self.press_at = os.environ.get(CANCEL_ENV, "")  # the test hook's stage, if any
        self.pressed: dict | None = None

    def _response(self, _dialog, _response) -> None:
        self.cancelled = True

    def __call__(self, session: Session) -> bool:
        self.bar.set_text(session.status)
        fraction = session.fraction
        if fraction:
            self.bar.set_fraction(fraction)
        else:
            self.bar.pulse()
        if self.press_at and self.pressed is None:
            self._press_cancel(session)
        while self.gtk.events_pending():
            self.gtk.main_iteration()
        return not self.cancelled

    def close(self) -> None:
        self.dialog.destroy()
        while self.gtk.events_pending():
            self.gtk.main_iteration()
        if self.pressed is not None:
            self._record(closed=time.time())

    # -- the test hook (module docstring)
    def _press_cancel(self, session: Session) -> None:
        job = session.job
        if session.state is not State.RUNNING or job is None:
            return
        if self.press_at not in ("first", job.stage):
            return
        self.pressed = {"job": job.id, "stage": job.stage, "fraction": job.fraction}
        self.pressed["name"] = session.name
        self._record(clicked=time.time())
        self.dialog.response(self.gtk.ResponseType.CANCEL)  # what clicking Cancel sends

    def _record(self, **times: float) -> None:
        assert self.pressed is not None
        self.pressed.update(times)
        folder = os.environ.get("SKETCH_CLEANUP_PREVIEW_DUMP")
        if folder:
            name = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.pressed["name"])
            with open(os.path.join(folder, name + ".cancel.json"), "w") as out:
                json.dump(self.pressed, out)


def _check(session: Session) -> None:
    if session.outcome == "cancelled":
        raise Cancelled
    if session.done and session.outcome != "ok":
        details = f"\n\n{session.details}" if session.details else ""
        raise document.PluginError(session.message + details)


class Cancelled(Exception):
    """The artist cancelled; the backend was told and nothing was changed."""


def clean_layer(image, drawables, config, progress) -> None:
    source = document.source_layer(image, drawables)
    options = read_options(config)
    try:
        request = options.clean_options(source.fmt)
    except ProtocolError as exc:
        raise document.PluginError(f"Invalid option: {exc.message}.") from None
    session = Session.for_options(options, PROCESS, SETTINGS_PLACE, source.name)
    session.start()
    session.drive((State.CONNECTING, State.STARTING), progress)
    _check(session)
    _, _, width, height = source.rect
    session.check_fits(width, height, source.fmt)  # before reading a huge layer
    _check(session)
    session.submit(source.read(), width, height, source.fmt, request)
    session.drive((State.RUNNING,), progress)
    _check(session)
    assert session.result is not None
    document.add_result_layer(source, *session.result, session.svg)


def run(procedure, run_mode, image, drawables, config, data):
    if run_mode == Gimp.RunMode.INTERACTIVE and not _show_dialog(
        procedure, config, image, drawables
    ):
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
    interactive = run_mode == Gimp.RunMode.INTERACTIVE
    progress = CancellableProgress() if interactive else Progress()
    try:
        clean_layer(image, drawables, config, progress)
    except Cancelled:
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
    except document.PluginError as exc:
        return _fail(procedure, str(exc))
    except Exception as exc:  # a bug: say so plainly, with details on GIMP's stderr
        traceback.print_exc()
        return _fail(procedure, f"Clean Sketch failed unexpectedly: {exc!r}")
    finally:
        progress.close()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


def _fail(procedure, message: str):
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(message))


def diagnostics_text(config) -> str:
    key_file = config.get_property("server-key-file")
    return diagnostics.report(
        "GIMP plug-in",
        f"GIMP {Gimp.version()}",
        config.get_property("server"),
        key_file.get_path() if key_file is not None else "",
    )


def _show_diagnostics(text: str) -> None:
    """The text in a window, selectable, with a button that copies it all."""
    gi.require_version("GimpUi", "3.0")
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gdk, GimpUi, Gtk

    GimpUi.init(DIAGNOSTICS)
    dialog = GimpUi.Dialog(title="Clean Sketch Diagnostics", role=DIAGNOSTICS)
    dialog.add_button("_Copy to Clipboard", 1)
    dialog.add_button("_Close", Gtk.ResponseType.CLOSE)
    view = Gtk.TextView(editable=False, monospace=True, wrap_mode=Gtk.WrapMode.WORD_CHAR)
    view.get_buffer().set_text(text)
    scroll = Gtk.ScrolledWindow(min_content_width=640, min_content_height=420)
    scroll.add(view)
    dialog.get_content_area().pack_start(scroll, True, True, 0)
    dialog.show_all()
    while dialog.run() == 1:
        clipboard = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD)
        clipboard.set_text(text, -1)
        clipboard.store()  # kept for pasting after this plug-in process ends
    dialog.destroy()


def run_diagnostics(procedure, config, data):
    """Versions, the backend's address and answer, its log: for a bug report. Returns the
    text (scripts, tests); shows it with a Copy button when run from the menu."""
    text = diagnostics_text(config)
    if config.get_property("run-mode") == Gimp.RunMode.INTERACTIVE:
        _show_diagnostics(text)
    values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())
    values.remove(1)
    values.insert(1, GObject.Value(GObject.TYPE_STRING, text))
    return values


def create_diagnostics(plugin, name):
    procedure = Gimp.Procedure.new(plugin, name, Gimp.PDBProcType.PLUGIN, run_diagnostics, None)
    procedure.set_menu_label("Clean Sketch _Diagnostics…")
    procedure.add_menu_path("<Image>/Filters/Artistic")
    procedure.set_documentation(
        "Sketch Cleanup diagnostics for a bug report",
        "Versions, the backend's address and what it says about itself, and the last lines "
        "of its log, with a button that copies them.",
        name,
    )
    procedure.set_attribution("Sketch Cleanup", "MIT", "2025")
    procedure.add_enum_argument(
        "run-mode", "Run mode", "The run mode", Gimp.RunMode, Gimp.RunMode.INTERACTIVE, RW
    )
    for field in FIELDS:
        if field.name in ("server", "server_key_file"):
            _add_argument(procedure, field)
    procedure.add_string_return_value("text", "Diagnostics", "The diagnostics text", "", RW)
    return procedure


class SketchCleanup(Gimp.PlugIn):
    def do_set_i18n(self, name):
        return False

    def do_query_procedures(self):
        return [PROCEDURE, DIAGNOSTICS]

    def do_create_procedure(self, name):
        if name == DIAGNOSTICS:
            return create_diagnostics(self, name)
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
        add_arguments(procedure)
        return procedure


Gimp.main(SketchCleanup.__gtype__, sys.argv)
