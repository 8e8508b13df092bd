"""Seeded, bounded protocol fuzzing of a real `serve` and a real broker + worker.

Thousands of malformed, mutated and some valid requests: every reply must be a well-formed
answer or an error with a known code (never `internal`), every request that is answered gets
exactly one final answer, the process lives on, and a reference request gives the same bytes
as before.
"""

import json
import random
import time

import pytest
import zmq

from sketch_kit import protocol as proto
from sketch_kit.client import Client
from tests.support import fixtures

SEED = 20240611
MESSAGES = 3000  # per target: a few seconds each on 2 busy cores
BATCH = 100  # requests between barrier pings
TERMINAL = {"info", "pong", "result", "cancelled", "error"}
REPLY_TYPES = TERMINAL | {"accepted", "progress"}


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(10 if depth < 3 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 7, 2**31, 2**63, -(2**70), 10**30, 8])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e308, 1e-300, 0.1, 4.0, 3.999, float("nan"), float("inf")])
    if kind in (4, 5, 6):
        return rng.choice(
            [
                "",
                "rgba8",
                "gray8",
                "auto",
                "otsu",
                "#00ff00",
                "#0x1234",
                "\ud800",  # a lone surrogate
                "é" * rng.randrange(1, 80),
                "x" * rng.randrange(60, 70),
                "\x00",
                "٠١٢٣٤٥",
            ]
        )
    if kind in (7, 8):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        str(random_value(rng, 3)): random_value(rng, depth + 1) for _ in range(rng.randrange(4))
    }


def random_options(rng: random.Random):
    names = [*proto.CleanOptions.names(), "colour", "line_width"]
    options = {}
    for name in rng.sample(names, rng.randrange(len(names))):
        valid = {
            "style": rng.choice(proto.STYLES),
            "color": f"#{rng.randrange(1 << 24):06x}",
            "threshold": rng.choice([*proto.THRESHOLDS, 0.3]),
            "scale": rng.choice(["auto", 0.5, 1.0]),
            "output_format": rng.choice(sorted(proto.FORMATS)),
            "model": rng.choice([None, "test-model", "no-such-model"]),
            "flatten": rng.random() < 0.5,
        }
        options[name] = valid[name] if name in valid and rng.random() < 0.7 else random_value(rng)
    return options


def valid_clean(rng: random.Random, request_id: str) -> list[bytes]:
    fmt = rng.choice(sorted(proto.FORMATS))
    side = 8
    header = {"v": 1, "op": "clean", "id": request_id, "width": side, "height": side}
    header.update(format=fmt, options=random_options(rng))
    if rng.random() < 0.5:
        header["options"] = {
            k: v for k, v in header["options"].items() if k in proto.CleanOptions.names()
        }
    size = side * side * proto.bytes_per_pixel(fmt)
    return [json.dumps(header).encode(), rng.randbytes(size)]


def fuzz_message(rng: random.Random, request_id: str, earlier: list[str]) -> list[bytes]:
    """One request: junk, JSON that is not a request, or a request with a field broken."""
    roll = rng.random()
    if roll < 0.08:
        return [rng.randbytes(rng.randrange(64)) for _ in range(rng.randrange(1, 4))]
    if roll < 0.14:
        return [json.dumps(random_value(rng)).encode()]
    if roll < 0.17:
        depth = rng.choice([100, 990, 1000, 3000, 20000])
        opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
        nested = opener * depth + "1" + closer * depth
        text = f'{{"v":1,"op":"clean","id":"{request_id}","x":{nested}}}'
        return [text.encode()[: proto.MAX_HEADER_BYTES + rng.choice([0, 10])]]
    if roll < 0.20:
        return valid_clean(rng, request_id)
    op = rng.choice([*proto.REQUEST_OPS, "clean", "clean", "cancel", "explode"])
    header = {"v": 1, "op": op, "id": request_id}
    if op == "clean":
        fmt = rng.choice(sorted(proto.FORMATS))
        header.update(width=4, height=4, format=fmt, options=random_options(rng))
    if op == "cancel":
        header["target"] = rng.choice(earlier) if earlier and rng.random() < 0.5 else "nothing"
    for _ in range(rng.randrange(1, 4)):
        field = rng.choice([*header, "width", "height", "format", "options", "target", "zz"])
        if field == "id":
            header["id"] = rng.choice([None, 5, "", "L" * 65, ["a"]])  # invalid ids only
        elif rng.random() < 0.2:
            header.pop(field, None)
        else:
            header[field] = random_value(rng)
    frames = [json.dumps(header).encode()]
    if op == "clean" or rng.random() < 0.1:
        fmt = header.get("format")
        known = isinstance(fmt, str) and fmt in proto.FORMATS
        exact = 16 * proto.bytes_per_pixel(fmt) if known else 64
        frames.append(rng.randbytes(rng.choice([exact, exact, 0, exact + 1])))
    if rng.random() < 0.03:
        frames.append(b"extra")
    return frames


def check_reply(frames: list[bytes]) -> dict:
    header = json.loads(frames[0])
    assert isinstance(header, dict) and header["v"] == 1 and isinstance(header["id"], str)
    kind = header["type"]
    assert kind in REPLY_TYPES, header
    if kind == "error":
        assert header["code"] in proto.ERROR_CODES and header["code"] != "internal", header
        assert isinstance(header["message"], str) and header["message"]
    if kind == "result":
        expected = header["width"] * header["height"] * proto.bytes_per_pixel(header["format"])
        assert len(frames) == 2 and len(frames[1]) == expected, header
    else:
        assert len(frames) == 1, header
    return header


def reference_bytes(endpoint: str) -> bytes:
    gray = fixtures.drawing(48, 48, seed=42)
    with Client(endpoint) as client:
        options = {"scale": 1.0, "style": "soft", "output_format": "graya8"}
        return client.clean(gray.tobytes(), 48, 48, "gray8", options, timeout=60)[1]


def fuzz(endpoint: str, seed: int) -> dict:
    """Send MESSAGES fuzzed requests; return {id: [reply types]} once all jobs are final."""
    rng = random.Random(seed)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    answers: dict[str, list[str]] = {}
    sent: list[str] = []

    def receive_until(done, timeout=60.0):
        deadline = time.monotonic() + timeout
        while not done():
            assert sock.poll(max(1, int((deadline - time.monotonic()) * 1000))), "no reply"
            header = check_reply(sock.recv_multipart())
            answers.setdefault(header["id"], []).append(header["type"])

    def settled():
        return all(
            any(kind in TERMINAL for kind in kinds)
            for request_id, kinds in answers.items()
            if request_id in sent
        )

    try:
        for start in range(0, MESSAGES, BATCH):
            for n in range(start, start + BATCH):
                request_id = f"fz{n}"
                sock.send_multipart(fuzz_message(rng, request_id, sent[-20:]))
                sent.append(request_id)
            barrier = f"barrier{start}"
            sock.send_multipart([json.dumps({"v": 1, "op": "ping", "id": barrier}).encode()])
            receive_until(lambda b=barrier: b in answers)
        receive_until(settled, timeout=120)
        sock.send_multipart([b'{"v":1,"op":"ping","id":"last"}'])
        receive_until(lambda: "last" in answers)  # and nothing else straggles in meanwhile
    finally:
        sock.close()
    return {request_id: answers[request_id] for request_id in sent if request_id in answers}


def check_answers(answers: dict) -> None:
    for request_id, kinds in answers.items():
        finals = [kind for kind in kinds if kind in TERMINAL]
        assert len(finals) == 1, (request_id, kinds)  # exactly one final answer
        assert kinds[-1] in TERMINAL, (request_id, kinds)  # nothing after it
    assert len(answers) > MESSAGES // 2  # most requests were answered by id
    assert any("result" in kinds for kinds in answers.values())  # some were valid jobs


@pytest.mark.parametrize("target", ["serve", "broker"])
def test_fuzzed_requests(target, backend_server, broker_server):
    server = backend_server if target == "serve" else broker_server
    before = reference_bytes(server["endpoint"])
    answers = fuzz(server["endpoint"], SEED + (target == "broker"))
    check_answers(answers)
    assert server["proc"].poll() is None
    if target == "broker":
        assert server["worker"].poll() is None
        assert "Traceback" not in server["log"].read_text()
    assert reference_bytes(server["endpoint"]) == before


def test_fuzzed_worker_endpoint(broker_server):
    """Frames that are no worker's messages, from a local peer, are ignored."""
    rng = random.Random(SEED + 2)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker_server["workers_endpoint"])
    try:
        for _ in range(500):
            frames = [rng.randbytes(rng.randrange(40)) for _ in range(rng.randrange(1, 5))]
            if rng.random() < 0.5:
                frames[0] = rng.choice([b"", b"someone"])
            if rng.random() < 0.3 and len(frames) > 1:
                frames[1] = json.dumps(random_value(rng)).encode()  # not a ready/heartbeat
            sock.send_multipart(frames)
        time.sleep(0.5)
    finally:
        sock.close()
    assert broker_server["proc"].poll() is None
    with Client(broker_server["endpoint"]) as client:
        assert client.info()["workers"] == 1
