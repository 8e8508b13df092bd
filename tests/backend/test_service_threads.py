"""The service's two threads share its job table: checked with the real inference thread."""

import threading
import time

import zmq

from backend.server import Limits, Service


class InstantModels:
    """Finishes every job at once, so the inference thread retires jobs as fast as it can."""

    def resolve(self, name):
        return "instant"

    def clean(self, payload, width, height, fmt, options, progress=None, stop=None, region=None):
        return b"", {"seconds": 0, "tiles": 0, "scale": 1.0, "model": options.model}


class SlowIdentity(bytes):
    """A client identity whose every comparison lets other threads run (as a thread switch
    at the wrong moment would), so a scan of the job table overlaps the inference thread."""

    def __eq__(self, other):
        time.sleep(0.0001)
        return bytes(self) == other

    __hash__ = bytes.__hash__


class Unreachable:
    """A client socket whose client has left."""

    def send_multipart(self, frames, flags=0):
        raise zmq.ZMQError(zmq.EHOSTUNREACH)


def test_delivery_failures_while_the_inference_thread_retires_jobs():
    """_deliver scans the job table for a vanished client's jobs while the inference thread
    removes finished ones: unguarded, that raised "dictionary changed size during
    iteration" out of the main loop."""
    context = zmq.Context()
    service = Service(InstantModels(), Limits(max_queue=1_000_000), context=context)
    inbox = context.socket(zmq.PULL)
    inbox.bind(service._outbox)
    runner = threading.Thread(target=service._inference_loop, daemon=True)
    runner.start()
    try:
        for round_ in range(5):
            for n in range(200):
                header = {"id": f"{round_}-{n}", "width": 1, "height": 1, "format": "gray8"}
                service._accept(b"client", header, [b"{}", b"\0"])
            service._deliver(Unreachable(), [SlowIdentity(b"gone"), b"{}"])
            while inbox.poll(200):
                inbox.recv_multipart()
    finally:
        service._queue.put(None)
        runner.join(10)
        inbox.close(linger=0)
        context.term()
    assert not runner.is_alive() and not service.jobs
