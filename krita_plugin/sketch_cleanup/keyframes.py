"""Clean Sketch: All Keyframes: a kit Clip driven from the progress dialog's timer.

The Clip (sketch_kit.clip) decides which keyframes go to the backend and with which
options; here each keyframe's pixels are read from the sketch layer when the Clip asks for
them, one per timer tick, and each result is written into the new layer (document.ClipLayer)
as it comes, so Krita stays responsive and holds one frame's pixels at a time.
"""

from __future__ import annotations

import time

from sketch_kit.clip import Clip, Stage

from . import document
from .run import TICK_MS, Controller, Job, new_session

FRAME_TICK_MS = 20  # reading or writing a frame: come back soon, letting Krita paint between


class ClipRun(Job):
    """Every keyframe of one animated layer into one new animated layer, or nothing."""

    def __init__(self, controller: Controller, source: document.ClipSource, options):
        self.source = source
        _, _, w, h = source.rect
        self.clip = Clip(
            source.times,
            w,
            h,
            source.fmt,
            options.clean_options(source.fmt).replace(vector=None),  # raster frames only
            lambda: new_session(controller, options, source.name),
            name=source.name,
            mask=source.mask,
        )
        self.layer = document.ClipLayer(source)
        super().__init__(controller, source.name, options)

    @property
    def work(self):
        return self.clip

    @property
    def state(self) -> str:
        """The running keyframe's session state, else the clip's stage (the harness reads it)."""
        state = self.clip.session_state
        return state.value if state is not None else self.clip.stage.value

    def tick_ms(self) -> int | None:
        state = self.clip.session_state
        return TICK_MS.get(state, FRAME_TICK_MS) if state is not None else FRAME_TICK_MS

    def running_client(self):
        return self.clip.client

    def advance(self) -> None:
        clip = self.clip
        clip.step()
        try:
            if clip.stage is Stage.READ:
                self.layer.show(clip.time)  # the canvas follows the frame being cleaned
                clip.feed(document.read_frame(self.source, clip.time))
            if clip.stage is Stage.WRITE:
                assert clip.output is not None
                if self.layer.write(clip.output):
                    clip.written()
        except document.Refusal as exc:
            clip.fail(str(exc))

    def apply(self) -> dict:
        layer = self.layer.add()
        clip = self.clip
        seconds = time.monotonic() - self.began
        count = len(clip.times)
        clip.message = f"Cleaned {count} keyframes of “{self.source.name}” in {seconds:.1f} s"
        document.floating_message(f"Clean Sketch: {count} keyframes in {seconds:.1f} s")
        fixed = clip.fixed
        return {
            "layer": layer,
            "scale": fixed.scale if fixed else None,
            "line_width": fixed.line_width if fixed else None,
        }

    def discard(self) -> None:
        self.layer.discard()

    def record_extra(self) -> dict:
        clip = self.clip
        return {
            "format": self.source.fmt,
            "times": clip.times,
            "measured_at": clip.measured_at,
            "frames": dict(clip.counts),
        }
