"""Clean Sketch on Krita's GUI thread: a progress dialog driving one kit Session.

Nothing here waits for long: the client's socket is watched by a QSocketNotifier
(ZeroMQ's edge-triggered FD) plus a QTimer that steps the session, so Krita stays
responsive and Cancel always works. The session decides; this module only shows.
"""

from __future__ import annotations

import functools
import time
import traceback

from sketch_kit.local import BackendProcess
from sketch_kit.options import EditorOptions
from sketch_kit.session import Session, State

from . import document, messages
from .qt import Qt, QtCore, QtWidgets, exec_dialog

SETTINGS_PLACE = "Filter ▸ Clean Sketch Options…"
TICK_MS = {State.CONNECTING: 100, State.STARTING: 400, State.RUNNING: 250}


def guarded(method):
    """For slots Qt calls (timers, notifier, buttons): an unexpected exception ends the run
    with a clear message instead of Krita's exception dialog once per timer tick."""

    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except Exception as exc:  # noqa: BLE001 - reported to the artist, with the traceback
            self.crashed(f"Sketch Cleanup failed unexpectedly: {exc}", traceback.format_exc())

    return wrapper


class Controller(QtCore.QObject):
    """One per Krita session: runs at most one clean at a time, owns the started backend."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.process = BackendProcess("Krita")
        self.history: list[dict] = []  # one record per click: tests and bug reports read it
        self.run: Run | None = None

    @guarded
    def clean(self, *_args) -> None:
        if self.run is not None:
            messages.info("A sketch is already being cleaned: wait for it or cancel it first.")
            return
        try:
            source = document.read_source()
        except document.Refusal as exc:
            self.record("refused", str(exc))
            messages.error(str(exc))
            return
        self.run = Run(self, source, document.load_options())
        self.run.start()

    @guarded
    def open_options(self, *_args) -> None:
        from .dialogs import OptionsDialog
        from .preview import PreviewPane, unavailable

        try:
            source = document.preview_source()
            reason = ""
        except document.Refusal as exc:
            source, reason = None, str(exc)

        def preview(dialog):
            if source is None:
                return unavailable(reason)
            return PreviewPane(source, dialog.options, self.process, dialog)

        dialog = OptionsDialog(
            document.load_options(),
            document.load_named_presets(),
            document.editor_version(),
            document.main_window(),
            preview,
        )
        accepted = exec_dialog(dialog)
        document.save_named_presets(dialog.presets)  # saved or deleted, even on Cancel
        if accepted:
            document.save_options(dialog.options())

    def shutdown(self, *_args) -> None:
        """Krita is closing: cancel a running job and stop the backend this plugin started."""
        if self.run is not None:
            self.run.cancel()
        self.process.stop()

    def crashed(self, message: str, details: str) -> None:
        if self.run is not None:
            self.run.crashed(message, details)
        else:
            messages.error(message, details)

    def record(self, outcome: str, message: str = "", **extra) -> dict:
        entry = {"outcome": outcome, "message": message, "time": time.time(), **extra}
        self.history.append(entry)
        return entry

    def finished(self, run: Run) -> None:
        if self.run is run:
            self.run = None


class Run(QtCore.QObject):
    """One Clean Sketch: the session, its progress dialog, and the result layer."""

    def __init__(self, controller: Controller, source: document.Source, options: EditorOptions):
        super().__init__(controller)
        self.controller = controller
        self.source = source
        self.options = options
        self.began = time.monotonic()
        self.session = Session(
            options.server,
            key_file=options.server_key_file,
            autostart=options.autostart,
            job_timeout=options.timeout_minutes * 60,
            idle_exit=options.idle_exit_minutes * 60,
            process=controller.process,
            settings_place=SETTINGS_PLACE,
        )
        self.session.name = source.name
        self.notifier: QtCore.QSocketNotifier | None = None
        self.ended = False
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.step)

        dialog = QtWidgets.QProgressDialog(
            self.session.status, "Cancel", 0, 100, document.main_window()
        )
        dialog.setObjectName("sketch_cleanup_progress")
        dialog.setWindowTitle("Clean Sketch")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setValue(0)
        dialog.canceled.connect(self.cancel)
        self.dialog = dialog

    @property
    def state(self) -> str:
        """connecting, starting, ready, running or done (the test harness reads it)."""
        return self.session.state.value

    def start(self) -> None:
        self.dialog.show()
        self.session.start()
        self.timer.start(TICK_MS[State.CONNECTING])
        QtCore.QTimer.singleShot(0, self.step)  # let the progress dialog paint first

    @guarded
    def step(self, *_args) -> None:
        if self.ended:
            return
        session = self.session
        before = session.state
        session.step()
        if session.state is State.READY:
            src = self.source
            session.submit(src.data, src.rect[2], src.rect[3], src.fmt, self.clean_options())
            if session.state is State.RUNNING:
                self.watch_socket()
        if session.done:
            return self.finish()
        if session.state is not before and session.state in TICK_MS:
            self.timer.start(TICK_MS[session.state])
        self.show_progress()

    def clean_options(self):
        return self.options.clean_options(self.source.fmt)

    def watch_socket(self) -> None:
        client = self.session.client
        assert client is not None
        self.notifier = QtCore.QSocketNotifier(client.fd, QtCore.QSocketNotifier.Type.Read, self)
        self.notifier.activated.connect(self.step)

    def show_progress(self) -> None:
        fraction = self.session.fraction
        if fraction is None:
            self.dialog.setRange(0, 0)  # busy indicator
        else:
            self.dialog.setRange(0, 100)
            self.dialog.setValue(int(100 * fraction))
        if self.dialog.labelText() != self.session.status:
            self.dialog.setLabelText(self.session.status)

    def finish(self) -> None:
        # Krita runs nested event loops inside some API calls (refreshProjection waits for
        # the image), where the timer or the socket notifier could step again: stop them
        # first so the result is applied exactly once.
        self.stop_watching()
        session = self.session
        if session.outcome != "ok":
            return self.end()
        assert session.result is not None
        header, data = session.result
        try:
            if session.svg is not None:
                layer = document.add_vector_layer(self.source, session.svg)
            else:
                layer = document.add_result_layer(self.source, header, data)
        except document.Refusal as exc:
            session.fail(str(exc))
            return self.end()
        except Exception as exc:  # noqa: BLE001 - Krita API failures must reach the artist
            session.fail(f"Could not add the result layer: {exc}")
            return self.end()
        seconds = time.monotonic() - self.began
        session.message = f"Cleaned “{self.source.name}” in {seconds:.1f} s"
        self.end(
            layer=layer,
            backend_seconds=header.get("seconds"),
            scale=header.get("scale"),
            line_width=header.get("line_width"),
            model=header.get("model"),
        )
        document.floating_message(f"Clean Sketch: done in {seconds:.1f} s")

    @guarded
    def cancel(self, *_args) -> None:
        if self.ended or self.session.done:  # too late: the result is going in
            return
        self.session.cancel()
        self.finish()

    def crashed(self, message: str, details: str) -> None:
        if not self.ended:
            self.stop_watching()
            self.session.fail(message, details)
            self.end()

    def stop_watching(self) -> None:
        self.timer.stop()
        if self.notifier is not None:
            self.notifier.setEnabled(False)

    def end(self, **extra) -> None:
        if self.ended:
            return
        self.ended = True
        self.stop_watching()
        try:
            self.dialog.canceled.disconnect(self.cancel)
        except TypeError:
            pass
        self.dialog.hide()
        self.dialog.deleteLater()
        session = self.session
        self.controller.record(
            session.outcome or "error",
            session.message,
            source=self.source.name,
            format=self.source.fmt,
            started_backend=session.started_backend,
            backend_pid=self.controller.process.pid,
            details=session.details,
            **extra,
        )
        self.controller.finished(self)
        if session.outcome == "error":
            messages.error(session.message, session.details)
