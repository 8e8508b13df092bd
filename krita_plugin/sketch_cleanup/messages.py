"""Every message the plugin shows goes through here: one place for titles and parents."""

from __future__ import annotations

import sys

from .qt import QtWidgets, exec_dialog

TITLE = "Sketch Cleanup"


def main_window():
    """The active Krita main window (a QMainWindow), or None."""
    try:
        from krita import Krita

        window = Krita.instance().activeWindow()
        return window.qwindow() if window is not None else None
    except Exception:  # noqa: BLE001 - no window is a normal state while Krita closes
        return None


def _batchmode() -> bool:
    try:
        from krita import Krita

        return bool(Krita.instance().batchmode())
    except Exception:  # noqa: BLE001
        return False


def _box(icon, text: str, details: str | None) -> None:
    if _batchmode():  # scripts driving Krita in batch mode must not be stopped by a box
        print(f"{TITLE}: {text}" + (f"\n{details}" if details else ""), file=sys.stderr)
        return
    box = QtWidgets.QMessageBox(main_window())
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


def floating(text: str, milliseconds: int = 3000) -> None:
    """A short note on the canvas (no click needed), e.g. after a successful clean."""
    try:
        from krita import Krita

        window = Krita.instance().activeWindow()
        view = window.activeView() if window is not None else None
        if view is not None:
            from .qt import QtGui

            view.showFloatingMessage(text, QtGui.QIcon(), milliseconds, 1)
    except Exception:  # noqa: BLE001 - a missing note must never break a finished job
        pass
