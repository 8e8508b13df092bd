"""Named presets in the Clean Sketch dialog: a row of a name box, Save and Delete.

A preset keeps the Result options (sketch_kit.options.preset_of: style, colour,
threshold, detail, line weight, flatten, model, vector), never the backend connection,
as the Krita plug-in's presets do (krita_plugin/sketch_cleanup/dialogs.py, `_preset_row`).
They are stored as the kit's JSON (`dump_presets`) in one file in GIMP's per-user folder,
`Gimp.directory()`/sketch-cleanup-presets.json: Krita keeps its presets in the editor's own
per-user settings (kritarc), and GIMP's folder is the equivalent; it also outlives
re-installing the plug-in, whose folder the installer replaces, and the backend's data
folder, which an artist using a remote backend may not have. Save and Delete write the file
at once (a temporary file renamed over it), so a preset is kept even if the dialog is then
cancelled or GIMP ends the plug-in. A file that cannot be read never blocks the dialog: the
row says so and starts with no presets; the first Save keeps the unreadable file beside the
new one as `…json.unreadable`.

PresetFile needs no GIMP (tests/gimp_plugin/test_presets.py); preset_row needs GTK.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable

from sketch_kit.options import EditorOptions, dump_presets, load_presets, preset_of, with_preset

FILE_NAME = "sketch-cleanup-presets.json"
HINT = "Choose a saved look, or type a name and press Save"
PROBLEM_COLOUR = "#c0392b"

Presets = dict[str, dict[str, str]]


class PresetFile:
    """The presets file. `problem` says why the last load found it unreadable (None: fine)."""

    def __init__(self, path: str):
        self.path = path
        self.problem: str | None = None

    def load(self) -> Presets:
        """The saved presets; none when the file is missing or unreadable (see `problem`)."""
        self.problem = None
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeError) as exc:
            self.problem = f"could not read {self.path}: {exc}"
            return {}
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            self.problem = f"{self.path} is not valid JSON: {exc}"
            return {}
        if not isinstance(data, dict):
            self.problem = f"{self.path} does not hold presets (a JSON object of names)"
            return {}
        return load_presets(text)

    def save(self, presets: Presets) -> str | None:
        """Write the presets atomically: a temporary file in the same folder, renamed over
        the old one, so a crash leaves the old file or the new one, never half of one.
        Raises OSError. Returns a note when an unreadable old file was kept aside."""
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        note = None
        if self.problem is not None and os.path.isfile(self.path):
            aside = self.path + ".unreadable"
            os.replace(self.path, aside)
            note = f"the unreadable file was kept as {aside}"
        fd, temp = tempfile.mkstemp(prefix=".sketch-cleanup-presets.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(dump_presets(presets))
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, self.path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
        self.problem = None
        return note


def preset_row(
    store: PresetFile,
    options: Callable[[], EditorOptions],
    apply: Callable[[EditorOptions], None],
):
    """The row for the top of the options column (a Gtk.Box): an editable combo of the
    saved names (named "preset"), Save ("save-preset") and Delete ("delete-preset"), and a
    line under them for what happened ("preset-status"). options(): the dialog's current
    options; apply(options): set them in the dialog (its widgets and preview follow)."""
    import gi

    gi.require_version("Gtk", "3.0")
    from gi.repository import GLib, Gtk

    presets = store.load()
    combo = Gtk.ComboBoxText.new_with_entry()
    combo.set_name("preset")
    entry = combo.get_child()
    entry.set_placeholder_text("name a preset…")
    save = Gtk.Button(label="Save")
    save.set_name("save-preset")
    save.set_tooltip_text("Keep the Result options under this name")
    delete = Gtk.Button(label="Delete")
    delete.set_name("delete-preset")
    delete.set_tooltip_text("Forget the preset of this name")
    status = Gtk.Label(wrap=True, max_width_chars=50, xalign=0.0)
    status.set_name("preset-status")

    def say(text: str, problem: bool = True) -> None:
        markup = GLib.markup_escape_text(text)
        if problem:
            markup = f'<span foreground="{PROBLEM_COLOUR}">{markup}</span>'
        status.set_markup(markup)
        status.show()

    def fill(current: str) -> None:
        combo.remove_all()
        for name in sorted(presets):
            combo.append_text(name)
        entry.set_text(current)  # typed text: no preset is applied by this

    def write() -> str | None:
        try:
            note = store.save(presets)
        except OSError as exc:
            say(f"Could not save the presets to {store.path}: {exc}")
            return None
        return f" ({note})" if note else ""

    def chosen(_combo) -> None:
        if combo.get_active() < 0:  # typing a name, not choosing one
            return
        preset = presets.get(combo.get_active_text() or "")
        if preset is not None:
            apply(with_preset(options(), preset))

    def on_save(_button) -> None:
        name = entry.get_text().strip()
        if not name:
            say("Type a name for the preset first.")
            return
        presets[name] = preset_of(options())
        fill(name)
        note = write()
        if note is not None:
            say(f"Saved the preset “{name}”{note}.", problem=False)

    def on_delete(_button) -> None:
        name = entry.get_text().strip()
        if presets.pop(name, None) is not None:
            fill("")
            if write() is not None:
                say(f"Deleted the preset “{name}”.", problem=False)

    fill("")
    combo.connect("changed", chosen)
    save.connect("clicked", on_save)
    delete.connect("clicked", on_delete)
    hint = HINT
    if store.problem is not None:
        hint += f"\n\nThe saved presets could not be read ({store.problem}); none are offered."
    combo.set_tooltip_text(hint)

    line = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
    line.pack_start(Gtk.Label(label="Preset:"), False, False, 0)
    line.pack_start(combo, True, True, 0)
    line.pack_start(save, False, False, 0)
    line.pack_start(delete, False, False, 0)
    row = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=2)
    row.set_name("preset-row")
    row.pack_start(line, False, False, 0)
    row.pack_start(status, False, False, 0)
    row.show_all()
    if store.problem is not None:
        say(f"Presets: {store.problem}; starting with none.")
    else:
        status.hide()
        status.set_no_show_all(True)
    return row
