"""The Krita extension: two actions in the Filter menu, and clean-up when Krita exits."""

from __future__ import annotations

import atexit

from krita import Extension

from . import document
from .qt import QtWidgets
from .run import Controller

CLEAN_ACTION = "sketch_cleanup_clean"
KEYFRAMES_ACTION = "sketch_cleanup_clean_keyframes"
OPTIONS_ACTION = "sketch_cleanup_options"


class SketchCleanupExtension(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.controller = Controller()

    def setup(self) -> None:
        shutdown = self.controller.shutdown
        app = QtWidgets.QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(shutdown)
        document.on_application_closing(shutdown)
        atexit.register(shutdown)

    def createActions(self, window) -> None:
        # Text and the default shortcut (Ctrl+Alt+K) also come from sketch_cleanup.action,
        # which makes them show up, rebindable, in Settings ▸ Configure Krita ▸ Shortcuts.
        clean = window.createAction(CLEAN_ACTION, "Clean Sketch", "filter")
        clean.setToolTip("Turn the active sketch layer into clean line art on a new layer")
        clean.triggered.connect(self.controller.clean)
        keyframes = window.createAction(KEYFRAMES_ACTION, "Clean Sketch: All Keyframes", "filter")
        keyframes.setToolTip(
            "Clean every keyframe of the active animated layer onto a new animated layer"
        )
        keyframes.triggered.connect(self.controller.clean_keyframes)
        options = window.createAction(OPTIONS_ACTION, "Clean Sketch Options…", "filter")
        options.setToolTip("Line style, threshold, detail and the Sketch Cleanup backend")
        options.triggered.connect(self.controller.open_options)
