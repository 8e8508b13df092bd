"""The long-running cleanup service: a ROUTER socket in front of one inference thread.

Only the main thread touches the client-facing socket (ZeroMQ sockets are not
thread-safe); the inference thread hands its replies back through an inproc PUSH/PULL pair.
Every bad request is answered with an error and the loop goes on serving everyone else.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
import uuid
from dataclasses import asdict, dataclass

import zmq

from backend import __version__, defaults
from backend.catalog import ModelCatalog, ModelUnavailable
from backend.pipeline import Cancelled
from sketch_kit import protocol as proto
from sketch_kit.client import use_curve_client

log = logging.getLogger("backend")

HEARTBEAT_SECONDS = 1.0
PROGRESS_INTERVAL = 0.1


@dataclass
class Limits:
    """What one backend takes. Jobs held (running plus waiting) are capped in number and in
    payload bytes, so a burst of large layers is told `busy` instead of exhausting memory."""

    max_side: int = defaults.MAX_SIDE
    max_pixels: int = defaults.MAX_PIXELS
    max_queue: int = defaults.MAX_QUEUE
    max_queued_bytes: int = defaults.MAX_QUEUED_BYTES

    @property
    def max_message_bytes(self) -> int:
        return self.max_pixels * 16 + proto.MAX_HEADER_BYTES

    def as_dict(self) -> dict:
        return {**asdict(self), "max_message_bytes": self.max_message_bytes}


def make_socket(
    context: zmq.Context, kind: int, limits: Limits, curve_secret: bytes | None = None
) -> zmq.Socket:
    """A socket that takes client messages: size-capped, and a CURVE server when keyed."""
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, limits.max_message_bytes)
    if curve_secret:
        sock.curve_secretkey = curve_secret
        sock.curve_publickey = zmq.curve_public(curve_secret)
        sock.curve_server = True
    return sock


class Job:
    def __init__(
        self, identity: bytes, header: dict, payload: bytes | None, options: proto.CleanOptions
    ):
        self.identity = identity
        self.id = header["id"]
        self.header = header
        self.payload = payload
        self.options = options
        self.region = proto.check_region(header, header["width"], header["height"])
        self.cancelled = threading.Event()
        self.started = False  # set by the inference thread under Service._lock


class Service:
    """Answers protocol requests on one socket; runs clean jobs one at a time, in order."""

    def __init__(
        self,
        models: ModelCatalog,
        limits: Limits | None = None,
        context=None,
        idle_exit: float = 0,
    ):
        self.models = models
        self.idle_exit = idle_exit  # seconds without requests or jobs before stopping; 0: never
        self.limits = limits or Limits()
        self.context = context or zmq.Context.instance()
        self.instance = uuid.uuid4().hex
        # accepted jobs not yet finished; both threads touch it, always under _lock
        self.jobs: dict[tuple[bytes, str], Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._stop = threading.Event()
        self._outbox = f"inproc://outbox-{self.instance}"
        self.ready = threading.Event()

    # ------------------------------------------------------------ information
    def info(self) -> dict:
        models = self.models
        settings = models.settings
        return {
            "version": __version__,
            "protocol": proto.PROTOCOL_VERSION,
            "instance": self.instance,
            "model": models.default_card,  # the default model's whole card
            "model_path": str(models.default_path),
            "models": models.describe(),  # the folder read again: models added since show
            "max_loaded_models": models.keep,  # the others load on their next job
            "device": models.device,
            "runtime": models.runtime_name,
            "limits": self.limits.as_dict(),
            "formats": sorted(proto.FORMATS),
            "defaults": proto.DEFAULT_OPTIONS,
            "tiling": {"tile": settings.tile, "overlap": settings.overlap, "batch": settings.batch},
            "workers": 1,
        }

    # ------------------------------------------------------------ sockets
    def serve(self, endpoint: str, curve_secret: bytes | None = None) -> None:
        """Bind a ROUTER at `endpoint` and serve until stop()."""
        sock = make_socket(self.context, zmq.ROUTER, self.limits, curve_secret)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # tell us when a client is gone
        sock.setsockopt(zmq.HEARTBEAT_IVL, 2000)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        sock.bind(endpoint)
        log.info(
            "serving on %s (model %s, %s)", endpoint, self.models.default_path, self.models.device
        )
        self._run(sock, announce=False)

    def work(self, broker_endpoint: str, curve_server_key: bytes | None = None) -> None:
        """Connect to a broker as one of its workers and serve its clients until stop()."""
        sock = make_socket(self.context, zmq.DEALER, self.limits)
        use_curve_client(sock, curve_server_key)
        sock.connect(broker_endpoint)
        log.info(
            "worker of %s (model %s, %s)",
            broker_endpoint,
            self.models.default_path,
            self.models.device,
        )
        self._run(sock, announce=True)

    def stop(self) -> None:
        self._stop.set()

    def busy(self) -> bool:
        with self._lock:
            return bool(self.jobs)

    # ------------------------------------------------------------ main loop
    def _run(self, sock: zmq.Socket, announce: bool) -> None:
        inbox = self.context.socket(zmq.PULL)
        inbox.bind(self._outbox)
        runner = threading.Thread(target=self._inference_loop, name="inference", daemon=True)
        runner.start()
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(inbox, zmq.POLLIN)
        next_beat = 0.0
        last_activity = time.monotonic()
        self.ready.set()
        try:
            while not self._stop.is_set():
                if self.idle_exit and not self.busy():
                    if time.monotonic() - last_activity > self.idle_exit:
                        log.info("no requests for %g s: exiting (--idle-exit)", self.idle_exit)
                        break
                else:
                    last_activity = time.monotonic()
                if announce and time.monotonic() >= next_beat:
                    kind = "ready" if next_beat == 0.0 else "heartbeat"
                    beat = {"v": proto.PROTOCOL_VERSION, "type": kind, "info": self.info()}
                    sock.send_multipart([b"", *proto.encode(beat)])
                    next_beat = time.monotonic() + HEARTBEAT_SECONDS
                events = dict(poller.poll(200))
                if inbox in events:
                    while inbox.poll(0):
                        self._deliver(sock, inbox.recv_multipart())
                if sock in events:
                    last_activity = time.monotonic()
                    while sock.poll(0):
                        frames = sock.recv_multipart()
                        for reply in self._handle(frames[0], frames[1:]):
                            self._deliver(sock, reply)
        finally:
            self._queue.put(None)
            runner.join(timeout=10)
            inbox.close(linger=0)
            sock.close(linger=0)
            log.info("stopped")

    def _deliver(self, sock: zmq.Socket, frames: list[bytes]) -> None:
        try:
            sock.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # the client left (EHOSTUNREACH) or is not reading
            identity = frames[0]
            with self._lock:  # the inference thread removes finished jobs meanwhile
                dropped = [job for key, job in self.jobs.items() if key[0] == identity]
            for job in dropped:
                job.cancelled.set()
            if dropped:
                log.info(
                    "client %s is gone (%s): cancelling %d job(s)",
                    identity.hex(),
                    exc,
                    len(dropped),
                )

    @staticmethod
    def _reply(identity: bytes, header: dict, *payloads: bytes | None) -> list[bytes]:
        return [identity, *proto.encode(header, *payloads)]

    def _handle(self, identity: bytes, frames: list[bytes]) -> list[list[bytes]]:
        """Replies to one request; never raises for anything a client can send."""
        request_id = ""
        try:
            header = proto.parse_request(frames)
            request_id = header["id"]
            op = header["op"]
            if op == "info":
                return [self._reply(identity, proto.reply(request_id, "info", **self.info()))]
            if op == "ping":
                pong = proto.reply(request_id, "pong", version=__version__, instance=self.instance)
                return [self._reply(identity, pong)]
            if op == "cancel":
                return self._cancel(identity, proto.check_cancel(header))
            return [self._reply(identity, self._accept(identity, header, frames))]
        except proto.ProtocolError as exc:
            request_id = request_id or exc.request_id
            log.info("refused request %r: %s", request_id, exc.message)
            return [self._reply(identity, proto.error_reply(request_id, exc.code, exc.message))]
        except Exception as exc:  # a bug must not take the service down
            log.error("request %r failed: %s", request_id, traceback.format_exc())
            return [self._reply(identity, proto.error_reply(request_id, "internal", str(exc)))]

    def _accept(self, identity: bytes, header: dict, frames: list[bytes]) -> dict:
        payload = frames[1] if len(frames) == 2 else None
        options = proto.check_clean(
            header, None if payload is None else len(payload), self.limits.as_dict()
        )
        # an unknown model is refused now, not after the queue (the folder is read again)
        options = options.replace(model=self.models.resolve(options.model))
        key = (identity, header["id"])
        job = Job(identity, header, payload, options)
        with self._lock:
            if key in self.jobs:
                raise proto.ProtocolError("duplicate_id", f"job {header['id']!r} is still running")
            if len(self.jobs) >= self.limits.max_queue:
                raise proto.ProtocolError(
                    "busy", f"{len(self.jobs)} jobs are waiting; try again in a moment"
                )
            held = sum(len(held_job.payload or b"") for held_job in self.jobs.values())
            if self.jobs and held + len(payload or b"") > self.limits.max_queued_bytes:
                # a job alone is always taken (the size limits bound it); others wait
                raise proto.ProtocolError(
                    "busy",
                    f"jobs waiting hold {held / 1e6:.0f} MB of pixels; this one would pass the "
                    f"{self.limits.max_queued_bytes / 1e6:.0f} MB budget: try again in a moment",
                )
            self.jobs[key] = job
            position = len(self.jobs) - 1
        self._queue.put(job)
        return proto.reply(job.id, "accepted", queue_position=position)

    def _cancel(self, identity: bytes, target: str) -> list[list[bytes]]:
        """A queued job is answered `cancelled` now and dropped (the inference thread skips
        it); a running one stops at its next tile batch and is answered from there."""
        with self._lock:
            job = self.jobs.get((identity, target))
            if job is None:
                return []
            job.cancelled.set()
            if job.started:
                log.info("job %s: cancel requested", target)  # stops at its next tile batch
                return []
            del self.jobs[(identity, target)]
            job.payload = None  # free its pixels now, not when the queue reaches it
        log.info("job %s cancelled while queued", target)
        return [self._reply(identity, proto.reply(target, "cancelled"))]

    # ------------------------------------------------------------ inference thread
    def _inference_loop(self) -> None:
        outbox = self.context.socket(zmq.PUSH)
        outbox.connect(self._outbox)
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                with self._lock:
                    if self.jobs.get((job.identity, job.id)) is not job:
                        continue  # cancelled while queued: already answered
                    job.started = True
                try:
                    self._run_job(job, outbox)
                finally:
                    with self._lock:
                        self.jobs.pop((job.identity, job.id), None)
        finally:
            outbox.close(linger=0)

    def _run_job(self, job: Job, outbox: zmq.Socket) -> None:
        def send(header: dict, *payloads: bytes | None) -> None:
            outbox.send_multipart(self._reply(job.identity, header, *payloads))

        last = [0.0]

        def progress(stage: str, done: int, total: int) -> None:
            now = time.monotonic()
            if done in (0, total) or now - last[0] >= PROGRESS_INTERVAL:
                last[0] = now
                send(proto.reply(job.id, "progress", stage=stage, done=done, total=total))

        if job.cancelled.is_set():
            send(proto.reply(job.id, "cancelled"))
            return
        header = job.header
        assert job.payload is not None  # only a cancelled job lets go of its pixels
        try:
            result, fields = self.models.clean(
                job.payload,
                header["width"],
                header["height"],
                header["format"],
                job.options,
                progress,
                job.cancelled.is_set,
                region=job.region,
            )
        except Cancelled:
            log.info("job %s cancelled", job.id)
            send(proto.reply(job.id, "cancelled"))
        except proto.ProtocolError as exc:
            send(proto.error_reply(job.id, exc.code, exc.message))
        except ModelUnavailable as exc:
            log.error("job %s: %s", job.id, exc)
            send(proto.error_reply(job.id, "internal", str(exc)))
        except MemoryError:
            send(proto.error_reply(job.id, "internal", "out of memory on this image"))
        except Exception as exc:
            log.error("job %s failed: %s", job.id, traceback.format_exc())
            send(proto.error_reply(job.id, "internal", f"{type(exc).__name__}: {exc}"))
        else:
            log.info(
                "job %s: %dx%d in %.2fs (model %s, %d tiles, scale %.2f, dense %.1f%%)",
                job.id,
                header["width"],
                header["height"],
                fields["seconds"],
                fields.get("model"),
                fields["tiles"],
                fields["scale"],
                100 * fields.get("dense", 0.0),
            )
            svg = fields.pop("svg", None)
            svg_frame = None if svg is None else svg.encode("utf-8")
            fields["svg_bytes"] = None if svg_frame is None else len(svg_frame)
            send(proto.reply(job.id, "result", worker=self.instance, **fields), result, svg_frame)
