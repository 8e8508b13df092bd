"""The "Clean Sketch Options…" dialog: output, detail and the backend's address."""

from __future__ import annotations

from pathlib import Path

from . import settings
from .qt import QtCore, QtGui, QtWidgets

STYLE_LABELS = {
    "transparent": "Lines on a transparent layer",
    "white": "Lines on white",
    "soft": "Soft gray on white (no threshold)",
}
THRESHOLD_LABELS = {
    "otsu": "Automatic (Otsu)",
    "mean": "Darker than average (original method)",
    "none": "None: soft, anti-aliased lines",
    "fixed": "Fixed level",
}
SCALE_LABELS = {
    "auto": "Automatic (measures the stroke width)",
    "factor": "Fixed factor",
}
LINE_WEIGHT_LABELS = {
    "model": "As the model draws them",
    "auto": "Automatic (one pencil pass wide)",
    "width": "Fixed width",
}


def _combo(name: str, labels: dict, current: str) -> QtWidgets.QComboBox:
    combo = QtWidgets.QComboBox()
    combo.setObjectName(name)
    for key, label in labels.items():
        combo.addItem(label, key)
    combo.setCurrentIndex(list(labels).index(current))
    return combo


class OptionsDialog(QtWidgets.QDialog):
    """Edits a copy of the options; `options()` returns the result after accept."""

    def __init__(self, options: settings.Options, default_endpoint: str, parent=None):
        super().__init__(parent)
        self.setObjectName("sketch_cleanup_options")
        self.setWindowTitle("Clean Sketch Options")
        self._default_endpoint = default_endpoint

        self.style = _combo("style", STYLE_LABELS, options.style)
        self.color = QtWidgets.QLineEdit(options.color)
        self.color.setObjectName("color")
        self.color.setValidator(
            QtGui.QRegularExpressionValidator(QtCore.QRegularExpression(r"#[0-9a-fA-F]{6}"))
        )
        self.color.setToolTip("Line colour as #rrggbb")
        pick = QtWidgets.QToolButton()
        pick.setText("…")
        pick.setToolTip("Choose the line colour")
        pick.clicked.connect(self._pick_color)
        color_row = QtWidgets.QHBoxLayout()
        color_row.addWidget(self.color)
        color_row.addWidget(pick)

        self.threshold = _combo("threshold", THRESHOLD_LABELS, options.threshold)
        self.level = QtWidgets.QDoubleSpinBox()
        self.level.setObjectName("level")
        self.level.setRange(*settings.LEVEL_RANGE)
        self.level.setSingleStep(0.05)
        self.level.setDecimals(2)
        self.level.setValue(options.level)
        self.level.setToolTip("Network output below this level becomes line (0-1)")

        self.scale = _combo("scale", SCALE_LABELS, options.scale)
        self.factor = QtWidgets.QDoubleSpinBox()
        self.factor.setObjectName("factor")
        self.factor.setRange(*settings.FACTOR_RANGE)
        self.factor.setSingleStep(0.1)
        self.factor.setDecimals(2)
        self.factor.setValue(options.factor)
        self.factor.setToolTip(
            "Working resolution relative to the layer: larger keeps finer detail, smaller "
            "merges close strokes"
        )

        self.line_weight = _combo("line_weight", LINE_WEIGHT_LABELS, options.line_weight)
        self.line_weight.setToolTip(
            "Redraw every line at one even width around its centre line; automatic inks "
            "one pencil pass of the sketch's main stroke (1-4 px)"
        )
        self.line_width = QtWidgets.QDoubleSpinBox()
        self.line_width.setObjectName("line_width")
        self.line_width.setRange(*settings.LINE_WIDTH_RANGE)
        self.line_width.setSingleStep(0.5)
        self.line_width.setDecimals(1)
        self.line_width.setSuffix(" px")
        self.line_width.setValue(options.line_width)
        self.line_width.setToolTip("Width of every line, in pixels of the layer")

        output = QtWidgets.QGroupBox("Result")
        form = QtWidgets.QFormLayout(output)
        form.addRow("Style:", self.style)
        form.addRow("Line colour:", color_row)
        form.addRow("Threshold:", self.threshold)
        form.addRow("Level:", self.level)
        form.addRow("Detail:", self.scale)
        form.addRow("Factor:", self.factor)
        form.addRow("Line weight:", self.line_weight)
        form.addRow("Width:", self.line_width)

        self.endpoint = QtWidgets.QLineEdit(options.endpoint)
        self.endpoint.setObjectName("endpoint")
        self.endpoint.setPlaceholderText(default_endpoint)
        self.endpoint.setToolTip(
            "Empty: the backend install.py set up. For another computer: tcp://host:5571 "
            "(it needs its public key below)"
        )
        self.server_key = QtWidgets.QLineEdit(options.server_key_file)
        self.server_key.setObjectName("server_key_file")
        self.server_key.setPlaceholderText("only for a backend on another computer")
        browse = QtWidgets.QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._pick_key)
        key_row = QtWidgets.QHBoxLayout()
        key_row.addWidget(self.server_key)
        key_row.addWidget(browse)
        self.autostart = QtWidgets.QCheckBox("Start the local backend when none is running")
        self.autostart.setObjectName("autostart")
        self.autostart.setChecked(options.autostart)
        self.timeout = QtWidgets.QDoubleSpinBox()
        self.timeout.setObjectName("timeout_minutes")
        self.timeout.setRange(1, 24 * 60)
        self.timeout.setDecimals(0)
        self.timeout.setSuffix(" min")
        self.timeout.setValue(options.timeout_minutes)

        server = QtWidgets.QGroupBox("Backend")
        form = QtWidgets.QFormLayout(server)
        form.addRow("Address:", self.endpoint)
        form.addRow("Server public key:", key_row)
        form.addRow("", self.autostart)
        form.addRow("Give up after:", self.timeout)

        self.problem = QtWidgets.QLabel()
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c0392b")
        self.problem.hide()

        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
            | QtWidgets.QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self._restore_defaults
        )

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(output)
        layout.addWidget(server)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

        self.threshold.currentIndexChanged.connect(self._update_enabled)
        self.scale.currentIndexChanged.connect(self._update_enabled)
        self.line_weight.currentIndexChanged.connect(self._update_enabled)
        self.style.currentIndexChanged.connect(self._update_enabled)
        self._update_enabled()

    # -- widgets → options
    def options(self) -> settings.Options:
        return settings.Options(
            style=self.style.currentData(),
            color=self.color.text().lower(),
            threshold=self.threshold.currentData(),
            level=round(self.level.value(), 2),
            scale=self.scale.currentData(),
            factor=round(self.factor.value(), 2),
            line_weight=self.line_weight.currentData(),
            line_width=round(self.line_width.value(), 1),
            endpoint=self.endpoint.text().strip(),
            server_key_file=self.server_key.text().strip(),
            autostart=self.autostart.isChecked(),
            timeout_minutes=self.timeout.value(),
        )

    def problems(self) -> list[str]:
        found = []
        if not settings._COLOR.match(self.color.text()):
            found.append("The line colour must look like #1a2b3c.")
        endpoint = self.endpoint.text().strip()
        if endpoint and not endpoint.startswith(("tcp://", "ipc://")):
            found.append("The address must start with tcp:// (or ipc:// on Linux and macOS).")
        key = self.server_key.text().strip()
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
    def _update_enabled(self) -> None:
        self.factor.setEnabled(self.scale.currentData() == "factor")
        self.line_width.setEnabled(self.line_weight.currentData() == "width")
        self.threshold.setEnabled(self.style.currentData() != "soft")
        self.level.setEnabled(
            self.threshold.currentData() == "fixed" and self.style.currentData() != "soft"
        )

    def _restore_defaults(self) -> None:
        default = settings.Options()
        for combo, value, labels in (
            (self.style, default.style, STYLE_LABELS),
            (self.threshold, default.threshold, THRESHOLD_LABELS),
            (self.scale, default.scale, SCALE_LABELS),
            (self.line_weight, default.line_weight, LINE_WEIGHT_LABELS),
        ):
            combo.setCurrentIndex(list(labels).index(value))
        self.color.setText(default.color)
        self.level.setValue(default.level)
        self.factor.setValue(default.factor)
        self.line_width.setValue(default.line_width)
        self.endpoint.setText(default.endpoint)
        self.server_key.setText(default.server_key_file)
        self.autostart.setChecked(default.autostart)
        self.timeout.setValue(default.timeout_minutes)

    def _pick_color(self) -> None:
        color = QtWidgets.QColorDialog.getColor(
            QtGui.QColor(self.color.text()), self, "Line colour"
        )
        if color.isValid():
            self.color.setText(color.name())

    def _pick_key(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "The backend's public key (server.key)", "", "Key files (*.key);;All files (*)"
        )
        if path:
            self.server_key.setText(path)
