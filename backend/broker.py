"""Several GPUs behind one address: ZeroMQ's load-balancing broker.

Workers (`python -m backend worker`, one per GPU) connect to the worker-facing ROUTER and
announce themselves; each clean job goes to the least recently used idle worker, waits in
a bounded queue when all are busy, and the worker is idle again once it sends the job's
final reply. Workers send heartbeats carrying their `info`, models included; a silent
worker is dropped and its client told. A job that names a model goes to a worker that
reports it; one no worker reports goes to any, which reads its folder again and answers.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import zmq

from backend import __version__
from backend.server import HEARTBEAT_SECONDS, Limits, make_socket
from sketch_kit import protocol as proto

log = logging.getLogger("backend.broker")
WORKER_TIMEOUT = 5 * HEARTBEAT_SECONDS


@dataclass
class Worker:
    identity: bytes
    info: dict
    last_seen: float
    job: tuple[bytes, str] | None = None
    cancel_sent: bool = False  # its job's client left and the worker was told to stop

    @property
    def models(self) -> list[dict]:
        """The models its latest heartbeat reported (entries of `info.models`)."""
        models = self.info.get("models")
        return [m for m in models if isinstance(m, dict)] if isinstance(models, list) else []

    def has(self, model: str) -> bool:
        return any(m.get("name") == model for m in self.models)


@dataclass(eq=False)  # the queue removes entries by identity, never comparing pixels
class Waiting:
    """A clean job in the broker's queue; model None: whichever is a worker's default."""

    client: bytes
    job_id: str
    frames: list[bytes]
    model: str | None


@dataclass
class Broker:
    limits: Limits = field(default_factory=Limits)
    context: zmq.Context = field(default_factory=zmq.Context.instance)

    def __post_init__(self):
        self.instance = uuid.uuid4().hex
        self.workers: OrderedDict[bytes, Worker] = OrderedDict()
        self.idle: deque[bytes] = deque()
        self.waiting: deque[Waiting] = deque()
        self._running = True

    def stop(self) -> None:
        self._running = False

    def info(self) -> dict:
        first = next(iter(self.workers.values()), None)
        base = dict(first.info) if first else {"model": {}, "device": "no worker connected"}
        return {
            **base,
            "models": self.models(),
            "version": __version__,
            "protocol": proto.PROTOCOL_VERSION,
            "instance": self.instance,
            "limits": self.limits.as_dict(),
            "formats": sorted(proto.FORMATS),
            "defaults": proto.DEFAULT_OPTIONS,
            "workers": len(self.workers),
            "devices": [w.info.get("device") for w in self.workers.values()],
            "queued": len(self.waiting),
        }

    def models(self) -> list[dict]:
        """Every model some worker reports, once, with how many workers have it."""
        merged: dict[str, dict] = {}
        for worker in self.workers.values():
            for model in worker.models:
                name = model.get("name")
                if isinstance(name, str):
                    entry = merged.setdefault(name, {**model, "workers": 0})
                    entry["workers"] += 1
        return list(merged.values())

    def run(self, frontend: str, backend: str, curve_secret: bytes | None = None) -> None:
        clients = make_socket(self.context, zmq.ROUTER, self.limits, curve_secret)
        clients.setsockopt(zmq.ROUTER_MANDATORY, 1)  # tell us when a client is gone
        clients.setsockopt(zmq.HEARTBEAT_IVL, 2000)
        clients.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        clients.bind(frontend)
        workers = make_socket(self.context, zmq.ROUTER, self.limits, curve_secret)
        workers.setsockopt(zmq.ROUTER_MANDATORY, 1)
        workers.bind(backend)
        log.info("broker: clients on %s, workers on %s", frontend, backend)
        poller = zmq.Poller()
        poller.register(clients, zmq.POLLIN)
        poller.register(workers, zmq.POLLIN)
        try:
            while self._running:
                events = dict(poller.poll(200))
                if workers in events:
                    while workers.poll(0):
                        frames = workers.recv_multipart()
                        self._guarded(self._from_worker, frames, clients, workers)
                if clients in events:
                    while clients.poll(0):
                        frames = clients.recv_multipart()
                        self._guarded(self._from_client, frames, clients, workers)
                self._drop_silent_workers(clients)
                self._dispatch(workers, clients)
        finally:
            clients.close(linger=0)
            workers.close(linger=0)

    @staticmethod
    def _guarded(handle, frames: list[bytes], clients: zmq.Socket, workers: zmq.Socket) -> None:
        """Run one message's handler; a bug it hits is logged and the broker goes on."""
        try:
            handle(frames, clients, workers)
        except Exception:
            log.error("message from %s failed: %s", frames[0].hex(), traceback.format_exc())

    @staticmethod
    def _send(sock: zmq.Socket, frames: list[bytes]) -> bool:
        try:
            sock.send_multipart(frames, flags=zmq.NOBLOCK)
            return True
        except zmq.ZMQError:
            return False

    def _to_client(self, clients: zmq.Socket, workers: zmq.Socket, frames: list[bytes]) -> None:
        """Send to a client; if it has left, cancel its running jobs and drop its queued ones."""
        try:
            clients.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                self._client_gone(frames[0], workers)

    def _client_gone(self, client: bytes, workers: zmq.Socket) -> None:
        queued = [entry for entry in self.waiting if entry.client == client]
        for entry in queued:
            self.waiting.remove(entry)
        running = [w for w in self.workers.values() if w.job and w.job[0] == client]
        for worker in running:
            if worker.cancel_sent:
                continue
            worker.cancel_sent = True
            assert worker.job is not None
            job_id = worker.job[1]
            cancel = {"v": proto.PROTOCOL_VERSION, "op": "cancel", "id": job_id, "target": job_id}
            self._send(workers, [worker.identity, client, *proto.encode(cancel)])
        if queued or running:
            log.info(
                "client %s is gone: cancelling %d job(s), dropping %d queued",
                client.hex(),
                len(running),
                len(queued),
            )

    # ------------------------------------------------------------ workers
    def _from_worker(self, frames: list[bytes], clients: zmq.Socket, workers: zmq.Socket) -> None:
        if not 3 <= len(frames) <= 5:  # identity, client, header, pixels, SVG
            log.warning("ignored a %d-frame message on the worker socket", len(frames))
            return
        identity, target, rest = frames[0], frames[1], frames[2:]
        worker = self.workers.get(identity)
        try:
            header = proto.decode_header(rest[0])
        except proto.ProtocolError as exc:
            log.warning("ignored a message from worker %s: %s", identity.hex(), exc.message)
            return
        if target == b"":  # ready / heartbeat
            if header.get("type") not in ("ready", "heartbeat"):
                log.warning("ignored a %r message from %s", header.get("type"), identity.hex())
                return
            info = header.get("info")
            info = info if isinstance(info, dict) else {}
            if worker is None:
                worker = Worker(identity, info, time.monotonic())
                self.workers[identity] = worker
                self.idle.append(identity)
                log.info("worker %s joined (%s)", identity.hex(), worker.info.get("device"))
            worker.info = info  # models added to its folder since show up here
            worker.last_seen = time.monotonic()
            return
        if worker is None:
            return
        worker.last_seen = time.monotonic()
        self._to_client(clients, workers, [target, *rest])
        if header.get("type") in proto.FINAL_TYPES and worker.job == (target, header.get("id")):
            worker.job = None
            worker.cancel_sent = False
            self.idle.append(identity)

    def _drop_silent_workers(self, clients: zmq.Socket) -> None:
        now = time.monotonic()
        for identity, worker in list(self.workers.items()):
            if now - worker.last_seen <= WORKER_TIMEOUT:
                continue
            log.warning("worker %s stopped answering; dropping it", identity.hex())
            del self.workers[identity]
            if identity in self.idle:
                self.idle.remove(identity)
            if worker.job:
                client, job_id = worker.job
                error = proto.error_reply(job_id, "internal", "the worker running this job died")
                self._send(clients, [client, *proto.encode(error)])

    def _worker_for(self, model: str | None) -> bytes | None:
        """The least recently used idle worker that can run `model`, if one is idle now.

        Any worker runs model None (its own default) and a model no worker reports (it reads
        its folder again: a model just copied there runs, an unknown one is refused)."""
        if model is not None and any(w.has(model) for w in self.workers.values()):
            return next((i for i in self.idle if self.workers[i].has(model)), None)
        return self.idle[0] if self.idle else None

    def _dispatch(self, workers: zmq.Socket, clients: zmq.Socket) -> None:
        """Queued jobs in order, each to a worker that can run it; a job whose workers are
        all busy waits without holding up the jobs behind it."""
        for entry in list(self.waiting):
            if not self.idle:
                return
            identity = self._worker_for(entry.model)
            if identity is None:
                continue
            self.idle.remove(identity)
            if not self._send(workers, [identity, entry.client, *entry.frames]):
                continue  # that worker is gone: it is dropped once silent, the job waits
            self.waiting.remove(entry)
            self.workers[identity].job = (entry.client, entry.job_id)
            self.workers[identity].cancel_sent = False

    # ------------------------------------------------------------ clients
    def _from_client(self, frames: list[bytes], clients: zmq.Socket, workers: zmq.Socket) -> None:
        """Answer info/ping, queue clean, route cancel; never raises for a client's input."""
        client, body = frames[0], frames[1:]
        request_id = ""
        try:
            header = proto.parse_request(body)
            request_id = header["id"]
            op = header["op"]
            if op == "info":
                answer = proto.reply(request_id, "info", **self.info())
            elif op == "ping":
                answer = proto.reply(
                    request_id, "pong", version=__version__, instance=self.instance
                )
            elif op == "cancel":
                self._cancel(client, proto.check_cancel(header), body, clients, workers)
                return
            else:
                options = proto.check_clean(
                    header, len(body[1]) if len(body) == 2 else None, self.limits.as_dict()
                )
                if self._holds(client, request_id):  # the rule `serve` follows
                    raise proto.ProtocolError(
                        "duplicate_id", f"job {request_id!r} is still running"
                    )
                if len(self.waiting) >= self.limits.max_queue:
                    raise proto.ProtocolError("busy", "all workers are busy and the queue is full")
                self.waiting.append(Waiting(client, request_id, body, options.model))
                if not self.idle:
                    answer = proto.reply(
                        request_id,
                        "progress",
                        stage="queued",
                        done=len(self.waiting),
                        total=len(self.waiting),
                    )
                else:
                    return
        except proto.ProtocolError as exc:
            answer = proto.error_reply(request_id or exc.request_id, exc.code, exc.message)
        except Exception as exc:  # a bug must not take the broker down
            log.error("request %r failed: %s", request_id, traceback.format_exc())
            answer = proto.error_reply(request_id, "internal", f"{type(exc).__name__}: {exc}")
        self._to_client(clients, workers, [client, *proto.encode(answer)])

    def _holds(self, client: bytes, job_id: str) -> bool:
        """Whether a job with this id from this client is queued or running."""
        if any(entry.client == client and entry.job_id == job_id for entry in self.waiting):
            return True
        return any(w.job == (client, job_id) for w in self.workers.values())

    def _cancel(self, client, target: str, body, clients, workers) -> None:
        """A queued job is answered here; a running one is passed to its worker."""
        for entry in list(self.waiting):
            if entry.client == client and entry.job_id == target:
                self.waiting.remove(entry)
                self._send(clients, [client, *proto.encode(proto.reply(target, "cancelled"))])
                return
        for worker in self.workers.values():
            if worker.job == (client, target):
                self._send(workers, [worker.identity, client, *body])
                return
