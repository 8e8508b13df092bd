"""The Clean Sketch dialog's live preview: before / after of a region, zoom, status.

It re-runs a short while after any option changes (the kit's Previewer cancels the stale
job) and shows the backend's result for just that region, computed the way the full clean
computes it (docs/protocol.md, "Regions"), so what the artist sees is what Clean Sketch
will put there. It only reads the layer: the image is never changed. The Krita plug-in's
krita_plugin/sketch_cleanup/preview.py is the same pane in Qt.

Test hook: with SKETCH_CLEANUP_PREVIEW_DUMP naming a folder, the pane writes what it shows
there as soon as a preview or a "No preview" status is on screen (LAYER.json: status,
header, region; LAYER.rgba: the preview's pixels; LAYER.png: the dialog window, where
LAYER is the layer's name), then answers the dialog: OK after a preview, Cancel after an
error. With SKETCH_CLEANUP_PREVIEW_CHANGE="option=value" too, the first preview is written
as LAYER.first.*, the option is set in the dialog (as if picked there) and the preview
that follows is the one written as LAYER.* and answered; "preset=NAME" instead chooses the
saved preset NAME in the preset row's list (gimp_presets.py), as a click there would. With
SKETCH_CLEANUP_PRESET_SAVE="NAME", before answering OK the hook types NAME in the preset
row and presses its Save (LAYER.json then also has "preset_status", the row's message).
tests/editors/test_gimp_preview.py and test_gimp_presets.py drive the real dialog in GUI
GIMP this way. Nothing to write after 90 s: Cancel. (SKETCH_CLEANUP_PROGRESS_CANCEL, the
progress window's hook in sketch-cleanup.py, records what it pressed in the same folder.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("GdkPixbuf", "2.0")
import gimp_document as document  # noqa: E402
from gi.repository import Gdk, GdkPixbuf, GLib, Gtk  # noqa: E402

from sketch_kit.local import BackendProcess  # noqa: E402
from sketch_kit.options import FIELDS, EditorOptions  # noqa: E402
from sketch_kit.preview import Previewer, Request  # noqa: E402
from sketch_kit.session import Session  # noqa: E402

DEBOUNCE_MS = 350  # typing a width or dragging a spin scale sends one request, not twenty
POLL_MS = 60
PREVIEW_FORMAT = "rgba8"  # what GdkPixbuf shows directly
VIEW_SIDE = 360  # px of the dialog the picture takes
ZOOMS = (("fit", "Fit"), ("1", "100 %"), ("2", "200 %"))
WHITE = 0xFFFFFFFF
DUMP_ENV = "SKETCH_CLEANUP_PREVIEW_DUMP"
CHANGE_ENV = "SKETCH_CLEANUP_PREVIEW_CHANGE"  # "option=text value", set after a first preview
SAVE_ENV = "SKETCH_CLEANUP_PRESET_SAVE"  # a preset name, saved before OK
HOOK_DEADLINE_S = 90
BACKEND = tuple(f.name for f in FIELDS if f.group == "backend")


def _pixbuf(rgba: bytes, width: int, height: int) -> GdkPixbuf.Pixbuf:
    return GdkPixbuf.Pixbuf.new_from_bytes(
        GLib.Bytes.new(rgba), GdkPixbuf.Colorspace.RGB, True, 8, width, height, 4 * width
    )


class PreviewPane(Gtk.Box):
    """source: the layer and its preview region; options: the dialog's current options;
    process: the backend this plug-in may start, shared with the clean after OK.
    `result` holds the newest preview (header, pixels) the picture was made from."""

    def __init__(
        self,
        source: document.PreviewSource,
        options: Callable[[], EditorOptions],
        process: BackendProcess,
        settings_place: str,
    ):
        super().__init__(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        self.set_name("preview")
        self.source = source
        self.options = options
        self.settings_place = settings_place
        self.process = process
        self.previewer: Previewer | None = None
        self.backend: tuple = ()  # the backend options the previewer was made with
        self.result: tuple[dict, bytes] | None = None
        x, y, w, h = source.region
        self.before = _pixbuf(source.before, w, h)
        self.after: GdkPixbuf.Pixbuf | None = None
        self.debounce: int | None = None
        self.poller: int | None = None
        self.on_shown: Callable[[PreviewPane], None] | None = None

        self.picture = Gtk.Image()
        scroll = Gtk.ScrolledWindow(min_content_width=VIEW_SIDE, min_content_height=VIEW_SIDE)
        scroll.add(self.picture)
        where = "the selection" if source.source.has_selection else "the middle of the layer"
        scroll.set_tooltip_text(f"{w}×{h} px at ({x}, {y}) of {where}; scroll to pan")
        self.pack_start(scroll, True, True, 0)
        self.original = Gtk.CheckButton(label="Show the sketch")
        self.original.set_tooltip_text("Before / after: the sketch as it is, or the clean result")
        self.original.connect("toggled", self._redraw)
        self.zoom = Gtk.ComboBoxText()
        for key, label in ZOOMS:
            self.zoom.append(key, label)
        self.zoom.set_active_id("fit")
        self.zoom.connect("changed", self._redraw)
        row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        row.pack_start(self.original, False, False, 0)
        row.pack_end(self.zoom, False, False, 0)
        self.pack_start(row, False, False, 0)
        self.status = Gtk.Label(wrap=True, max_width_chars=40, xalign=0.0)
        self.status.set_name("preview-status")
        self.pack_start(self.status, False, False, 0)
        self.connect("destroy", lambda _pane: self.close_preview())
        self.changed()

    # -- the dialog says an option changed
    def changed(self, *_args) -> None:
        self.status.set_text("Preview: waiting for the options to settle…")
        if self.debounce is not None:
            GLib.source_remove(self.debounce)
        self.debounce = GLib.timeout_add(DEBOUNCE_MS, self._request)

    def close_preview(self) -> None:
        """Stop the timers and cancel any job on the backend (the dialog ended)."""
        for timer in (self.debounce, self.poller):
            if timer is not None:
                GLib.source_remove(timer)
        self.debounce = self.poller = None
        if self.previewer is not None:
            self.previewer.close()
            self.previewer = None

    # -- inside
    def _request(self) -> bool:
        self.debounce = None
        try:
            options = self.options()
            wanted = options.clean_options(PREVIEW_FORMAT).replace(vector=None)
        except ValueError as exc:  # an option out of range: say so, keep the last picture
            self.status.set_text(f"No preview: {exc}")
            return False
        backend = tuple(getattr(options, name) for name in BACKEND)
        if self.previewer is not None and backend != self.backend:
            self.previewer.close()  # another server: connect afresh
            self.previewer = None
        if self.previewer is None:
            session = Session.for_options(options, self.process, self.settings_place)
            self.previewer, self.backend = Previewer(session), backend
        src = self.source
        request = Request(src.data, src.width, src.height, src.source.fmt, wanted, src.region)
        self.previewer.show(request)
        if self.poller is None:
            self.poller = GLib.timeout_add(POLL_MS, self._poll)
        return False

    def _poll(self) -> bool:
        previewer = self.previewer
        if previewer is None:
            self.poller = None
            return False
        try:
            done = previewer.poll()
        except Exception as exc:  # noqa: BLE001 - a preview must never break the dialog
            previewer.error = f"{exc!r}"
            previewer.status = f"No preview: {exc!r}"
            done = None
        self.status.set_text(previewer.status)
        if previewer.error is not None:
            self.poller = None
            previewer.close()
            self.previewer = None  # the next change tries again
            self._shown()
            return False
        if done is None:
            return True
        header, pixels = done
        self.result = done
        w, h = header["width"], header["height"]
        self.after = _pixbuf(pixels, w, h)
        exact = "" if header.get("exact", True) else " (automatic threshold: may differ slightly)"
        self.status.set_text(f"Preview: {w}×{h} px{exact}")
        self._redraw()
        if previewer.pending is None and previewer.job is None and self.debounce is None:
            self._shown()
        return True

    def _redraw(self, *_args) -> None:
        shown = self.before if self.original.get_active() else self.after
        if shown is None:  # no result yet
            self.picture.clear()
            return
        zoom = self.zoom.get_active_id() or "fit"
        w, h = shown.get_width(), shown.get_height()
        if zoom == "fit":
            factor = min(VIEW_SIDE / w, VIEW_SIDE / h)
            interp = GdkPixbuf.InterpType.BILINEAR
        else:
            factor, interp = float(zoom), GdkPixbuf.InterpType.NEAREST
        size = max(1, round(w * factor)), max(1, round(h * factor))
        # over white, as the lines will look on paper
        over_white = shown.composite_color_simple(*size, interp, 255, 8, WHITE, WHITE)
        self.picture.set_from_pixbuf(over_white)

    def _shown(self) -> None:
        if self.on_shown is not None:
            GLib.idle_add(self._call_shown)

    def _call_shown(self) -> bool:
        if self.on_shown is not None:
            callback, self.on_shown = self.on_shown, None
            callback(self)
        return False


def _find(widget: Gtk.Widget, name: str) -> Gtk.Widget | None:
    """The widget of this name (Gtk.Widget.set_name) in widget's tree."""
    if widget.get_name() == name:
        return widget
    if isinstance(widget, Gtk.Container):
        for child in widget.get_children():
            found = _find(child, name)
            if found is not None:
                return found
    return None


def _choose_preset(dialog: Gtk.Dialog, name: str) -> None:
    combo = _find(dialog, "preset")
    assert isinstance(combo, Gtk.ComboBox), "no preset row in the dialog"
    names = [row[0] for row in combo.get_model()]
    combo.set_active(names.index(name))  # what choosing it from the list does


def _save_preset(dialog: Gtk.Dialog, name: str) -> str:
    combo, save = _find(dialog, "preset"), _find(dialog, "save-preset")
    assert isinstance(combo, Gtk.ComboBox) and isinstance(save, Gtk.Button), "no preset row"
    combo.get_child().set_text(name)
    save.clicked()
    status = _find(dialog, "preset-status")
    return status.get_text() if isinstance(status, Gtk.Label) else ""


def dump_hook(dialog: Gtk.Dialog, pane: PreviewPane, config) -> None:
    """The test hook (see the module's docstring); does nothing without its variable."""
    folder = os.environ.get(DUMP_ENV)
    if not folder:
        return
    change = os.environ.get(CHANGE_ENV, "")
    save_as = os.environ.get(SAVE_ENV, "")

    def give_up() -> bool:  # nothing shown in time: Cancel, so the test fails, not hangs
        dialog.response(Gtk.ResponseType.CANCEL)
        return False

    deadline = GLib.timeout_add_seconds(HOOK_DEADLINE_S, give_up)

    def dump(shown: PreviewPane) -> None:
        nonlocal change
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in shown.source.source.name)
        first = bool(change) and shown.after is not None
        base = os.path.join(folder, name + (".first" if first else ""))
        header = dict(shown.result[0]) if shown.result is not None else None
        info = {"status": shown.status.get_text(), "header": header, "region": shown.source.region}
        if save_as and not first and shown.after is not None:
            info["preset_status"] = _save_preset(dialog, save_as)
        if shown.after is not None:
            with open(base + ".rgba", "wb") as out:
                out.write(shown.after.read_pixel_bytes().get_data())
        window = dialog.get_window()
        if window is not None:
            while Gtk.events_pending():
                Gtk.main_iteration()
            width, height = window.get_width(), window.get_height()
            grab = Gdk.pixbuf_get_from_window(window, 0, 0, width, height)
            if grab is not None:
                grab.savev(base + ".png", "png", [], [])
        with open(base + ".json", "w") as out:
            json.dump(info, out)
        if first:  # change an option as the artist would; the next preview answers
            name, _, value = change.partition("=")
            change = ""
            shown.on_shown = dump
            if name == "preset":
                _choose_preset(dialog, value)
            else:
                config.set_property(name, value)
            return
        ok = shown.after is not None and header is not None
        GLib.source_remove(deadline)
        dialog.response(Gtk.ResponseType.OK if ok else Gtk.ResponseType.CANCEL)

    pane.on_shown = dump
