"""The "Clean Sketch Options…" dialog, built from the kit's table of options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sketch_kit import diagnostics
from sketch_kit.local import backend_config, installed_endpoint
from sketch_kit.options import (
    FIELDS,
    EditorOptions,
    Field,
    describe_model,
    model_headline,
    preset_of,
    with_preset,
)
from sketch_kit.protocol import COLOR_PATTERN

from .preview import PreviewPane
from .qt import QtCore, QtGui, QtWidgets

GROUP_TITLES = {"result": "Result", "backend": "Backend"}


class OptionsDialog(QtWidgets.QDialog):
    """Edits a copy of the options; `options()` returns the result after accept.

    Every widget is named after its option (tests and the harness find them by name)."""

    def __init__(
        self,
        options: EditorOptions,
        presets: dict[str, dict[str, str]] | None = None,
        editor: str = "Krita",
        parent=None,
        preview: Callable[[OptionsDialog], QtWidgets.QWidget] | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("sketch_cleanup_options")
        self.setWindowTitle("Clean Sketch Options")
        self.widgets: dict[str, QtWidgets.QWidget] = {}
        self.models: dict[str, dict] = {}  # name -> the backend's info.models entry
        self.presets = dict(presets or {})  # name -> preset_of(options); saved by the caller
        self.editor = editor
        outer = QtWidgets.QVBoxLayout(self)
        columns = QtWidgets.QHBoxLayout()
        outer.addLayout(columns, 1)
        layout = QtWidgets.QVBoxLayout()
        columns.addLayout(layout)
        layout.addLayout(self._preset_row())
        forms: dict[str, QtWidgets.QFormLayout] = {}
        for group, title in GROUP_TITLES.items():
            box = QtWidgets.QGroupBox(title)
            forms[group] = QtWidgets.QFormLayout(box)
            layout.addWidget(box)
        layout.addStretch(1)
        for field in FIELDS:
            widget, row = self._widget(field)
            widget.setObjectName(field.name)
            widget.setToolTip(field.hint)
            self.widgets[field.name] = widget
            label = "" if field.kind == "bool" else f"{field.label}:"
            forms[field.group].addRow(label, row)
        self.widgets["server"].setPlaceholderText(installed_endpoint(backend_config()))
        self.widgets["server_key_file"].setPlaceholderText("only for a backend on another computer")

        self.problem = QtWidgets.QLabel()
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c0392b")
        self.problem.hide()
        outer.addWidget(self.problem)

        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
            | QtWidgets.QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        restore = buttons.button(QtWidgets.QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(lambda: self.set_options(EditorOptions()))
        copy = buttons.addButton(
            "Copy diagnostics", QtWidgets.QDialogButtonBox.ButtonRole.ActionRole
        )
        copy.setObjectName("copy_diagnostics")
        copy.setToolTip(
            "Versions, the backend's address and what it says, and its last log "
            "lines, ready to paste into a bug report"
        )
        copy.clicked.connect(self.copy_diagnostics)
        outer.addWidget(buttons)

        self.set_options(options)
        for field in FIELDS:
            if field.kind == "choice":
                self.widgets[field.name].currentIndexChanged.connect(self._update_enabled)
        self._update_enabled()
        self.preview = preview(self) if preview is not None else None
        if self.preview is not None:
            columns.addWidget(self.preview, 1)
        if isinstance(self.preview, PreviewPane):  # not the "No preview: …" label
            self._watch_changes(self.preview.changed)
            self.preview.models_known.connect(self.set_models)
            self.finished.connect(self.preview.close_preview)

    def _widget(self, field: Field):
        """(the value widget, what goes in the form row)."""
        if field.kind == "choice":
            combo = QtWidgets.QComboBox()
            for value, label in field.choices.items():
                combo.addItem(label, value)
            return combo, combo
        if field.kind == "number":
            spin = QtWidgets.QDoubleSpinBox()
            spin.setRange(*field.range)
            spin.setSingleStep(field.step)
            spin.setDecimals(field.decimals)
            spin.setSuffix(field.suffix)
            return spin, spin
        if field.kind == "bool":
            check = QtWidgets.QCheckBox(field.label)
            return check, check
        if field.kind == "model":
            models = QtWidgets.QComboBox()
            models.setEditable(True)
            models.lineEdit().setPlaceholderText("the backend's default")
            self.model_card = QtWidgets.QLabel()
            self.model_card.setObjectName("model_card")
            self.model_card.setWordWrap(True)
            self.model_card.hide()
            models.currentTextChanged.connect(self._show_model_card)
            column = QtWidgets.QVBoxLayout()
            column.addWidget(models)
            column.addWidget(self.model_card)
            return models, column
        line = QtWidgets.QLineEdit()
        if field.kind == "text":
            return line, line
        pick = QtWidgets.QToolButton()
        pick.setText("…")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(line)
        row.addWidget(pick)
        if field.kind == "color":
            line.setValidator(
                QtGui.QRegularExpressionValidator(QtCore.QRegularExpression(r"#[0-9a-fA-F]{6}"))
            )
            pick.setToolTip("Choose the line colour")
            pick.clicked.connect(self._pick_color)
        else:
            pick.setToolTip("Choose the file")
            pick.clicked.connect(self._pick_key)
        return line, row

    def _preset_row(self) -> QtWidgets.QHBoxLayout:
        self.preset = QtWidgets.QComboBox()
        self.preset.setObjectName("preset")
        self.preset.setEditable(True)
        self.preset.setToolTip("Choose a saved look, or type a name and press Save")
        self.preset.lineEdit().setPlaceholderText("name a preset…")
        self.preset.addItems(sorted(self.presets))
        self.preset.setCurrentIndex(-1)
        self.preset.activated.connect(self._apply_preset)
        save = QtWidgets.QPushButton("Save")
        save.setObjectName("save_preset")
        save.setToolTip("Keep the Result options under this name")
        save.clicked.connect(self.save_preset)
        delete = QtWidgets.QPushButton("Delete")
        delete.setObjectName("delete_preset")
        delete.clicked.connect(self.delete_preset)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Preset:"))
        row.addWidget(self.preset, 1)
        row.addWidget(save)
        row.addWidget(delete)
        return row

    def _watch_changes(self, slot) -> None:
        for field in FIELDS:
            widget = self.widgets[field.name]
            if field.kind == "choice":
                widget.currentIndexChanged.connect(slot)
            elif field.kind == "number":
                widget.valueChanged.connect(slot)
            elif field.kind == "bool":
                widget.toggled.connect(slot)
            elif field.kind in ("color", "model"):
                signal = widget.currentTextChanged if field.kind == "model" else widget.textChanged
                signal.connect(slot)

    def set_models(self, models: list[dict]) -> None:
        """The backend's models (its `info.models`), once known: offered by name."""
        self.models = {m["name"]: m for m in models if isinstance(m, dict) and "name" in m}
        combo = self.widgets["model"]
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(sorted(self.models))
        combo.setEditText(current)
        combo.blockSignals(False)
        self._show_model_card(current)

    def _show_model_card(self, name: str) -> None:
        name = name.strip()
        entry = self.models.get(name) or next(
            (m for m in self.models.values() if m.get("default")), None
        )
        if entry is None:
            self.model_card.hide()
            return
        self.model_card.setText(model_headline(entry))
        self.model_card.setToolTip(describe_model(entry))  # training data, notes: a hover away
        self.model_card.show()

    # -- presets and diagnostics
    def _apply_preset(self, *_args) -> None:
        preset = self.presets.get(self.preset.currentText())
        if preset is not None:
            self.set_options(with_preset(self.options(), preset))

    def save_preset(self) -> None:
        name = self.preset.currentText().strip()
        if not name:
            return self._say("Type a name for the preset first.")
        self.presets[name] = preset_of(self.options())
        self.preset.clear()
        self.preset.addItems(sorted(self.presets))
        self.preset.setCurrentText(name)
        self._say(f"Saved the preset “{name}”.", problem=False)

    def delete_preset(self) -> None:
        name = self.preset.currentText().strip()
        if self.presets.pop(name, None) is not None:
            self.preset.removeItem(self.preset.findText(name))
            self.preset.setCurrentIndex(-1)
            self._say(f"Deleted the preset “{name}”.", problem=False)

    def copy_diagnostics(self) -> None:
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            options = self.options()
            text = diagnostics.report(
                "Krita plugin", self.editor, options.server, options.server_key_file
            )
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
        QtWidgets.QApplication.clipboard().setText(text)
        self._say(
            f"Diagnostics ({len(text.splitlines())} lines) copied: paste them into your bug "
            "report.",
            problem=False,
        )

    def _say(self, text: str, problem: bool = True) -> None:
        self.problem.setStyleSheet("color: #c0392b" if problem else "")
        self.problem.setText(text)
        self.problem.show()

    # -- options ↔ widgets
    def set_options(self, options: EditorOptions) -> None:
        for field in FIELDS:
            widget = self.widgets[field.name]
            value = getattr(options, field.name)
            if field.kind == "choice":
                widget.setCurrentIndex(widget.findData(value))
            elif field.kind == "number":
                widget.setValue(value)
            elif field.kind == "bool":
                widget.setChecked(value)
            elif field.kind == "model":
                widget.setEditText(value)
            else:
                widget.setText(value)

    def options(self) -> EditorOptions:
        values: dict = {}
        for field in FIELDS:
            widget = self.widgets[field.name]
            if field.kind == "choice":
                values[field.name] = widget.currentData()
            elif field.kind == "number":
                values[field.name] = round(widget.value(), field.decimals)
            elif field.kind == "bool":
                values[field.name] = widget.isChecked()
            elif field.kind == "model":
                values[field.name] = widget.currentText().strip()
            else:
                values[field.name] = widget.text().strip()
        values["line_color"] = values["line_color"].lower()
        return EditorOptions(**values)

    def problems(self) -> list[str]:
        found = []
        if not COLOR_PATTERN.fullmatch(self.widgets["line_color"].text()):
            found.append("The line colour must look like #1a2b3c.")
        server = self.widgets["server"].text().strip()
        if server and not server.startswith(("tcp://", "ipc://")):
            found.append("The address must start with tcp:// (or ipc:// on Linux and macOS).")
        key = self.widgets["server_key_file"].text().strip()
        if key and not Path(key).expanduser().is_file():
            found.append(f"The server key file {key} does not exist.")
        return found

    def accept(self) -> None:
        found = self.problems()
        if found:
            return self._say("\n".join(found))
        super().accept()

    # -- helpers
    def _update_enabled(self, *_args) -> None:
        soft = self.widgets["style"].currentData() == "soft"
        for field in FIELDS:
            if field.enabled_when is not None:
                choice, value = field.enabled_when
                enabled = self.widgets[choice].currentData() == value
                self.widgets[field.name].setEnabled(
                    enabled and not (soft and choice == "threshold")
                )
        self.widgets["threshold"].setEnabled(not soft)

    def _pick_color(self) -> None:
        line = self.widgets["line_color"]
        color = QtWidgets.QColorDialog.getColor(QtGui.QColor(line.text()), self, "Line colour")
        if color.isValid():
            line.setText(color.name())

    def _pick_key(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "The backend's public key (server.key)", "", "Key files (*.key);;All files (*)"
        )
        if path:
            self.widgets["server_key_file"].setText(path)
