"""The "Clean Sketch Options…" dialog, built from the kit's table of options."""

from __future__ import annotations

from pathlib import Path

from sketch_kit.local import backend_config, installed_endpoint
from sketch_kit.options import FIELDS, EditorOptions, Field
from sketch_kit.protocol import COLOR_PATTERN

from .qt import QtCore, QtGui, QtWidgets

GROUP_TITLES = {"result": "Result", "backend": "Backend"}


class OptionsDialog(QtWidgets.QDialog):
    """Edits a copy of the options; `options()` returns the result after accept.

    Every widget is named after its option (tests and the harness find them by name)."""

    def __init__(self, options: EditorOptions, parent=None):
        super().__init__(parent)
        self.setObjectName("sketch_cleanup_options")
        self.setWindowTitle("Clean Sketch Options")
        self.widgets: dict[str, QtWidgets.QWidget] = {}
        layout = QtWidgets.QVBoxLayout(self)
        forms: dict[str, QtWidgets.QFormLayout] = {}
        for group, title in GROUP_TITLES.items():
            box = QtWidgets.QGroupBox(title)
            forms[group] = QtWidgets.QFormLayout(box)
            layout.addWidget(box)
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
        layout.addWidget(self.problem)

        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
            | QtWidgets.QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        restore = buttons.button(QtWidgets.QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(lambda: self.set_options(EditorOptions()))
        layout.addWidget(buttons)

        self.set_options(options)
        for field in FIELDS:
            if field.kind == "choice":
                self.widgets[field.name].currentIndexChanged.connect(self._update_enabled)
        self._update_enabled()

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
            self.problem.setText("\n".join(found))
            self.problem.show()
            return
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
