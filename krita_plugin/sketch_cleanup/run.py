"""Clean Sketch on Krita's GUI thread: a progress dialog driving kit Sessions.

Nothing here waits for long: the running job's socket is watched by a QSocketNotifier
(ZeroMQ's edge-triggered FD) plus a QTimer that steps the work, so Krita stays responsive
and Cancel always works. The kit decides; this module only shows. `Run` is one Clean
Sketch; keyframes.py's `ClipRun` cleans every keyframe of an animated layer.
"""

from __future__ import annotations

import functools
import sys
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
        self.run: Job | None = None

    @guarded
    def clean(self, *_args) -> None:
        self.begin(lambda: Run(self, document.read_source(), document.load_options()))

    @guarded
    def clean_keyframes(self, *_args) -> None:
        from .keyframes import ClipRun

        self.begin(lambda: ClipRun(self, document.read_clip(), document.load_options()))

    def begin(self, make) -> None:
        """Start the run `make` returns, unless one runs or the layer is refused."""
        if self.run is not None:
            messages.info("A sketch is already being cleaned: wait for it or cancel it first.")
            return
        try:
            run = make()
        except document.Refusal as exc:
            self.record("refused", str(exc))
            messages.error(str(exc))
            return
        self.run = run
        run.start()

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

    def finished(self, run: Job) -> None:
        if self.run is run:
            self.run = None


def new_session(controller: Controller, options: EditorOptions, name: str) -> Session:
    """A kit Session with the artist's backend settings and the plugin's one backend process."""
    return Session.for_options(options, controller.process, SETTINGS_PLACE, name)


class Job(QtCore.QObject):
    """A progress dialog driving kit work from a timer: one Session (`Run`) or a whole clip
    of them (`keyframes.ClipRun`). `work` is that Session or Clip; subclasses say how to
    advance it, what to do with its result, and what to record."""

    def __init__(self, controller: Controller, name: str, options: EditorOptions):
        super().__init__(controller)
        self.controller = controller
        self.name = name
        self.options = options
        self.began = time.monotonic()
        self.notifier: QtCore.QSocketNotifier | None = None
        self.watched = None  # the client whose socket the notifier watches
        self.ended = False
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.step)

        dialog = QtWidgets.QProgressDialog(
            self.work.status, "Cancel", 0, 100, document.main_window()
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

    # -- what subclasses provide
    @property
    def work(self):
        raise NotImplementedError

    def advance(self) -> None:
        """Step the work once (from the timer or the socket notifier)."""
        raise NotImplementedError

    def tick_ms(self) -> int | None:
        """How often to step now; None keeps the timer as it is."""
        return None

    def apply(self) -> dict:
        """Put the finished work into the image; returns what to record."""
        raise NotImplementedError

    def discard(self) -> None:
        """The work ended without a result: undo anything half made."""

    def record_extra(self) -> dict:
        return {}

    def running_client(self):
        """The client of the job the backend runs now (its socket is watched), or None."""
        return None

    # -- driving
    def start(self) -> None:
        self.dialog.show()
        self.work.start()
        self.timer.start(self.tick_ms() or TICK_MS[State.CONNECTING])
        QtCore.QTimer.singleShot(0, self.step)  # let the progress dialog paint first

    @guarded
    def step(self, *_args) -> None:
        if self.ended:
            return
        self.advance()
        if self.work.done:
            return self.finish()
        tick = self.tick_ms()
        if tick is not None and tick != self.timer.interval():
            self.timer.start(tick)
        self.watch_socket()
        self.show_progress()

    def watch_socket(self) -> None:
        """Step as soon as the running job's backend answers: one notifier per job, let go
        as soon as its client closes (a clip runs one job after another)."""
        client = self.running_client()
        if client is self.watched:
            return
        if self.notifier is not None:
            self.notifier.setEnabled(False)
            self.notifier.deleteLater()
            self.notifier = None
        self.watched = client
        if client is not None:
            self.notifier = QtCore.QSocketNotifier(
                client.fd, QtCore.QSocketNotifier.Type.Read, self
            )
            self.notifier.activated.connect(self.step)

    def show_progress(self) -> None:
        fraction = self.work.fraction
        if fraction is None:
            self.dialog.setRange(0, 0)  # busy indicator
        else:
            self.dialog.setRange(0, 100)
            self.dialog.setValue(int(100 * fraction))
        if self.dialog.labelText() != self.work.status:
            self.dialog.setLabelText(self.work.status)

    def finish(self) -> None:
        # Krita runs nested event loops inside some API calls (refreshProjection waits for
        # the image), where the timer or the socket notifier could step again: stop them
        # first so the result is applied exactly once.
        self.stop_watching()
        work = self.work
        if work.outcome != "ok":
            return self.end()
        try:
            extra = self.apply()
        except document.Refusal as exc:
            work.fail(str(exc))
            return self.end()
        except Exception as exc:  # noqa: BLE001 - Krita API failures must reach the artist
            work.fail(f"Could not add the result layer: {exc}")
            return self.end()
        self.end(**extra)

    @guarded
    def cancel(self, *_args) -> None:
        if self.ended or self.work.done:  # too late: the result is going in
            return
        self.work.cancel()
        self.finish()

    def crashed(self, message: str, details: str) -> None:
        if not self.ended:
            self.stop_watching()
            self.work.fail(message, details)
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
        work = self.work
        if work.outcome != "ok":
            try:
                self.discard()
            except Exception as exc:  # noqa: BLE001 - the run's own message matters more
                print(f"Sketch Cleanup: could not tidy up: {exc}", file=sys.stderr)
        try:
            self.dialog.canceled.disconnect(self.cancel)
        except TypeError:
            pass
        self.dialog.hide()
        self.dialog.deleteLater()
        self.controller.record(
            work.outcome or "error",
            work.message,
            source=self.name,
            started_backend=work.started_backend,
            backend_pid=self.controller.process.pid,
            details=work.details,
            **self.record_extra(),
            **extra,
        )
        self.controller.finished(self)
        if work.outcome == "error":
            messages.error(work.message, work.details)


class Run(Job):
    """One Clean Sketch: the session, its progress dialog, and the result layer."""

    def __init__(self, controller: Controller, source: document.Source, options: EditorOptions):
        self.source = source
        self.session = new_session(controller, options, source.name)
        super().__init__(controller, source.name, options)

    @property
    def work(self):
        return self.session

    @property
    def state(self) -> str:
        """connecting, starting, ready, running or done (the test harness reads it)."""
        return self.session.state.value

    def tick_ms(self) -> int | None:
        return TICK_MS.get(self.session.state)

    def running_client(self):
        return self.session.client if self.session.state is State.RUNNING else None

    def advance(self) -> None:
        session = self.session
        session.step()
        if session.state is State.READY:
            src = self.source
            session.submit(src.data, src.rect[2], src.rect[3], src.fmt, self.clean_options())

    def clean_options(self):
        return self.options.clean_options(self.source.fmt)

    def record_extra(self) -> dict:
        return {"format": self.source.fmt}

    def apply(self) -> dict:
        session = self.session
        assert session.result is not None
        header, data = session.result
        if session.svg is not None:
            layer = document.add_vector_layer(self.source, session.svg)
        else:
            layer = document.add_result_layer(self.source, header, data)
        seconds = time.monotonic() - self.began
        session.message = f"Cleaned “{self.source.name}” in {seconds:.1f} s"
        document.floating_message(f"Clean Sketch: done in {seconds:.1f} s")
        return {
            "layer": layer,
            "backend_seconds": header.get("seconds"),
            "scale": header.get("scale"),
            "line_width": header.get("line_width"),
            "model": header.get("model"),
        }
