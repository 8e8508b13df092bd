"""The options dialog's live preview: before / after of a region, zoom and pan.

It re-runs a short while after any option changes (the kit's Previewer cancels the stale
job) and shows the backend's result for just that region, computed the way the full clean
computes it (docs/protocol.md, "Regions"), so what the artist sees is what Clean Sketch
will put there.
"""

from __future__ import annotations

from collections.abc import Callable

from sketch_kit.local import BackendProcess
from sketch_kit.options import EditorOptions
from sketch_kit.preview import Previewer, Request
from sketch_kit.session import Session

from . import document
from .qt import Qt, QtCore, QtGui, QtWidgets

DEBOUNCE_MS = 350  # typing a width or dragging a spin box sends one request, not twenty
POLL_MS = 60
PREVIEW_FORMAT = "rgba8"  # shown as it comes: QImage reads RGBA8888 directly


def unavailable(reason: str) -> QtWidgets.QLabel:
    """What the preview's place says when there is nothing to preview (no layer open…)."""
    label = QtWidgets.QLabel(f"No preview: {reason}")
    label.setObjectName("preview_status")
    label.setWordWrap(True)
    label.setMaximumWidth(320)
    return label


class ZoomView(QtWidgets.QGraphicsView):
    """Wheel to zoom (about the pointer), drag to pan."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDragMode(QtWidgets.QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QtGui.QBrush(QtGui.QColor("#ffffff")))
        self.setScene(QtWidgets.QGraphicsScene(self))
        self.item = self.scene().addPixmap(QtGui.QPixmap())

    def show_image(self, image: QtGui.QImage) -> None:
        first = self.item.pixmap().isNull()
        self.item.setPixmap(QtGui.QPixmap.fromImage(image))
        self.scene().setSceneRect(QtCore.QRectF(image.rect()))
        if first:
            self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)

    def wheelEvent(self, event):  # noqa: N802 - Qt's name
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.scale(factor, factor)


class PreviewPane(QtWidgets.QWidget):
    """source: the layer and its preview region; options: the dialog's current options.
    models_known carries the backend's `info.models` once it answers."""

    models_known = QtCore.pyqtSignal(list)

    def __init__(
        self,
        source: document.PreviewSource,
        options: Callable[[], EditorOptions],
        process: BackendProcess,
        parent=None,
    ):
        super().__init__(parent)
        self.setObjectName("preview")
        self.source = source
        self.options = options
        self.process = process
        self.previewer: Previewer | None = None
        self.result: tuple[dict, bytes] | None = None  # the newest preview (tests read it)
        self.after: QtGui.QImage | None = None

        self.view = ZoomView(self)
        self.view.setMinimumSize(320, 320)
        self.original = QtWidgets.QCheckBox("Show the sketch")
        self.original.setObjectName("preview_original")
        self.original.setToolTip("Before / after: the sketch as it is, or the clean result")
        self.original.toggled.connect(self._redraw)
        self.status = QtWidgets.QLabel()
        self.status.setObjectName("preview_status")
        self.status.setWordWrap(True)
        x, y, w, h = source.region
        where = "the selection" if source.from_selection else "the middle of the view"
        self.setToolTip(f"{w}×{h} px at ({x}, {y}), from {where}: scroll to zoom, drag to pan")

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.original)
        row.addWidget(self.status, 1)
        layout.addLayout(row)

        self.debounce = QtCore.QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.timeout.connect(self._request)
        self.poller = QtCore.QTimer(self)
        self.poller.timeout.connect(self._poll)
        self.changed()

    @property
    def settled(self) -> bool:
        """A preview of the current options is showing and nothing newer is on its way."""
        previewer = self.previewer
        return (
            self.result is not None
            and not self.debounce.isActive()
            and previewer is not None
            and previewer.pending is None
            and previewer.job is None
        )

    # -- the dialog says an option changed
    def changed(self, *_args) -> None:
        self.status.setText("Preview: waiting for the options to settle…")
        self.debounce.start(DEBOUNCE_MS)

    def close_preview(self) -> None:
        self.poller.stop()
        self.debounce.stop()
        if self.previewer is not None:
            self.previewer.close()
            self.previewer = None

    # -- inside
    def _request(self) -> None:
        try:
            options = self.options()
            wanted = options.clean_options(PREVIEW_FORMAT).replace(vector=None)
        except ValueError as exc:  # an option out of range: say so, keep the last picture
            self.status.setText(f"No preview: {exc}")
            return
        if self.previewer is None:
            session = Session.for_options(options, self.process, "the Backend options below")
            self.previewer = Previewer(session)
        src = self.source
        self.previewer.show(Request(src.data, src.width, src.height, src.fmt, wanted, src.region))
        self.poller.start(POLL_MS)

    def _poll(self) -> None:
        previewer = self.previewer
        if previewer is None:
            return
        had_client = previewer.client is not None
        done = previewer.poll()
        self.status.setText(previewer.status)
        if not had_client and previewer.client is not None:
            self.models_known.emit(list(previewer.info.get("models", [])))
        if previewer.error is not None:
            self.poller.stop()
            previewer.close()
            self.previewer = None  # the next change tries again
            return
        if done is None:
            return
        header, pixels = done
        self.result = done
        w, h = header["width"], header["height"]
        self.after = QtGui.QImage(pixels, w, h, 4 * w, QtGui.QImage.Format.Format_RGBA8888).copy()
        exact = "" if header.get("exact", True) else " (automatic threshold: may differ slightly)"
        self.status.setText(f"Preview: {w}×{h} px{exact}")
        self._redraw()

    def _redraw(self, *_args) -> None:
        if self.original.isChecked():
            self.view.show_image(self.source.before)
        elif self.after is not None:
            self.view.show_image(self.after)
