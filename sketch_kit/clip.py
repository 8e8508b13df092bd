"""Clean every keyframe of an animated layer at one scale, so the lines do not flicker.

Cleaning each frame with `scale: auto` measures each drawing on its own: the working
resolution, and with it the line weight, would change from frame to frame. A `Clip`
measures once: the first keyframe with ink is cleaned with the artist's options, and the
`scale` its result reports (and its `line_width` when the line weight is automatic) is sent
with every other keyframe. A keyframe with no visible pixel needs no backend (its result
is empty), and one whose pixels equal an earlier keyframe's (cloned or copied frames)
repeats that result.

An editor drives it like a `Session`: `start()`, then `step()` from its timer; while
`stage` is READ it hands over the pixels of the keyframe at `time` with `feed()`; while it
is WRITE it puts `output` on its new layer and calls `written()`. Each cleaned keyframe is
one `Session` made by `new_session`, so finding or starting the backend, progress and every
error message are the Session's own.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import pixels
from .protocol import LINE_WIDTH_RANGE, SCALE_RANGE, CleanOptions
from .session import Session, State


def keyframe_times(has_keyframe: Callable[[int], bool], last: int) -> list[int]:
    """The times 0..last that hold a keyframe, for editors that can only ask time by time."""
    return [time for time in range(last + 1) if has_keyframe(time)]


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(float(value), bounds[0]), bounds[1])


def fixed_options(options: CleanOptions, header: dict) -> CleanOptions:
    """`options` with the measured frame's numbers in place of "auto": the scale its result
    reports, and its line width when the line weight is automatic (ValueError when the
    result does not say, since the frames could then not share them)."""
    changes: dict = {}
    for name, bounds in (("scale", SCALE_RANGE), ("line_width", LINE_WIDTH_RANGE)):
        if getattr(options, name) != "auto":
            continue
        value = header.get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"the backend's result does not say which {name} it used")
        changes[name] = _clamp(value, bounds)
    return options.replace(**changes)


class Stage(enum.Enum):
    READ = "read"  # the editor feeds the pixels of the keyframe at `time`
    CLEAN = "clean"  # a Session cleans them
    WRITE = "write"  # the editor puts `output` on its layer, then calls written()
    DONE = "done"  # see outcome


@dataclass(frozen=True)
class Output:
    """What goes on the new layer at `time`: the cleaned pixels (kind "clean"), nothing
    ("blank": the keyframe had no visible pixel), or the result already made for the
    keyframe at `same_as`, whose pixels are the same ("copy")."""

    time: int
    kind: str
    data: bytes = b""
    same_as: int | None = None


class Clip:
    """See the module docstring. `options` are the artist's, with the output format set;
    `mask` is the selection (one byte a pixel) that decides which keyframes are blank."""

    def __init__(
        self,
        times: Iterable[int],
        width: int,
        height: int,
        fmt: str,
        options: CleanOptions,
        new_session: Callable[[], Session],
        name: str = "the layer",
        mask: bytes | None = None,
    ):
        self.times = sorted(set(times))
        self.width, self.height, self.fmt = width, height, fmt
        self.options = options
        self.new_session = new_session
        self.name = name
        self.mask = mask
        self.stage = Stage.READ
        self.index = 0
        self.session: Session | None = None
        self.output: Output | None = None
        self.fixed: CleanOptions | None = None  # what every frame after the first is sent with
        self.measured_at: int | None = None  # the keyframe the scale was measured on
        self.counts = {"clean": 0, "blank": 0, "copy": 0}
        self.started_backend = False
        self.outcome: str | None = None  # ok | error | cancelled
        self.message = ""
        self.details: str | None = None
        self._pixels: bytes | None = None
        self._seen: dict[bytes, int] = {}  # digest of a keyframe's pixels -> its time

    # -- what the editor reads
    @property
    def done(self) -> bool:
        return self.stage is Stage.DONE

    @property
    def time(self) -> int:
        return self.times[min(self.index, len(self.times) - 1)]

    @property
    def label(self) -> str:
        return f"Frame {self.index + 1} of {len(self.times)} (at frame {self.time})"

    @property
    def status(self) -> str:
        if self.stage is Stage.CLEAN and self.session is not None:
            return f"{self.label}: {self.session.status}"
        if self.stage is Stage.READ:
            return f"{self.label}: Reading “{self.name}”…"
        if self.stage is Stage.WRITE:
            return f"{self.label}: Adding the frame…"
        return self.message

    @property
    def fraction(self) -> float | None:
        """Progress 0-1 over the whole clip; None while the first frame finds the backend."""
        session = self.session if self.stage is Stage.CLEAN else None
        part = session.fraction if session is not None else None
        if part is None and session is not None and self.counts["clean"] == 0:
            return None
        return min(1.0, (self.index + (part or 0.0)) / len(self.times))

    @property
    def session_state(self) -> State | None:
        return self.session.state if self.stage is Stage.CLEAN and self.session else None

    @property
    def client(self):
        """The client of the job running now (editors watch its socket), else None."""
        if self.session_state is State.RUNNING:
            assert self.session is not None
            return self.session.client
        return None

    # -- driving
    def start(self) -> None:
        if not self.times:
            self._end("error", f"“{self.name}” has no keyframes: nothing to clean.")

    def feed(self, data: bytes) -> None:
        """The pixels of the keyframe at `time` (stage READ)."""
        assert self.stage is Stage.READ
        visible = pixels.mask_alpha(data, self.fmt, self.mask) if self.mask is not None else data
        if not pixels.has_visible_pixels(visible, self.fmt):
            return self._put(Output(self.time, "blank"))
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest in self._seen:
            return self._put(Output(self.time, "copy", same_as=self._seen[digest]))
        self._seen[digest] = self.time
        self._pixels = data
        session = self.new_session()
        session.name = self.name
        self.session = session
        self.stage = Stage.CLEAN
        session.start()
        if session.done:
            self._cleaned()

    def step(self) -> None:
        """Advance the keyframe being cleaned (nothing to do in the other stages)."""
        if self.stage is not Stage.CLEAN or self.session is None:
            return
        session = self.session
        session.step()
        if session.state is State.READY:
            assert self._pixels is not None
            options = self.fixed or self.options
            session.submit(self._pixels, self.width, self.height, self.fmt, options)
        if session.done:
            self._cleaned()

    def written(self) -> None:
        """The editor put `output` on its layer (stage WRITE): on to the next keyframe."""
        assert self.stage is Stage.WRITE
        self.output = None
        self.index += 1
        if self.index < len(self.times):
            self.stage = Stage.READ
        elif self.counts["clean"] == 0:
            where = " inside the selection" if self.mask is not None else ""
            self._end(
                "error",
                f"Every keyframe of “{self.name}” is empty{where} (fully transparent): "
                "nothing to clean.",
            )
        else:
            self._end("ok", "")

    def cancel(self) -> None:
        if not self.done:
            self._end("cancelled", "Cancelled.")

    def fail(self, message: str, details: str | None = None) -> None:
        """End with an error found on the editor's side (reading or writing a frame)."""
        self._end("error", message, details)

    # -- inside
    def _cleaned(self) -> None:
        session = self.session
        assert session is not None
        self._pixels = None
        self.started_backend = self.started_backend or session.started_backend
        if session.outcome != "ok":
            message = session.message
            if session.outcome == "error":
                message = f"{self.label}: {message}"
            return self._end(session.outcome or "error", message, session.details)
        assert session.result is not None
        header, data = session.result
        size = self.width * self.height * pixels.layout(self.fmt)[0]
        got = (header.get("width"), header.get("height"), header.get("format"), len(data))
        if got != (self.width, self.height, self.fmt, size):
            return self.fail(
                f"{self.label}: the backend answered with a {got[0]}×{got[1]} {got[2]} image "
                f"of {got[3]} bytes; expected {self.width}×{self.height} {self.fmt}."
            )
        if self.fixed is None:
            try:
                self.fixed = fixed_options(self.options, header)
            except ValueError as exc:
                return self.fail(f"Cannot give every frame one scale: {exc}. Update the backend.")
            self.measured_at = self.time
        self._put(Output(self.time, "clean", data))

    def _put(self, output: Output) -> None:
        self.counts[output.kind] += 1
        self.output = output
        self.stage = Stage.WRITE

    def _end(self, outcome: str, message: str, details: str | None = None) -> None:
        if self.done:
            return
        if self.session is not None and not self.session.done:
            self.session.cancel()  # tells a running job's backend, closes the connection
        self.stage = Stage.DONE
        self._pixels = None
        self.output = None
        self.outcome, self.message, self.details = outcome, message, details
