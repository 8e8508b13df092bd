"""Every message the plugin shows goes through here: one place for titles and parents."""

from __future__ import annotations

import sys

from . import document
from .qt import QtWidgets, exec_dialog

TITLE = "Sketch Cleanup"


def _box(icon, text: str, details: str | None) -> None:
    if document.batch_mode():  # scripts driving Krita in batch mode must not be stopped
        print(f"{TITLE}: {text}" + (f"\n{details}" if details else ""), file=sys.stderr)
        return
    box = QtWidgets.QMessageBox(document.main_window())
    box.setIcon(icon)
    box.setWindowTitle(TITLE)
    box.setText(text)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Ok)
    box.setObjectName("sketch_cleanup_message")
    exec_dialog(box)


def error(text: str, details: str | None = None) -> None:
    """A clear, modal error box: something failed and nothing was changed."""
    _box(QtWidgets.QMessageBox.Icon.Warning, text, details)


def info(text: str, details: str | None = None) -> None:
    _box(QtWidgets.QMessageBox.Icon.Information, text, details)
