"""Real models, real drawings and a real backend process for the tests."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def build_threshold_model():
    """A small real Keras model with hand-set weights: dark strokes → line, paper → paper.

    Output = sigmoid(20 · (0.8 · mean5x5(x) + 0.2 · coarse8(x)) − 12): a local mean with
    some 8x8 context (so it needs multiples of 8 and has a receptive field wider than one
    pixel, which makes tiling and seams testable), then a steep threshold near 0.6.
    """
    import keras

    inp = keras.Input((None, None, 1))
    local = keras.layers.Conv2D(1, 5, padding="same", use_bias=False, name="local")(inp)
    coarse = keras.layers.AveragePooling2D(8)(inp)
    coarse = keras.layers.UpSampling2D(8)(coarse)
    mixed = keras.layers.Concatenate()([local, coarse])
    mixed = keras.layers.Conv2D(1, 1, use_bias=False, name="mix")(mixed)
    out = keras.layers.Conv2D(1, 1, activation="sigmoid", name="decide")(mixed)
    model = keras.Model(inp, out, name="threshold_test_model")
    model.get_layer("local").set_weights([np.full((5, 5, 1, 1), 1 / 25, np.float32)])
    model.get_layer("mix").set_weights([np.array([[[[0.8], [0.2]]]], np.float32)])
    model.get_layer("decide").set_weights(
        [np.full((1, 1, 1, 1), 20.0, np.float32), np.array([-12.0], np.float32)]
    )
    return model


def build_small_unet(seed: int = 0):
    """A two-level U-Net with the shipped model's kinds of layers (3x3 convolutions, batch
    norm with non-trivial statistics, ReLU, max pooling, transposed convolution, skip
    concatenation, sigmoid) and random weights: what a runtime must convert faithfully."""
    import keras

    keras.utils.set_random_seed(seed)  # the convolutions' initial weights too
    rng = np.random.default_rng(seed)
    inp = keras.Input((None, None, 1), name="sketch")
    skips, x = [], inp
    for level, width in enumerate((8, 16)):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    for width, skip in zip((16, 8), reversed(skips), strict=True):
        x = keras.layers.Conv2DTranspose(width, 2, strides=2, padding="same")(x)
        x = keras.layers.Concatenate()([x, skip])
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    out = keras.layers.Conv2D(1, 1, activation="sigmoid")(x)
    model = keras.Model(inp, out, name="small_unet")
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                    rng.normal(0, 0.2, beta.shape).astype(np.float32),
                    rng.normal(0, 0.3, mean.shape).astype(np.float32),
                    rng.uniform(0.5, 2.0, var.shape).astype(np.float32),
                ]
            )
    return model


def save_test_model(
    directory: Path,
    stroke_width_px: float = 3.0,
    unet: bool = False,
    name: str | None = None,
    card: dict | None = None,
) -> Path:
    """The threshold model (or, with unet=True, the small random U-Net) and its card, as
    NAME.keras and NAME.json (`card` adds to or replaces the card's fields)."""
    name = name or ("small-unet" if unet else "test-model")
    path = Path(directory) / f"{name}.keras"
    network = build_small_unet() if unet else build_threshold_model()
    network.save(path)
    written = {
        "name": "small-unet-test-model" if unet else "threshold-test-model",
        "version": "test",
        "card_format": 1,
        "architecture": {"params": network.count_params()},
        "input": {"channels": 1, "multiple": 8, "range": [0, 1], "polarity": "paper=1 ink=0"},
        "output": {"activation": "sigmoid", "polarity": "paper=1 ink=0"},
        "working_scale": {"stroke_width_px": stroke_width_px, "patch": 424},
        **(card or {}),
    }
    path.with_suffix(".json").write_text(json.dumps(written))
    return path


def drawing(height: int = 300, width: int = 400, seed: int = 0, width_px: int = 3) -> np.ndarray:
    """A gray (uint8) 'sketch': dark strokes and faint pencil noise on off-white paper."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width), 235, np.uint8)
    for _ in range(max(4, height * width // 12000)):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(image, p1, p2, int(rng.integers(10, 60)), width_px, cv2.LINE_AA)
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


# Two models in one folder (tests/conftest.py models_dir): their cards
MODEL_CARDS = {
    "pencil": {"training": {"data": "none: hand-set weights"}, "notes": "a thresholded mean"},
    "small-unet": {"training": {"data": "none: random weights"}, "notes": "a random U-Net"},
}


# How the test backends run (the session's `backend_server` and the ones editors start from a
# test backend.json), so an editor's result can be compared with the session backend's.
TEST_SERVE_OPTIONS = ["--tile", "256", "--overlap", "32", "--max-pixels", "20000000"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_backend(args: list[str], log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - handed to the child, closed with it
    return subprocess.Popen(
        [sys.executable, "-m", "backend", *args],
        cwd=ROOT,
        env=backend_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_ready(
    endpoint: str, proc: subprocess.Popen, log_path: Path, timeout: float = 90.0, server_key=None
) -> dict:
    from sketch_kit.local import wait_until_ready
    from sketch_kit.protocol import BackendUnavailable

    try:
        return wait_until_ready(endpoint, lambda: proc.poll() is None, timeout, server_key)
    except BackendUnavailable as exc:
        raise RuntimeError(f"{exc.message}:\n{Path(log_path).read_text()}") from None


def wait_for_workers(
    endpoint: str, count: int, proc: subprocess.Popen, log_path: Path, timeout: float = 90.0
) -> None:
    """Wait until the broker at `endpoint` reports `count` workers."""
    from sketch_kit import protocol
    from sketch_kit.client import Client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited early:\n{Path(log_path).read_text()}")
        with Client(endpoint) as client:
            try:
                if client.info(timeout=1.0)["workers"] >= count:
                    return
            except protocol.BackendUnavailable:
                pass
        time.sleep(0.3)
    raise RuntimeError(f"no {count} worker(s) in {timeout}s:\n{Path(log_path).read_text()}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class AddressRace:
    """Another editor's backend wins the address: a silent socket holds `endpoint` (so a
    plugin's probes go unanswered and the backend it launches finds the address taken); once
    `launched_log` shows that backend gave up, the socket closes and a real backend takes the
    address, as the winner of a real race would once its model had loaded."""

    def __init__(self, endpoint: str, launched_log: Path, model: Path, own_log: Path):
        import threading

        import zmq

        self.endpoint, self.launched_log = endpoint, Path(launched_log)
        self.model, self.own_log = model, own_log
        self.context = zmq.Context()
        self.holder = self.context.socket(zmq.ROUTER)
        self.holder.bind(endpoint)
        self.proc: subprocess.Popen | None = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._take_over, daemon=True)

    def _take_over(self) -> None:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            text = self.launched_log.read_text() if self.launched_log.exists() else ""
            if "is already in use" in text:
                break
            time.sleep(0.2)
        else:
            self.error = "the launched backend never reported the address in use"
        self.holder.close(linger=0)
        if self.error is None:
            args = ["serve", "--bind", self.endpoint, "--model", str(self.model)]
            args += TEST_SERVE_OPTIONS
            self.proc = start_backend(args, self.own_log)

    def __enter__(self) -> AddressRace:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(200)
        if not self.holder.closed:
            self.holder.close(linger=0)
        if self.proc is not None:
            stop(self.proc)
        self.context.term()


@contextlib.contextmanager
def dealer(endpoint: str):
    """A bare DEALER socket on `endpoint`, for messages the real client would never send."""
    import zmq

    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        yield sock
    finally:
        sock.close()


def cancel_mid_inference(client, job) -> None:
    """Cancel `job` once the network runs it; it must end `cancelled` and the backend live on."""
    from sketch_kit.protocol import BackendError

    while job.stage != "inference":
        client.pump(0.05)
        assert not job.finished, "the job ended before it could be cancelled"
    client.cancel(job)
    try:
        client.wait(job, timeout=60)
    except BackendError as exc:
        assert exc.code == "cancelled", exc
    else:
        raise AssertionError("the job finished instead of being cancelled")
    assert client.ping()["type"] == "pong"


def serve_command(model: Path, *extra: str) -> list[str]:
    """`python -m backend serve` of this checkout with `model`, as a backend.json command."""
    return [sys.executable, "-m", "backend", "serve", "--model", str(model), *extra]


def write_backend_json(folder: Path, command: list[str], endpoint: str) -> None:
    """What install.py's launcher step writes (into SKETCH_CLEANUP_HOME), for this checkout."""
    config = {
        "command": command,
        "env": {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
        "endpoint": endpoint,
    }
    (Path(folder) / "backend.json").write_text(json.dumps(config))
