"""The broker with a real worker behind it: bad input from either side, ids, clients that
leave. (Spreading jobs over workers and dead workers: test_lifecycle.)"""

import json
import time

import pytest

from sketch_kit import protocol as proto
from sketch_kit.client import Client
from tests.backend.test_server import clean_header, final_reply
from tests.support import fixtures


@pytest.fixture
def raw(broker_server):
    with fixtures.dealer(broker_server["endpoint"]) as sock:
        yield sock


def broker_is_well(broker_server):
    assert broker_server["proc"].poll() is None, broker_server["log"].read_text()[-3000:]
    with Client(broker_server["endpoint"]) as client:
        info = client.info(timeout=5)
    assert info["workers"] == 1
    return info


@pytest.mark.parametrize(
    "frames, code",
    [
        ([clean_header(format=[]), b"\0" * 16], "unsupported_format"),
        ([clean_header(options={"output_format": {}}), b"\xff" * 64], "unsupported_format"),
        ([clean_header(options={"color": "#0x1234"}), b"\xff" * 64], "bad_request"),
        (
            [b'{"v":1,"op":"clean","id":"a","x":' + b"[" * 1000 + b"]" * 1000 + b"}"],
            "bad_message",
        ),
        ([b'{"v":1,"op":"cancel","id":"a"}'], "bad_request"),
        ([b"not json"], "bad_message"),
    ],
)
def test_bad_client_frames_get_errors_and_the_broker_goes_on(broker_server, raw, frames, code):
    """Each of these used to kill the broker (only ProtocolError was caught)."""
    raw.send_multipart(frames)
    header, _ = final_reply(raw, timeout=10)
    assert (header["type"], header["code"]) == ("error", code), header
    broker_is_well(broker_server)


@pytest.mark.parametrize(
    "frames",
    [[b"", b"not json"], [b""], [b"x"], [b"", b"[1]"], [b"", b"{}", b"a", b"b", b"c"]],
)
def test_junk_on_the_worker_endpoint_is_ignored(broker_server, frames):
    """Any local DEALER can reach the worker endpoint; `[b"", b"not json"]` killed it."""
    with fixtures.dealer(broker_server["workers_endpoint"]) as sock:
        sock.send_multipart(frames)
        time.sleep(0.3)
    broker_is_well(broker_server)


def test_duplicate_ids_are_refused_as_serve_does(broker_server, raw):
    gray = fixtures.drawing(700, 700, seed=3)
    header = {"v": 1, "op": "clean", "id": "X", "width": 700, "height": 700, "format": "gray8"}
    frames = [json.dumps({**header, "options": {"scale": 1.0}}).encode(), gray.tobytes()]
    for _ in range(6):
        raw.send_multipart(frames)
    finals = []
    while len(finals) < 6:
        header, _ = final_reply(raw, timeout=60)
        finals.append(header.get("code", header["type"]))
    assert sorted(finals) == ["duplicate_id"] * 5 + ["result"]
    raw.send_multipart([b'{"v":1,"op":"ping","id":"p"}'])
    assert raw.poll(5000)
    assert json.loads(raw.recv_multipart()[0])["type"] == "pong"  # no seventh reply came


def test_a_client_that_leaves_mid_job_frees_the_worker(broker_server):
    """The broker tells the worker to stop the job of a client that left (it used to run
    it to the end), so the next client does not wait for it."""
    endpoint = broker_server["endpoint"]
    leaving = Client(endpoint)
    gray = fixtures.drawing(3000, 3000, seed=4)
    job = leaving.start_clean(gray.tobytes(), 3000, 3000, "gray8", {"scale": 1.0})
    deadline = time.monotonic() + 60
    while job.stage != "inference":
        leaving.pump(0.05)
        assert time.monotonic() < deadline and not job.finished
    leaving.close()
    log = broker_server["worker_log"]
    deadline = time.monotonic() + 30
    while f"job {job.id} cancelled" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    assert f"job {job.id}: 3000x3000" not in log.read_text()  # it did not run to the end
    with Client(endpoint) as client:
        small = fixtures.drawing(64, 64)
        assert client.clean(small.tobytes(), 64, 64, "gray8", timeout=30)[0]["type"] == "result"
    broker_is_well(broker_server)


def test_the_broker_lists_its_workers_models_and_runs_the_named_one(broker_server):
    gray = fixtures.drawing(64, 64)
    with Client(broker_server["endpoint"]) as client:
        models = {m["name"]: m for m in client.info()["models"]}
        assert models["test-model"]["workers"] == 1 and models["test-model"]["default"]
        header, _ = client.clean(gray.tobytes(), 64, 64, "gray8", {"model": "test-model"})
        assert header["model"] == "test-model"
        with pytest.raises(proto.BackendError) as err:  # refused by the worker, passed on
            client.clean(gray.tobytes(), 64, 64, "gray8", {"model": "no-such-model"})
        assert err.value.code == "bad_request" and "no-such-model" in err.value.message
    broker_is_well(broker_server)


def test_a_job_goes_to_a_worker_that_has_its_model(tmp_path):
    """Two workers, two models folders: only B has small-unet, so every job naming it runs
    on B (A would refuse it), and waits for B while A stands idle."""
    front = f"tcp://127.0.0.1:{fixtures.free_port()}"
    back = f"tcp://127.0.0.1:{fixtures.free_port()}"
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        fixtures.save_test_model(tmp_path / folder, name="pencil")
    fixtures.save_test_model(tmp_path / "b", unet=True, name="small-unet")
    broker = ["broker", "--bind", front, "--workers", back]
    procs = [fixtures.start_backend(broker, tmp_path / "log")]
    for folder in ("a", "b"):
        model = str(tmp_path / folder / "pencil.keras")
        args = ["worker", "--connect", back, "--model", model, "--tile", "256"]
        procs.append(fixtures.start_backend(args, tmp_path / f"{folder}.log"))
    try:
        fixtures.wait_for_workers(front, 2, procs[0], tmp_path / "log")
        gray = fixtures.drawing(300, 300, seed=5)
        with Client(front) as client:
            models = {m["name"]: m["workers"] for m in client.info()["models"]}
            assert models == {"pencil": 2, "small-unet": 1}
            jobs = [
                client.start_clean(gray.tobytes(), 300, 300, "gray8", {"model": "small-unet"})
                for _ in range(4)
            ]
            headers = [client.wait(job, timeout=120)[0] for job in jobs]
        assert {h["model"] for h in headers} == {"small-unet"}
        assert len({h["worker"] for h in headers}) == 1
    finally:
        for proc in procs:
            fixtures.stop(proc)
