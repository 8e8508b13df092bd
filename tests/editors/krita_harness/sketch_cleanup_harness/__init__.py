"""Test-only Krita plugin: drives the real Sketch Cleanup plugin inside GUI Krita.

Reads the scenario JSON named by $SKETCH_HARNESS_SCENARIO, then, from timers (never
blocking Krita's event loop): opens the image in a real view, builds the layers the
scenario asks for, and for each run selects a layer (and a selection), triggers the real
actions, answers the real dialogs and message boxes the way an artist would (it records
their text), waits for the plugin to finish, and records the layers and their bytes.
Everything is written to <out>/result.json and raw files; the pytest side judges them.
Ends with os._exit(code), or with a normal File ▸ Quit when the scenario asks for it
(so the plugin's shutdown path runs).

Exit codes: 0 all runs ended as expected, 1 an expectation failed, 2 harness error or
timeout.
"""

import json
import os
import time
import traceback

from krita import Extension, Krita, Selection

try:
    from PyQt5 import QtCore, QtWidgets
except ImportError:
    from PyQt6 import QtCore, QtWidgets

SCENARIO = os.environ.get("SKETCH_HARNESS_SCENARIO")
CLEAN = "sketch_cleanup_clean"
KEYFRAMES = "sketch_cleanup_clean_keyframes"
OPTIONS = "sketch_cleanup_options"
KEYFRAME_SCAN = 40  # the times searched for keyframes when a run checks them


def _plugin():
    import sketch_cleanup

    return sketch_cleanup.EXTENSION.controller


class Harness(QtCore.QObject):
    def __init__(self, scenario):
        super().__init__()
        self.scenario = scenario
        self.out = scenario["out"]
        self.result = {"runs": [], "events": [], "boxes": []}
        self.app = Krita.instance()
        self.doc = None
        self.nodes = {}
        self.queue = []
        self.waiter = None
        self.watch = QtCore.QTimer(self)
        self.watch.timeout.connect(self.watch_modals)
        self.deadline = time.monotonic() + scenario.get("timeout", 120)
        self.current = None
        self.failed = []
        self.seen_modals = set()
        self.last_tick = time.monotonic()
        QtWidgets.QApplication.instance().installEventFilter(self)

    # -- plumbing
    def log(self, text):
        self.result["events"].append(f"{time.monotonic():.2f} {text}")

    def later(self, ms, fn):
        def guarded():
            try:
                fn()
            except Exception:  # noqa: BLE001 - any harness error ends the test clearly
                self.finish(2, traceback.format_exc())

        QtCore.QTimer.singleShot(ms, guarded)

    def wait_until(self, condition, then, what, interval=100):
        """Poll condition() from a timer; then() once true. Times out with a clear error."""

        def check():
            if time.monotonic() > self.deadline:
                return self.finish(2, f"timed out waiting for {what}")
            if condition():
                return then()
            self.later(interval, check)

        self.later(interval, check)

    def expect(self, ok, text):
        if not ok:
            self.failed.append(text)
            self.log(f"EXPECTATION FAILED: {text}")

    # -- modal dialogs (the plugin's real QMessageBox / options dialog / progress dialog)
    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        # Sees the progress dialog appear even when a job is over before the next watch tick.
        if event.type() == QtCore.QEvent.Type.Show and self.current is not None:
            if isinstance(obj, QtWidgets.QWidget) and obj.objectName() == "sketch_cleanup_progress":
                self.current["progress_seen"] = True
        return False

    def watch_modals(self):
        now = time.monotonic()
        run = self.current
        if run is not None and "t0" in run:  # how long Krita's event loop went unserved
            run["max_gap"] = max(run.get("max_gap", 0.0), now - self.last_tick)
        self.last_tick = now
        if time.monotonic() > self.deadline:
            return self.finish(2, "timed out (a modal dialog may be stuck)")
        widget = QtWidgets.QApplication.activeModalWidget()
        if isinstance(widget, QtWidgets.QMessageBox):
            self.result["boxes"].append(
                {
                    "title": widget.windowTitle(),
                    "text": widget.text(),
                    "details": widget.detailedText(),
                }
            )
            self.log(f"message box: {widget.text()}")
            widget.done(0)
            return
        if widget is not None and widget.objectName() == "sketch_cleanup_options":
            self.fill_options(widget)
            return
        if widget is not None and id(widget) not in self.seen_modals:
            self.seen_modals.add(id(widget))
            texts = [label.text() for label in widget.findChildren(QtWidgets.QLabel)]
            self.log(
                f"unexpected modal {type(widget).__name__} {widget.objectName()!r} "
                f"{widget.windowTitle()!r}: {texts[:5]}"
            )
        run = self.current or {}
        progress = None
        for top in QtWidgets.QApplication.topLevelWidgets():
            if top.objectName() == "sketch_cleanup_progress" and top.isVisible():
                progress = top
        if progress is not None:
            if "progress_label" not in run:
                run["progress_label"] = progress.labelText()
            run["progress_seen"] = True
            labels = run.setdefault("progress_labels", [])
            if not labels or labels[-1] != progress.labelText():
                labels.append(progress.labelText())
            state = getattr(_plugin().run, "state", None)
            label = run.get("cancel_label")  # cancel once the progress label says this
            wanted = run.get("cancel") or (label is not None and label in progress.labelText())
            if wanted and state == "running" and not run.get("cancel_clicked"):
                run["cancel_clicked"] = True
                self.log("clicking Cancel")
                for button in progress.findChildren(QtWidgets.QPushButton):
                    button.click()
            if run.get("kill_backend") and state == "running" and not run.get("killed"):
                pid = _plugin().process.pid
                run["killed"] = pid
                self.log(f"killing backend {pid}")
                os.kill(pid, 9)

    def fill_options(self, dialog):
        run = self.current
        if not run.get("dialog_filled"):
            run["dialog_filled"] = True
            self._fill_options(dialog)
        if run.get("wait_preview"):
            preview = getattr(dialog, "preview", None)
            if preview is None or not getattr(preview, "settled", False):
                return  # the watcher calls again on its next tick
            header, pixels = preview.result
            with open(os.path.join(self.out, f"{run['name']}-preview.raw"), "wb") as f:
                f.write(pixels)
            run["preview_header"] = {k: header.get(k) for k in ("region", "exact", "format")}
            run["preview_status"] = preview.status.text()
            card = dialog.findChild(QtWidgets.QLabel, "model_card")
            shown = card is not None and card.isVisible()
            run["model_card"] = [card.text(), card.toolTip()] if shown else None
            run["models_offered"] = [
                dialog.widgets["model"].itemText(i) for i in range(dialog.widgets["model"].count())
            ]
            if run.get("dialog_screenshot"):  # for the docs
                dialog.grab().save(os.path.join(self.out, f"{run['name']}-dialog.png"))
        dialog.accept()

    def _fill_options(self, dialog):
        values = self.current.get("options_dialog", {})
        for name, value in values.items():
            widget = dialog.findChild(QtWidgets.QWidget, name)
            if isinstance(widget, QtWidgets.QComboBox) and widget.isEditable():
                widget.setEditText(value)
            elif isinstance(widget, QtWidgets.QComboBox):
                widget.setCurrentIndex(widget.findData(value))
            elif isinstance(widget, QtWidgets.QLineEdit):
                widget.setText(value)
            elif isinstance(widget, QtWidgets.QDoubleSpinBox):
                widget.setValue(value)
            elif isinstance(widget, QtWidgets.QCheckBox):
                widget.setChecked(value)
            else:
                raise RuntimeError(f"options dialog has no widget {name!r}")
        self.log(f"options dialog filled with {values}")
        for action in self.current.get("options_dialog_actions", []):
            name, _, argument = action.partition(":")
            if argument:
                dialog.findChild(QtWidgets.QComboBox, "preset").setCurrentText(argument)
            dialog.findChild(QtWidgets.QPushButton, name).click()
            self.log(f"options dialog: clicked {name} {argument}")
        if "copy_diagnostics" in self.current.get("options_dialog_actions", []):
            self.current["clipboard"] = QtWidgets.QApplication.clipboard().text()
        preset = self.current.get("options_dialog_preset")
        if preset:  # choose a saved preset, as an artist picks it from the list
            combo = dialog.findChild(QtWidgets.QComboBox, "preset")
            combo.setCurrentIndex(combo.findText(preset))
            combo.activated.emit(combo.currentIndex())

    # -- the scenario
    def start(self):
        self.log("start")
        self.watch.start(50)
        sc = self.scenario
        self.result["shortcut"] = self.app.action(CLEAN).shortcut().toString()
        self.result["menu_text"] = self.app.action(CLEAN).text()
        keyframes = self.app.action(KEYFRAMES)
        self.result["keyframes_menu_text"] = keyframes.text() if keyframes else None
        if sc.get("warmup"):
            import sketch_cleanup

            loaded = sketch_cleanup.EXTENSION is not None and self.app.action(CLEAN) is not None
            return self.finish(0 if loaded else 1, None if loaded else "plugin not loaded")
        self.queue = list(sc.get("runs_without_document", []))
        self.queue.append({"open_document": True})
        self.queue += sc.get("runs", [])
        self.later(200, self.next_run)

    def open_document(self):
        sc = self.scenario
        # Batch mode: no import dialogs (a 16-bit PNG without a profile asks for one). It is
        # switched off again at once: the plugin's own message boxes are under test.
        self.app.setBatchmode(True)
        try:
            doc = self.app.openDocument(sc["image"])
        finally:
            self.app.setBatchmode(False)
        if doc is None:
            return self.finish(2, f"could not open {sc['image']}")
        self.doc = doc
        window = self.app.activeWindow()
        window.addView(doc)
        self.app.setActiveDocument(doc)
        doc.waitForDone()
        if sc.get("convert"):
            doc.setColorSpace(*sc["convert"])
            doc.waitForDone()
        sketch = doc.topLevelNodes()[0]
        sketch.setName("Sketch")
        self.nodes["Sketch"] = sketch
        root = doc.rootNode()
        for kind in sc.get("extra_layers", []):
            if kind == "group":
                node = doc.createGroupLayer("Group")
                inner = doc.createNode("Inside", "paintlayer")
                node.addChildNode(inner, None)
            elif kind == "empty":
                node = doc.createNode("Empty", "paintlayer")
            elif kind == "vector":
                node = doc.createVectorLayer("Vector")
            else:
                raise RuntimeError(f"unknown extra layer {kind}")
            root.addChildNode(node, sketch)
            self.nodes[node.name()] = node
        doc.waitForDone()
        if sc.get("keyframes"):
            self.animate(doc, sketch, sc)
        self.log(f"opened {sc['image']}: {doc.width()}x{doc.height()} {doc.colorModel()}")
        self.later(300, self.next_run)

    def animate(self, doc, sketch, sc):
        """Keyframes on the sketch layer the way scripts make them: at each time, Krita's
        add_blank_frame action on the active layer, then that frame's pixels (raw files in
        the layer's format, over the canvas)."""
        if doc.activeNode() is None or doc.activeNode().name() != sketch.name():
            raise RuntimeError("the sketch layer is not the active layer")
        w, h = doc.width(), doc.height()
        for key, path in sorted(sc["keyframes"].items(), key=lambda item: int(item[0])):
            time_ = int(key)
            for _ in range(20):  # Krita moves to a time asynchronously: make sure it did
                doc.setCurrentTime(time_)
                doc.waitForDone()
                QtWidgets.QApplication.processEvents()
                if sketch.hasKeyframeAtTime(time_):
                    break
                if doc.currentTime() == time_:
                    self.app.action("add_blank_frame").trigger()
                    doc.waitForDone()
                    QtWidgets.QApplication.processEvents()
            else:
                raise RuntimeError(f"could not add a keyframe at {time_}")
            with open(path, "rb") as f:
                sketch.setPixelData(QtCore.QByteArray(f.read()), 0, 0, w, h)
        doc.setCurrentTime(sc.get("time_after_setup", 0))
        doc.waitForDone()
        self.log(f"animated the sketch: keyframes {self.keyframes(sketch)}")

    def next_run(self):
        if not self.queue:
            return self.conclude()
        if self.queue[0].get("open_document"):
            self.queue.pop(0)
            return self.open_document()
        self.current = run = self.queue.pop(0)
        run["history_before"] = len(_plugin().history)
        doc = self.doc
        if doc is not None:
            if run.get("convert"):
                doc.setColorSpace(*run["convert"])
                doc.waitForDone()
            target = self.nodes[run.get("target", "Sketch")]
            if run.get("add_mask"):
                target.addChildNode(doc.createNode("Mask", "transparencymask"), None)
                doc.waitForDone()
            if run.get("selection"):
                selection = None
                for x, y, w, h in run["selection"]:
                    part = Selection()
                    part.select(x, y, w, h, 255)
                    if selection is None:
                        selection = part
                    else:
                        selection.add(part)
                doc.setSelection(selection)

            def active():
                # asked again on every poll: Krita makes a new mask active a moment later
                if doc.activeNode() is not None and doc.activeNode().name() == target.name():
                    return True
                doc.setActiveNode(target)
                return False

            self.wait_until(active, self.before_trigger, f"{target.name()} to become active")
        else:
            self.later(100, self.before_trigger)

    def before_trigger(self):
        run = self.current
        doc = self.doc
        if doc is not None:
            sketch = self.nodes["Sketch"]
            w, h = doc.width(), doc.height()
            run["canvas"] = [w, h]
            run["sketch_model"] = [sketch.colorModel(), sketch.colorDepth(), sketch.colorProfile()]
            run["sketch_before"] = self.dump(sketch, f"{run['name']}-sketch-before.raw")
            run["layers_before"] = self.layers()
            if run.get("frames"):
                run["time_before"] = doc.currentTime()
                run["sketch_keyframes_before"] = self.keyframes(sketch)
                run["undo_history_before"] = self.undo_history()
                for time_ in run["frames"]:
                    self.dump(sketch, f"{run['name']}-sketch-before-{time_}.raw", at=time_)
        if run.get("options_dialog"):
            self.log("opening the options dialog")
            self.app.action(OPTIONS).trigger()  # returns once the watcher accepted it
            run["settings_after_dialog"] = {
                name: self.app.readSetting("sketch_cleanup", name, "")
                for name in run["options_dialog"]
            }
        action = run.get("action", CLEAN)
        self.log(f"trigger {action} for run {run['name']}")
        run["t0"] = time.monotonic()
        self.app.action(action).trigger()
        self.wait_until(self.run_done, self.after_run, f"run {run['name']} to finish")

    def run_done(self):
        run = self.current
        controller = _plugin()
        modal = QtWidgets.QApplication.activeModalWidget()
        return (
            len(controller.history) > run["history_before"]
            and controller.run is None
            and (modal is None)
        )

    def after_run(self):
        run = self.current
        run["seconds"] = time.monotonic() - run.pop("t0")
        controller = _plugin()
        run["outcome"] = controller.history[run["history_before"] :]
        run["boxes"] = list(self.result["boxes"])
        self.result["boxes"].clear()
        doc = self.doc
        if doc is not None:
            doc.waitForDone()
            sketch = self.nodes["Sketch"]
            run["layers_after"] = self.layers()
            after = self.dump(sketch, f"{run['name']}-sketch-after.raw")
            run["sketch_unchanged"] = after == run["sketch_before"]
            self.expect(run["sketch_unchanged"], f"{run['name']}: the source layer changed")
            siblings = sketch.parentNode().childNodes()
            names = [n.name() for n in siblings]
            index = names.index("Sketch")
            above = siblings[index + 1] if index + 1 < len(siblings) else None
            run["above"] = above.name() if above is not None else None
            if run.get("frames"):
                self.after_clip(run, sketch, above)
            if above is not None and above.name() == "Clean Sketch (vector)":
                run["vector_shapes"] = len(above.shapes())
                run["vector_svg"] = above.toSvg()
                return self.wait_until(
                    lambda: self.rendered(above),
                    lambda: self.after_vector(run, above),
                    "the vector layer to render its shapes",
                )
            if above is not None and above.name() == "Clean Sketch":
                run["result_model"] = [above.colorModel(), above.colorDepth(), above.colorProfile()]
                bounds = above.bounds()
                run["result_bounds"] = [bounds.x(), bounds.y(), bounds.width(), bounds.height()]
                run["result"] = self.dump(above, f"{run['name']}-result.raw")
                run["active_after"] = doc.activeNode().name()
                if run.get("screenshot"):
                    self.screenshot(run, sketch)
                if run.get("undo"):
                    self.app.action("edit_undo").trigger()
                    doc.waitForDone()
                    return self.wait_until(
                        lambda: "Clean Sketch" not in [n.name() for n in self.layers_nodes()],
                        lambda: self.after_undo(run),
                        "undo to remove the result layer",
                    )
        self.check_expectation(run)
        self.result["runs"].append(run)
        self.later(100, self.next_run)

    def rendered(self, node):
        data = bytes(node.projectionPixelData(0, 0, self.doc.width(), self.doc.height()))
        return bool(data[3::4].strip(b"\0"))

    def after_vector(self, run, layer):
        bounds = layer.bounds()
        run["vector_bounds"] = [bounds.x(), bounds.y(), bounds.width(), bounds.height()]
        run["vector_dump"] = self.dump(layer, f"{run['name']}-vector.raw", projection=True)
        if run.get("undo"):
            self.app.action("edit_undo").trigger()
            self.doc.waitForDone()
            return self.wait_until(
                lambda: layer.name() not in [n.name() for n in self.layers_nodes()],
                lambda: self.after_undo(run),
                "undo to remove the vector layer",
            )
        self.check_expectation(run)
        self.result["runs"].append(run)
        self.later(100, self.next_run)

    def after_clip(self, run, sketch, above):
        """An animated run: the document's time, the sketch's keyframes and frames after it,
        and the result layer's keyframes and frames."""
        doc = self.doc
        run["time_after"] = doc.currentTime()
        run["sketch_keyframes_after"] = self.keyframes(sketch)
        run["undo_history_after"] = self.undo_history()
        run["sketch_frames_unchanged"] = all(
            self.dump(sketch, f"{run['name']}-sketch-after-{t}.raw", at=t)
            == self.digest(f"{run['name']}-sketch-before-{t}.raw")
            for t in run["frames"]
        )
        self.expect(run["sketch_frames_unchanged"], f"{run['name']}: a sketch frame changed")
        if above is not None and above.name() == "Clean Sketch":
            run["result_animated"] = above.animated()
            run["result_keyframes"] = self.keyframes(above)
            for time_ in run["result_keyframes"]:
                self.dump(above, f"{run['name']}-result-{time_}.raw", at=time_)

    def after_undo(self, run):
        run["layers_after_undo"] = self.layers()
        if run.get("frames"):
            run["sketch_keyframes_after_undo"] = self.keyframes(self.nodes["Sketch"])
        self.check_expectation(run)
        self.result["runs"].append(run)
        self.later(100, self.next_run)

    def check_expectation(self, run):
        outcomes = [entry["outcome"] for entry in run["outcome"]]
        self.expect(outcomes == [run["expect"]], f"{run['name']}: outcomes {outcomes}")

    def screenshot(self, run, sketch):
        window = self.app.activeWindow().qwindow()
        window.resize(1200, 860)
        if run.get("hide_sketch_for_screenshot"):
            sketch.setVisible(False)
            self.doc.refreshProjection()
        for _ in range(60):  # let the canvas and the Layers docker catch up
            QtWidgets.QApplication.processEvents()
            time.sleep(0.05)
        window.grab().save(run["screenshot"])
        if run.get("hide_sketch_for_screenshot"):
            sketch.setVisible(True)
            self.doc.refreshProjection()

    # -- inspection helpers
    def layers_nodes(self):
        return self.doc.rootNode().childNodes() if self.doc is not None else []

    def layers(self):
        return [
            {
                "name": n.name(),
                "type": n.type(),
                "children": [c.name() for c in n.childNodes()],
            }
            for n in self.layers_nodes()
        ]

    def dump(self, node, name, projection=False, at=None):
        """Write the node's pixels over the canvas to a file; return a digest of them.
        projection: the rendered pixels (a vector layer's shapes have no paint device);
        at: the keyframe at that time (read without switching the document's time)."""
        w, h = self.doc.width(), self.doc.height()
        if at is not None:
            data = bytes(node.pixelDataAtTime(0, 0, w, h, at))
        else:
            read = node.projectionPixelData if projection else node.pixelData
            data = bytes(read(0, 0, w, h))
        with open(os.path.join(self.out, name), "wb") as f:
            f.write(data)
        return self.digest(name)

    def digest(self, name):
        import hashlib

        with open(os.path.join(self.out, name), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def keyframes(self, node):
        return [t for t in range(KEYFRAME_SCAN) if node.hasKeyframeAtTime(t)]

    def undo_history(self):
        """The entries of Krita's Undo History docker, oldest first."""
        for docker in self.app.dockers():
            if docker.objectName() == "History":
                for view in docker.findChildren(QtWidgets.QAbstractItemView):
                    model = view.model()
                    if model is not None:
                        return [model.data(model.index(r, 0)) for r in range(model.rowCount())]
        return None

    # -- ending
    def conclude(self):
        code = 1 if self.failed else 0
        self.result["failed"] = self.failed
        if self.scenario.get("quit") == "normal":
            self.result["backend_pid_before_quit"] = _plugin().process.pid
            self.write(code)
            for doc in self.app.documents():
                doc.setModified(False)
            self.log("quitting Krita normally")
            self.later(100, lambda: self.app.action("file_quit").trigger())
            return
        self.finish(code)

    def write(self, code, error=None):
        self.result["code"] = code
        if error:
            self.result["error"] = error
        self.result["history"] = _safe_history()
        path = os.path.join(self.out, "result.json")
        with open(path + ".tmp", "w") as f:
            json.dump(self.result, f, indent=1, default=str)
        os.replace(path + ".tmp", path)

    def finish(self, code, error=None):
        try:
            self.write(code, error)
        finally:
            os._exit(code)


def _safe_history():
    try:
        return _plugin().history
    except Exception as exc:  # noqa: BLE001
        return [{"outcome": "harness-error", "message": repr(exc)}]


class HarnessExtension(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.started = False
        self.harness = None

    def setup(self):
        pass

    def createActions(self, window):
        if self.started or not SCENARIO:
            return
        self.started = True
        with open(SCENARIO) as f:
            scenario = json.load(f)
        self.harness = Harness(scenario)
        self.harness.later(scenario.get("start_delay_ms", 1000), self.harness.start)


Krita.instance().addExtension(HarnessExtension(Krita.instance()))
