"""Qt for Krita 5 (PyQt5) and Krita 6 (PyQt6): the plugin imports Qt only from here.

Scoped enums (``Qt.WindowModality.WindowModal``) work in both PyQt5 5.15 and PyQt6, so the
plugin writes them that way; `exec_dialog` hides the exec_/exec rename.
"""

try:
    from PyQt5 import QtCore, QtGui, QtWidgets

    QT_API = "PyQt5"
except ImportError:  # Krita 6
    from PyQt6 import QtCore, QtGui, QtWidgets

    QT_API = "PyQt6"

Qt = QtCore.Qt


def exec_dialog(dialog) -> int:
    """Run a modal dialog (QDialog.exec in PyQt6, exec_ in old PyQt5)."""
    run = getattr(dialog, "exec", None) or dialog.exec_
    return run()


__all__ = ["QT_API", "Qt", "QtCore", "QtGui", "QtWidgets", "exec_dialog"]
