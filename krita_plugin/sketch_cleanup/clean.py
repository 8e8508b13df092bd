"""Clean Sketch: read the active layer, send it, follow the job, add the result layer.

Everything runs on Krita's GUI thread and nothing waits for long: the socket is watched by a
QSocketNotifier (ZeroMQ's edge-triggered FD) plus a QTimer that also checks for stalls,
timeouts and a dead backend process, so Krita stays responsive and Cancel always works.
"""

from __future__ import annotations

import functools
import time
import traceback
from dataclasses import dataclass

from . import messages, pixels, settings
from .launcher import Launcher, LaunchError, describe_command
from .qt import Qt, QtCore, QtWidgets, exec_dialog
from .settings import is_local, load_server_key

try:
    from . import sketch_client
except ImportError:  # the repository's plugin folder: install.py copies sketch_client.py in
    sketch_client = None

RESULT_LAYER = "Clean Sketch"
START_TIMEOUT_S = 180.0  # TensorFlow and the model load in 5-60 s; a cold disk is slower
# Krita's event loop runs between probes; one probe blocks it at most this long.
PROBE_TIMEOUT_S = 0.15
REMOTE_PROBE_TIMEOUT_S = 0.75  # a remote backend needs a CURVE handshake over the network
CONNECT_WAIT_S = 1.2  # how long to look for a running local backend before starting one
REMOTE_CONNECT_WAIT_S = 6.0
STAGES = {
    "sent": "Sending",
    "queued": "Waiting for the backend",
    "preprocess": "Preparing",
    "inference": "Cleaning",
    "postprocess": "Finishing",
}
NODE_KINDS = {
    "grouplayer": "a group layer",
    "vectorlayer": "a vector layer",
    "filelayer": "a file layer",
    "clonelayer": "a clone layer",
    "filllayer": "a fill layer",
    "filterlayer": "a filter layer",
    "transparencymask": "a transparency mask",
    "filtermask": "a filter mask",
    "transformmask": "a transform mask",
    "selectionmask": "a selection mask",
    "colorizemask": "a colorize mask",
}


class Refusal(Exception):
    """The action cannot run on what is selected; the message tells the artist why."""


@dataclass
class Source:
    doc: object
    node: object
    name: str
    fmt: str
    rect: tuple[int, int, int, int]
    data: bytes
    mask: bytes | None


def read_source(app) -> Source:
    """The active paint layer's pixels (the selection's bounding box when there is one)."""
    doc = app.activeDocument()
    if doc is None:
        raise Refusal("Open an image first: Clean Sketch works on the active paint layer.")
    node = doc.activeNode()
    if node is None:
        raise Refusal("Select the paint layer that holds the sketch, then try again.")
    name = node.name()
    kind = node.type()
    if kind != "paintlayer":
        what = NODE_KINDS.get(kind, "not a paint layer")
        if kind == "grouplayer":
            hint = (
                "Select the paint layer with the sketch inside the group, or merge the group "
                "into one layer first (Layer ▸ Merge with Layer Below, or Flatten Layer)."
            )
        elif kind.endswith("mask"):
            hint = "Select the paint layer itself, not its mask."
        else:
            hint = (
                "Convert it to a paint layer first (Layer ▸ Convert ▸ to Paint Layer), or "
                "select the paint layer that holds the sketch."
            )
        raise Refusal(f"“{name}” is {what}: Clean Sketch works on paint layers only. {hint}")
    try:
        fmt = pixels.format_for(node.colorModel(), node.colorDepth())
    except pixels.Unsupported as exc:
        raise Refusal(f"Cannot clean “{name}”: {exc}") from None

    canvas = (0, 0, doc.width(), doc.height())
    selection = doc.selection()
    mask = None
    if selection is not None and selection.width() > 0 and selection.height() > 0:
        box = (selection.x(), selection.y(), selection.width(), selection.height())
        rect = pixels.intersect(box, canvas)
        if rect[2] == 0 or rect[3] == 0:
            raise Refusal("The selection lies outside the canvas: nothing to clean.")
        mask = bytes(selection.pixelData(*rect))
        if not mask.strip(b"\0"):
            raise Refusal("The selection is empty: select the area to clean, or deselect all.")
    else:
        rect = canvas
    data = bytes(node.pixelData(*rect))
    bpp = pixels.layout(fmt)[0]
    if len(data) != rect[2] * rect[3] * bpp:
        raise Refusal(f"Krita returned {len(data)} bytes for “{name}”; expected {fmt} pixels.")
    visible = pixels.mask_alpha(data, fmt, mask) if mask is not None else data
    if not pixels.has_visible_pixels(visible, fmt):
        where = " inside the selection" if mask is not None else ""
        raise Refusal(f"“{name}” is empty{where} (fully transparent): nothing to clean.")
    return Source(doc, node, name, fmt, rect, data, mask)


def _same_document(a, b) -> bool:
    try:
        return a == b
    except Exception:  # noqa: BLE001 - bindings without == fall back to identity of file
        return a.fileName() == b.fileName() and a.name() == b.name()


def guarded(method):
    """For slots Qt calls (timers, notifier, buttons): an unexpected exception ends the run
    with a clear message instead of Krita's exception dialog once per timer tick."""

    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except Exception as exc:  # noqa: BLE001 - reported to the artist, with the traceback
            if isinstance(self, Run) and self.state not in ("done",):
                self.fail(f"Sketch Cleanup failed unexpectedly: {exc}", traceback.format_exc())
            else:
                messages.error(f"Sketch Cleanup failed unexpectedly: {exc}", traceback.format_exc())

    return wrapper


class Controller(QtCore.QObject):
    """One per Krita session: runs at most one clean at a time, owns the started backend."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.launcher = Launcher()
        self.history: list[dict] = []  # one record per click: tests and bug reports read it
        self.run: Run | None = None

    # -- actions
    @guarded
    def clean(self, *_args) -> None:
        if self.run is not None:
            messages.info("A sketch is already being cleaned: wait for it or cancel it first.")
            return
        from krita import Krita

        try:
            if sketch_client is None:
                raise Refusal(
                    "The plugin is incomplete (sketch_client.py is missing): install it with "
                    "install.py rather than copying the folder by hand."
                )
            source = read_source(Krita.instance())
        except Refusal as exc:
            self.record("refused", str(exc))
            messages.error(str(exc))
            return
        options = settings.load()
        self.run = Run(self, source, options)
        self.run.start()

    @guarded
    def open_options(self, *_args) -> None:
        from .dialogs import OptionsDialog

        dialog = OptionsDialog(settings.load(), self.default_endpoint(), messages.main_window())
        if exec_dialog(dialog):
            settings.save(dialog.options())

    def default_endpoint(self) -> str:
        config = sketch_client.backend_config() if sketch_client else None
        default = sketch_client.DEFAULT_ENDPOINT if sketch_client else "tcp://127.0.0.1:5571"
        return (config or {}).get("endpoint") or default

    def shutdown(self, *_args) -> None:
        """Krita is closing: cancel a running job and stop the backend this plugin started."""
        if self.run is not None:
            self.run.cancel()
        self.launcher.stop()

    # -- bookkeeping
    def record(self, outcome: str, message: str = "", **extra) -> dict:
        entry = {"outcome": outcome, "message": message, "time": time.time(), **extra}
        self.history.append(entry)
        return entry

    def finished(self, run: Run) -> None:
        if self.run is run:
            self.run = None


class Run(QtCore.QObject):
    """One Clean Sketch from "connecting" through "starting"/"running" to "done"."""

    def __init__(self, controller: Controller, source: Source, options: settings.Options):
        super().__init__(controller)
        self.controller = controller
        self.source = source
        self.options = options
        self.endpoint = options.endpoint or controller.default_endpoint()
        self.state = "new"
        self.client = None
        self.job = None
        self.notifier = None
        self.began = time.monotonic()
        self.start_deadline = 0.0
        self.connect_deadline = 0.0
        self.deadline = self.began + options.timeout_minutes * 60
        self.started_backend = False
        self.waiting_for_another = False

        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.tick)

        dialog = QtWidgets.QProgressDialog(
            "Connecting to the Sketch Cleanup backend…", "Cancel", 0, 100, messages.main_window()
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

    # -- steps
    def start(self) -> None:
        self.state = "connecting"
        self.dialog.show()
        server_key = None
        if self.options.server_key_file:
            try:
                server_key = load_server_key(self.options.server_key_file)
            except (OSError, ValueError) as exc:
                return self.fail(
                    f"Cannot read the server public key: {exc}. Fix it in Filter ▸ Clean "
                    "Sketch Options…"
                )
        try:
            self.client = sketch_client.Client(self.endpoint, server_key=server_key)
        except sketch_client.BackendError as exc:
            import sys

            package = sys.modules.get(__package__)
            detail = getattr(package, "ZMQ_IMPORT_ERROR", None)
            return self.fail(
                f"Cannot talk to the backend: {exc.message}",
                details=f"Importing pyzmq failed: {detail}" if detail else None,
            )
        except Exception as exc:  # noqa: BLE001 - e.g. a malformed address from the settings
            return self.fail(f"Cannot use the backend address {self.endpoint!r}: {exc}")
        wait = CONNECT_WAIT_S if is_local(self.endpoint) else REMOTE_CONNECT_WAIT_S
        self.connect_deadline = time.monotonic() + wait
        self.timer.start(100)
        QtCore.QTimer.singleShot(0, self.try_connect)  # let the progress dialog paint first

    @guarded
    def try_connect(self) -> None:
        """One short probe per timer tick, so a backend that is down never freezes Krita."""
        if self.state != "connecting":
            return
        launcher = self.controller.launcher
        local = is_local(self.endpoint)
        try:
            self.client.info(timeout=PROBE_TIMEOUT_S if local else REMOTE_PROBE_TIMEOUT_S)
        except sketch_client.BackendUnavailable:
            if launcher.running and launcher.endpoint == self.endpoint:
                return self.wait_for_backend()  # ours, started earlier and still loading
            if time.monotonic() < self.connect_deadline:
                return  # try again on the next tick
            config = sketch_client.backend_config()
            if local and self.options.autostart and config and config.get("command"):
                return self.start_backend(config)
            return self.fail(self.no_backend_message(local, config))
        except sketch_client.BackendError as exc:
            return self.fail(f"The backend refused the connection: {exc.message}")
        self.submit()

    def start_backend(self, config: dict) -> None:
        launcher = self.controller.launcher
        launcher.stop()  # one we started for another address, if any
        try:
            launcher.start(config, self.endpoint, sketch_client.data_dir())
        except (LaunchError, OSError) as exc:
            return self.fail(
                f"Could not start the Sketch Cleanup backend: {exc}. Run install.py again.",
                details="Command: " + describe_command(config.get("command") or []),
            )
        self.started_backend = True
        self.wait_for_backend()

    def wait_for_backend(self) -> None:
        self.state = "starting"
        self.start_deadline = time.monotonic() + START_TIMEOUT_S
        self.dialog.setLabelText("Starting the Sketch Cleanup backend…")
        self.dialog.setRange(0, 0)  # busy indicator
        self.timer.start(400)

    def probe(self) -> None:
        launcher = self.controller.launcher
        if self.started_backend and launcher.exit_code == sketch_client.EXIT_ADDRESS_IN_USE:
            # another editor's backend bound the address first and is still loading: use it
            self.started_backend, self.waiting_for_another = False, True
            launcher.stop()  # forget ours, so its exit is not taken for the job's backend dying
            self.dialog.setLabelText(
                "Waiting for the Sketch Cleanup backend another program started…"
            )
        if not self.waiting_for_another and not launcher.running:
            return self.fail(
                f"The Sketch Cleanup backend {launcher.exit_description()} while starting.",
                details=self.log_details(),
            )
        if time.monotonic() > self.start_deadline:
            if self.waiting_for_another:
                return self.fail(
                    f"Another program holds {self.endpoint}, but no Sketch Cleanup backend "
                    f"answered there within {START_TIMEOUT_S:.0f} s. Close that program or "
                    "change the address in Filter ▸ Clean Sketch Options…"
                )
            details = self.log_details()
            launcher.stop()
            return self.fail(
                f"The Sketch Cleanup backend did not answer within {START_TIMEOUT_S:.0f} s of "
                "starting, so it was stopped.",
                details=details,
            )
        try:
            self.client.info(timeout=PROBE_TIMEOUT_S)
        except sketch_client.BackendUnavailable:
            return  # not listening yet
        except sketch_client.BackendError as exc:
            return self.fail(f"The backend refused the connection: {exc.message}")
        self.submit()

    def submit(self) -> None:
        src = self.source
        x, y, w, h = src.rect
        try:
            self.job = self.client.start_clean(
                src.data, w, h, src.fmt, self.options.request_options(src.fmt)
            )
        except sketch_client.BackendError as exc:
            return self.fail(self.error_message(exc))
        self.state = "running"
        self.dialog.setRange(0, 100)
        self.dialog.setValue(0)
        self.dialog.setLabelText(f"Cleaning “{src.name}” ({w}×{h})…")
        self.notifier = QtCore.QSocketNotifier(
            self.client.fd, QtCore.QSocketNotifier.Type.Read, self
        )
        self.notifier.activated.connect(self.poll)
        self.timer.start(250)

    @guarded
    def tick(self) -> None:
        if self.state == "connecting":
            self.try_connect()
        elif self.state == "starting":
            self.probe()
        elif self.state == "running":
            self.poll()

    @guarded
    def poll(self, *_args) -> None:
        if self.state != "running":
            return
        try:
            self.client.pump(0)
        except sketch_client.BackendUnavailable as exc:
            return self.fail(self.error_message(exc), details=self.log_details())
        job = self.job
        if job.finished:
            return self.finish()
        launcher = self.controller.launcher
        if launcher.endpoint == self.endpoint and launcher.process is not None:
            if not launcher.running:
                return self.fail(
                    f"The Sketch Cleanup backend {launcher.exit_description()} while cleaning "
                    f"“{self.source.name}”; nothing was changed.",
                    details=self.log_details(),
                )
        if time.monotonic() > self.deadline:
            try:
                self.client.cancel(job)
            except sketch_client.BackendError:
                pass
            return self.fail(
                f"The backend took longer than {self.options.timeout_minutes:g} minutes and "
                "the job was cancelled. Select a smaller area, lower the detail factor, or "
                "raise the limit in Filter ▸ Clean Sketch Options…"
            )
        stage = STAGES.get(job.stage, job.stage.capitalize())
        self.dialog.setLabelText(f"{stage} “{self.source.name}”…")
        self.dialog.setValue(int(100 * job.fraction))

    def finish(self) -> None:
        # Krita runs nested event loops inside some API calls (refreshProjection waits for
        # the image), where the timer or the socket notifier could call poll() again: leave
        # "running" first so the result is applied exactly once.
        self.state = "finishing"
        self.timer.stop()
        if self.notifier is not None:
            self.notifier.setEnabled(False)
        job = self.job
        if job.error is not None:
            return self.fail(self.error_message(job.error))
        if job.cancelled:
            return self.end("cancelled", "The backend cancelled the job.")
        try:
            layer = self.apply(job.result, job.pixels)
        except Refusal as exc:
            return self.fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - Krita API failures must reach the artist
            return self.fail(f"Could not add the result layer: {exc}")
        seconds = time.monotonic() - self.began
        self.end(
            "ok",
            f"Cleaned “{self.source.name}” in {seconds:.1f} s",
            layer=layer,
            backend_seconds=job.result.get("seconds"),
            scale=job.result.get("scale"),
            line_width=job.result.get("line_width"),
        )
        messages.floating(f"Clean Sketch: done in {seconds:.1f} s")

    def apply(self, header: dict, data: bytes) -> str:
        """Add the result as a new paint layer right above the source: one undo step."""
        from krita import Krita

        src = self.source
        x, y, w, h = src.rect
        if (header.get("width"), header.get("height"), header.get("format")) != (w, h, src.fmt):
            raise Refusal(
                f"The backend answered with a {header.get('width')}×{header.get('height')} "
                f"{header.get('format')} image; expected {w}×{h} {src.fmt}."
            )
        if len(data) != w * h * pixels.layout(src.fmt)[0]:
            raise Refusal(f"The backend's result has {len(data)} bytes; expected {w}×{h} pixels.")
        doc, node = src.doc, src.node
        if not any(_same_document(d, doc) for d in Krita.instance().documents()):
            raise Refusal("The image was closed while it was being cleaned; nothing was added.")
        parent = node.parentNode()
        if parent is None:
            raise Refusal(f"The layer “{src.name}” was deleted while it was being cleaned.")
        if src.mask is not None:
            data = pixels.mask_alpha(data, src.fmt, src.mask)
        layer = doc.createNode(RESULT_LAYER, "paintlayer")
        wanted = (node.colorModel(), node.colorDepth(), node.colorProfile())
        if (layer.colorModel(), layer.colorDepth(), layer.colorProfile()) != wanted:
            layer.setColorSpace(*wanted)
        # Pixels go in before the layer joins the image: adding it is then one undo step.
        layer.setPixelData(QtCore.QByteArray(data), x, y, w, h)
        if not parent.addChildNode(layer, node):
            raise Refusal("Krita refused to add the result layer.")
        doc.refreshProjection()
        return layer.name()

    # -- ending
    @guarded
    def cancel(self, *_args) -> None:
        if self.state in ("done", "finishing"):  # too late: the result is going in
            return
        if self.state == "running" and self.job is not None and not self.job.finished:
            try:
                self.client.cancel(self.job)
            except sketch_client.BackendError:
                pass  # the backend is gone: nothing to cancel
        self.end("cancelled", "Cancelled.")

    def fail(self, message: str, details: str | None = None) -> None:
        self.end("error", message, details=details)
        messages.error(message, details)

    def end(self, outcome: str, message: str, **extra) -> None:
        if self.state == "done":
            return
        self.state = "done"
        self.timer.stop()
        if self.notifier is not None:
            self.notifier.setEnabled(False)
        if self.client is not None:
            self.client.close()
        try:
            self.dialog.canceled.disconnect(self.cancel)
        except TypeError:
            pass
        self.dialog.hide()
        self.dialog.deleteLater()
        launcher = self.controller.launcher
        self.controller.record(
            outcome,
            message,
            source=self.source.name,
            format=self.source.fmt,
            started_backend=self.started_backend,
            backend_pid=launcher.pid,
            **extra,
        )
        self.controller.finished(self)

    # -- messages
    def log_details(self) -> str | None:
        launcher = self.controller.launcher
        if launcher.log_path is None or launcher.endpoint != self.endpoint:
            return None
        return f"Backend log ({launcher.log_path}):\n{launcher.log_tail()}"

    def no_backend_message(self, local: bool, config: dict | None) -> str:
        text = f"No Sketch Cleanup backend answers at {self.endpoint}."
        if not local:
            return (
                f"{text} Check that the backend runs on that computer, that the address in "
                "Filter ▸ Clean Sketch Options… is right, and that the server public key file "
                "matches the backend's key (a wrong key looks exactly like a backend that is "
                "down)."
            )
        if not config:
            return (
                f"{text} Start it with `sketch-cleanup serve`, or run install.py, which sets "
                "up a backend that this plugin starts by itself when needed."
            )
        return (
            f"{text} Starting it automatically is turned off in Filter ▸ Clean Sketch "
            "Options…; turn it on, or start it by hand with `sketch-cleanup serve`."
        )

    def error_message(self, exc: Exception) -> str:
        code = getattr(exc, "code", "")
        message = getattr(exc, "message", str(exc))
        if code == "unavailable":
            launcher = self.controller.launcher
            extra = ""
            if launcher.endpoint == self.endpoint and launcher.process is not None:
                extra = f" The backend this plugin started {launcher.exit_description()}."
            return f"Lost the Sketch Cleanup backend: {message}.{extra} Nothing was changed."
        hints = {
            "too_large": "Select a smaller area, or scale the image down, and try again.",
            "busy": "The backend is busy with other jobs: try again in a moment.",
            "empty_image": "The layer has no visible pixels there.",
            "timeout": "",
        }
        hint = hints.get(code)
        if hint is None:
            hint = "Nothing was changed."
        return f"The backend could not clean “{self.source.name}”: {message} [{code}]. {hint}"
