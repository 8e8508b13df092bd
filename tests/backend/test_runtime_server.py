"""`--runtime` and the queued-bytes budget through real `serve` processes and sockets."""

import numpy as np
import pytest

from sketch_kit import protocol as proto
from sketch_kit.client import Client
from tests.support import fixtures

BUDGET = 4_000_000  # bytes of queued pixels


@pytest.fixture(scope="module")
def keras_server(test_model, tmp_path_factory):
    """A second real backend: Keras runtime, a small queued-bytes budget."""
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    log = tmp_path_factory.mktemp("keras-logs") / "backend.log"
    args = ["serve", "--bind", endpoint, "--model", str(test_model), "--runtime", "keras"]
    args += [*fixtures.TEST_SERVE_OPTIONS, "--max-queued-bytes", str(BUDGET)]
    proc = fixtures.start_backend(args, log)
    try:
        fixtures.wait_ready(endpoint, proc, log)
        yield endpoint
    finally:
        fixtures.stop(proc)


def test_auto_runtime_is_openvino_on_this_cpu(backend_server):
    pytest.importorskip("openvino")
    with Client(backend_server["endpoint"]) as client:
        info = client.info()
    assert info["runtime"] == "openvino" and info["device"].startswith("openvino")
    assert info["limits"]["max_queued_bytes"] > 0


def test_runtime_flag_is_reported_and_results_agree(keras_server, backend_server):
    gray = fixtures.drawing(300, 420, seed=4)
    options = {"style": "soft", "scale": 1.0, "output_format": "gray8"}
    results = {}
    for endpoint in (keras_server, backend_server["endpoint"]):
        with Client(endpoint) as client:
            info = client.info()
            _, out = client.clean(gray.tobytes(), 420, 300, "gray8", options, timeout=60)
        results[info["runtime"]] = np.frombuffer(out, np.uint8).astype(int)
    assert "keras" in results and len(results) == 2  # the session backend runs `auto`
    first, second = results.values()
    assert np.abs(first - second).max() <= 1  # equal up to rounding to 8 bits


def test_jobs_past_the_queued_bytes_budget_are_told_busy(keras_server):
    big = fixtures.drawing(3000, 3000, seed=6)  # 9 MB: over the budget, but alone, so taken
    small = fixtures.drawing(100, 100, seed=7)
    options = {"scale": 1.0}
    with Client(keras_server) as client:
        assert client.info()["limits"]["max_queued_bytes"] == BUDGET
        first = client.start_clean(big.tobytes(), 3000, 3000, "gray8", options)
        second = client.start_clean(small.tobytes(), 100, 100, "gray8", options)
        with pytest.raises(proto.BackendError) as refused:
            client.wait(second, timeout=60)
        assert refused.value.code == "busy" and "budget" in refused.value.message
        header, _ = client.wait(first, timeout=300)
        assert header["width"] == 3000
        header, _ = client.clean(small.tobytes(), 100, 100, "gray8", options, timeout=60)
        assert header["width"] == 100  # once the big job is done there is room again
