"""A real backend process over real ZeroMQ sockets: round trips, bad input, concurrency."""

import json
import threading

import numpy as np
import pytest

from backend import pixels
from sketch_kit import protocol as proto
from sketch_kit.client import Client
from tests.support import fixtures


@pytest.fixture
def client(backend_server):
    with Client(backend_server["endpoint"]) as c:
        yield c


@pytest.fixture
def raw(backend_server):
    with fixtures.dealer(backend_server["endpoint"]) as sock:
        yield sock


def clean_header(**fields):
    """A 4x4 rgba8 clean request's header with `fields` replaced."""
    header = {"v": 1, "op": "clean", "id": "a", "width": 4, "height": 4, "format": "rgba8"}
    return json.dumps({**header, **fields}).encode()


def final_reply(sock, timeout=30.0):
    while True:
        assert sock.poll(int(timeout * 1000)), "no final reply"
        reply = sock.recv_multipart()
        header = json.loads(reply[0])
        if header["type"] in proto.FINAL_TYPES:
            return header, reply[1:]


def sketch_as(fmt, gray):
    """The gray drawing encoded in `fmt`, fully opaque."""
    rgb = np.repeat((gray.astype(np.float32) / 255)[..., None], 3, axis=2)
    return pixels.encode(rgb, np.ones(gray.shape, np.float32), fmt)


def ink_mask(gray):
    return gray < 128


# ------------------------------------------------------------------ the normal path


def test_info_describes_model_device_and_limits(client):
    info = client.info()
    assert info["protocol"] == 1 and info["model"]["name"] == "threshold-test-model"
    assert "CPU" in info["device"] or "GPU" in info["device"]
    assert info["limits"]["max_pixels"] == 20_000_000
    assert info["limits"]["max_message_bytes"] >= 20_000_000 * 16
    assert set(info["formats"]) == set(proto.FORMATS)


@pytest.mark.parametrize("fmt", sorted(proto.FORMATS))
def test_every_pixel_format_round_trips(client, fmt):
    gray = fixtures.drawing(120, 160, seed=1)
    options = {"scale": 1.0, "line_width": "model"}  # the network's own lines
    header, out = client.clean(sketch_as(fmt, gray), 160, 120, fmt, options, timeout=60)
    assert (header["width"], header["height"], header["format"]) == (160, 120, fmt)
    assert len(out) == 160 * 120 * proto.bytes_per_pixel(fmt)
    result_gray, alpha = pixels.decode(out, 160, 120, fmt)
    ink = ink_mask(gray)
    if "A" in proto.FORMATS[fmt][0]:  # default style: black lines on transparent
        assert alpha[ink].mean() > 0.8 and alpha[~ink].mean() < 0.1
    else:  # no alpha channel to carry transparency: composited onto white
        assert result_gray[ink].mean() < 0.3 and result_gray[~ink].mean() > 0.9


@pytest.mark.parametrize("style", proto.STYLES)
def test_output_styles(client, style):
    gray = fixtures.drawing(128, 128, seed=2)
    options = {"style": style, "color": "#ff0000", "output_format": "rgba8", "scale": 1.0}
    options["line_width"] = "model"  # the network's own lines, composed
    _, out = client.clean(gray.tobytes(), 128, 128, "gray8", options)
    rgba = np.frombuffer(out, np.uint8).reshape(128, 128, 4).astype(int)
    ink, paper = ink_mask(gray), ~ink_mask(gray)
    if style == "transparent":
        assert (rgba[ink][:, :3] == (255, 0, 0)).all()
        assert rgba[ink][:, 3].mean() > 200 and rgba[paper][:, 3].mean() < 25
    else:
        assert (rgba[..., 3] == 255).all()
        assert (rgba[paper][:, 1] > 200).mean() > 0.9  # paper is white
        assert rgba[ink][:, 0].mean() > 200 and rgba[ink][:, 1].mean() < 80  # lines red
    if style == "soft":  # soft keeps intermediate values; thresholded styles do not
        assert len(np.unique(rgba[..., 1])) > 10


@pytest.mark.parametrize("threshold", ["otsu", "mean", "none", 0.5])
def test_thresholds(client, threshold):
    gray = fixtures.drawing(96, 96, seed=4)
    options = {"threshold": threshold, "output_format": "graya8", "scale": 1.0}
    options["line_width"] = "model"  # thresholded as the network drew them
    _, out = client.clean(gray.tobytes(), 96, 96, "gray8", options)
    alpha = np.frombuffer(out, np.uint8).reshape(96, 96, 2)[..., 1]
    ink = ink_mask(gray)
    assert alpha[ink].mean() > 200 and alpha[~ink].mean() < 40
    levels = len(np.unique(alpha))
    assert levels > 2 if threshold == "none" else levels <= 2


def test_scale_changes_the_working_resolution(client):
    gray = fixtures.drawing(200, 200, seed=5)
    header, _ = client.clean(gray.tobytes(), 200, 200, "gray8", {"scale": 0.5})
    assert header["scale"] == 0.5
    header, _ = client.clean(gray.tobytes(), 200, 200, "gray8", {"scale": "auto"})
    assert 0.25 <= header["scale"] <= 2.0


def test_auto_scale_follows_stroke_width(client):
    thin = fixtures.drawing(300, 300, seed=6, width_px=2)
    thick = fixtures.drawing(300, 300, seed=6, width_px=9)
    thin_scale = client.clean(thin.tobytes(), 300, 300, "gray8")[0]["scale"]
    thick_scale = client.clean(thick.tobytes(), 300, 300, "gray8")[0]["scale"]
    assert thick_scale < thin_scale


def horizontal_line(thick: int) -> np.ndarray:
    """A 160x200 gray sketch: one dark horizontal stroke `thick` px wide across it."""
    gray = np.full((160, 200), 235, np.uint8)
    gray[80 - thick // 2 : 80 - thick // 2 + thick] = 20
    return gray


@pytest.mark.parametrize("style", proto.STYLES)
def test_line_width_redraws_lines_at_the_asked_width(client, style):
    """Whatever the network's thickness: whole pixels on white, anti-aliased otherwise."""
    gray = horizontal_line(5)
    options = {"style": style, "output_format": "graya8", "scale": 1.0}
    widths = {}
    for line_width in ("model", 1, 2, 3.5, "auto"):
        header, out = client.clean(
            gray.tobytes(), 200, 160, "gray8", {**options, "line_width": line_width}
        )
        pixels = np.frombuffer(out, np.uint8).reshape(160, 200, 2)
        ink = pixels[..., 1] / 255 if style == "transparent" else 1 - pixels[..., 0] / 255
        widths[line_width] = float(ink[:, 40:160].sum(axis=0).mean())  # away from the ends
        expected = {"model": None, "auto": pytest.approx(3.25, abs=0.1)}.get(line_width, line_width)
        assert header["line_width"] == expected  # auto: one pencil pass, 0.65 x the 5 px stroke
    assert widths["model"] > 4  # the test network keeps the sketch's thickness
    for asked in (1, 2, 3.5, "auto"):
        target = {"auto": 3.25}.get(asked, asked)
        if style == "white":  # whole pixels, centred on the stroke
            assert widths[asked] == max(1, round(target)), widths
        else:
            assert abs(widths[asked] - target) <= 0.5, widths


def test_auto_line_width_is_soft_only_off_white(client):
    gray = horizontal_line(3)
    gray[:, 99:102] = 20  # and a vertical stroke crossing it
    for style, soft in (("transparent", True), ("white", False)):
        options = {"style": style, "output_format": "graya8", "scale": 1.0, "line_width": "auto"}
        header, out = client.clean(gray.tobytes(), 200, 160, "gray8", options)
        assert header["line_width"] == 2.0  # 0.65 x the 3 px strokes, at least 2 px
        graya = np.frombuffer(out, np.uint8).reshape(160, 200, 2)
        ink = graya[..., 1] if style == "transparent" else 255 - graya[..., 0]
        assert (len(np.unique(ink)) > 2) == soft  # anti-aliased or two-tone
        assert (ink[80, 10:190] == 255).all() and (ink[10:150, 100] == 255).all()
        assert ink[gray > 200].mean() < 10  # nothing off the strokes


@pytest.mark.parametrize("bad", [0.1, 40, "thin", True, None])
def test_bad_line_width_is_a_bad_request(client, bad):
    with pytest.raises(proto.BackendError) as err:
        client.clean(horizontal_line(3).tobytes(), 200, 160, "gray8", {"line_width": bad})
    assert err.value.code == "bad_request" and "line_width" in err.value.message


def test_large_image_is_tiled_and_reports_progress(client):
    gray = fixtures.drawing(1200, 1500, seed=7)
    seen = []
    header, out = client.clean(
        gray.tobytes(),
        1500,
        1200,
        "gray8",
        {"scale": 1.0},
        on_progress=lambda job: seen.append((job.stage, job.done)),
    )
    assert header["tiles"] > 4
    assert any(stage == "inference" for stage, _ in seen)
    assert len(out) == 1500 * 1200


def test_semi_transparent_layer_is_composited_onto_paper(client):
    gray = fixtures.drawing(64, 64, seed=8)
    rgb = np.zeros((64, 64, 3), np.float32)
    alpha = (gray < 128).astype(np.float32)  # black strokes, transparent elsewhere
    data = pixels.encode(rgb, alpha, "rgba8")
    _, out = client.clean(data, 64, 64, "rgba8", {"scale": 1.0, "line_width": "model"})
    result_alpha = np.frombuffer(out, np.uint8).reshape(64, 64, 4)[..., 3]
    assert result_alpha[gray < 128].mean() > 200 and result_alpha[gray >= 160].mean() < 25


# ------------------------------------------------------------------ concurrency


def test_many_clients_at_once_get_their_own_results(backend_server):
    images = {seed: fixtures.drawing(160, 200, seed=seed) for seed in range(6)}
    with Client(backend_server["endpoint"]) as solo:
        expected = {
            s: solo.clean(g.tobytes(), 200, 160, "gray8", {"scale": 1.0})[1]
            for s, g in images.items()
        }
    results, errors = {}, []

    def worker(seed):
        try:
            with Client(backend_server["endpoint"]) as c:
                for _ in range(2):
                    results[seed] = c.clean(
                        images[seed].tobytes(), 200, 160, "gray8", {"scale": 1.0}, timeout=60
                    )[1]
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert {s: results[s] == expected[s] for s in images} == {s: True for s in images}


def test_several_jobs_in_flight_from_one_client(client):
    images = [fixtures.drawing(100, 100, seed=s) for s in range(4)]
    options = {"scale": 1.0, "line_width": "model"}
    jobs = [client.start_clean(g.tobytes(), 100, 100, "gray8", options) for g in images]
    outs = [client.wait(job, timeout=60)[1] for job in reversed(jobs)][::-1]
    for gray, out in zip(images, outs, strict=True):
        alpha = np.frombuffer(out, np.uint8)  # gray8 in, gray8 out: white style composite
        assert (alpha.reshape(100, 100)[ink_mask(gray)] < 128).mean() > 0.8


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "frames, code",
    [
        ([b"not json"], "bad_message"),
        ([b"[1,2,3]"], "bad_message"),
        ([b'{"v":1,"op":"info"}'], "bad_message"),
        ([b'{"v":9,"op":"info","id":"a"}'], "bad_version"),
        ([b'{"v":1,"op":"format_disk","id":"a"}'], "unknown_op"),
        ([b'{"v":1,"op":"info","id":"a"}', b"x", b"y"], "bad_message"),
        (
            [
                json.dumps(
                    {"v": 1, "op": "clean", "id": "a", "width": 4, "height": 4, "format": "rgba8"}
                ).encode(),
                b"\0" * 63,
            ],
            "bad_size",
        ),
        (
            [
                json.dumps(
                    {"v": 1, "op": "clean", "id": "a", "width": 4, "height": 4, "format": "rgba8"}
                ).encode()
            ],
            "bad_size",
        ),
        (
            [
                json.dumps(
                    {"v": 1, "op": "clean", "id": "a", "width": 4, "height": 4, "format": "yuv420"}
                ).encode(),
                b"\0" * 64,
            ],
            "unsupported_format",
        ),
        (
            [
                json.dumps(
                    {"v": 1, "op": "clean", "id": "a", "width": 0, "height": 4, "format": "rgba8"}
                ).encode(),
                b"",
            ],
            "empty_image",
        ),
        (
            [
                json.dumps(
                    {
                        "v": 1,
                        "op": "clean",
                        "id": "a",
                        "width": 200000,
                        "height": 200000,
                        "format": "rgba8",
                    }
                ).encode(),
                b"\0" * 16,
            ],
            "too_large",
        ),
        (
            [
                json.dumps(
                    {
                        "v": 1,
                        "op": "clean",
                        "id": "a",
                        "width": 4,
                        "height": 4,
                        "format": "rgba8",
                        "options": {"style": "x"},
                    }
                ).encode(),
                b"\0" * 64,
            ],
            "bad_request",
        ),
        (
            [
                json.dumps(
                    {"v": 1, "op": "clean", "id": "a", "width": 4, "height": 4, "format": "rgba8"}
                ).encode(),
                b"\0" * 64,
            ],
            "empty_image",
        ),  # transparent
        ([clean_header(format=[]), b"\0" * 16], "unsupported_format"),  # was internal
        ([clean_header(options={"output_format": {}}), b"\xff" * 64], "unsupported_format"),
        ([clean_header(options={"color": "#1_2345"}), b"\xff" * 64], "bad_request"),
        ([clean_header(options={"color": "#0x1234"}), b"\xff" * 64], "bad_request"),
        ([clean_header(options={"color": "#-12345"}), b"\xff" * 64], "bad_request"),
        (
            [
                clean_header(options={"color": "#\u0661\u0662\u0663\u0664\u0665\u0666"}),
                b"\xff" * 64,
            ],
            "bad_request",
        ),
        ([b'{"v":1,"op":"cancel","id":"a"}'], "bad_request"),  # was no answer at all
        ([b'{"v":1,"op":"cancel","id":"a","target":7}'], "bad_request"),
        ([b'{"v":1,"op":"cancel","id":"a","target":""}'], "bad_request"),
    ],
)
def test_bad_requests_get_clear_errors_and_the_server_goes_on(raw, client, frames, code):
    header, _ = final_reply_after(raw, frames)
    assert header["type"] == "error" and header["code"] == code, header
    assert header["message"]
    sent = frames[0].replace(b" ", b"")
    assert header["id"] == ("a" if b'"id":"a"' in sent else "")  # the id is echoed if readable
    assert client.ping()["type"] == "pong"


def final_reply_after(sock, frames):
    sock.send_multipart(frames)
    return final_reply(sock)


def test_deeply_nested_header_is_a_bad_message(raw, client):
    deep = b'{"v":1,"op":"info","id":"a","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    header, _ = final_reply_after(raw, [deep])
    assert (header["type"], header["code"]) == ("error", "bad_message"), header
    assert client.ping()["type"] == "pong"


def test_oversized_message_is_dropped_and_others_are_served(backend_server, client):
    limit = client.info()["limits"]["max_message_bytes"]
    header = {"v": 1, "op": "clean", "id": "huge", "width": 1, "height": 1, "format": "gray8"}
    with fixtures.dealer(backend_server["endpoint"]) as sock:
        sock.send_multipart([json.dumps(header).encode(), bytes(limit + 1)])
        assert not sock.poll(1500)  # ZeroMQ drops the peer silently: no answer comes
    assert client.ping()["type"] == "pong"
    with pytest.raises(proto.BackendError) as err:  # the real client refuses before sending
        client.start_clean(bytes(limit), limit, 1, "gray8")
    assert err.value.code == "too_large"


def test_duplicate_job_id_is_refused(raw):
    gray = fixtures.drawing(1500, 1500, seed=9)
    header = {
        "v": 1,
        "op": "clean",
        "id": "dup",
        "width": 1500,
        "height": 1500,
        "format": "gray8",
        "options": {"scale": 1.0},
    }
    frames = [json.dumps(header).encode(), gray.tobytes()]
    raw.send_multipart(frames)
    raw.send_multipart(frames)
    replies = []
    while len([r for r in replies if r["type"] in proto.FINAL_TYPES]) < 2:
        assert raw.poll(60000)
        replies.append(json.loads(raw.recv_multipart()[0]))
    finals = [r.get("code", r["type"]) for r in replies if r["type"] in proto.FINAL_TYPES]
    assert sorted(finals) == ["duplicate_id", "result"]


def test_cancel_a_running_job(client):
    gray = fixtures.drawing(2500, 2500, seed=10)
    job = client.start_clean(gray.tobytes(), 2500, 2500, "gray8", {"scale": 1.0})
    fixtures.cancel_mid_inference(client, job)


def test_cancelling_a_queued_job_is_answered_at_once(raw):
    """A job waiting behind a running one is answered `cancelled` before the running one
    ends (it used to wait for it), and gets no second final reply."""
    big = fixtures.drawing(2500, 2500, seed=12)
    header = {"v": 1, "op": "clean", "width": 2500, "height": 2500, "format": "gray8"}
    header["options"] = {"scale": 1.0}
    raw.send_multipart([json.dumps({**header, "id": "running"}).encode(), big.tobytes()])
    small = fixtures.drawing(64, 64)
    small_header = {**header, "id": "queued", "width": 64, "height": 64}
    raw.send_multipart([json.dumps(small_header).encode(), small.tobytes()])
    replies = []
    while not any(r["id"] == "running" and r["type"] == "progress" for r in replies):
        assert raw.poll(60000), replies
        replies.append(json.loads(raw.recv_multipart()[0]))
    cancel = {"v": 1, "op": "cancel", "id": "c1", "target": "queued"}
    raw.send_multipart([json.dumps(cancel).encode()])
    while not any(r["type"] in proto.FINAL_TYPES for r in replies):
        assert raw.poll(60000), replies
        replies.append(json.loads(raw.recv_multipart()[0]))
    first_final = next(r for r in replies if r["type"] in proto.FINAL_TYPES)
    assert (first_final["id"], first_final["type"]) == ("queued", "cancelled"), replies
    raw.send_multipart([json.dumps({**cancel, "id": "c2", "target": "running"}).encode()])
    header, _ = final_reply(raw, timeout=120)
    assert (header["id"], header["type"]) == ("running", "cancelled")
    raw.send_multipart([b'{"v":1,"op":"ping","id":"p"}'])
    assert json.loads(exchange_next(raw)[0])["type"] == "pong"  # nothing else came for "queued"


def exchange_next(sock, timeout=10.0):
    assert sock.poll(int(timeout * 1000)), "no reply"
    return sock.recv_multipart()


def test_a_full_queue_answers_busy(raw, client):
    """At most max_queue jobs (running included) hold pixels; the rest are refused at once."""
    max_queue = client.info()["limits"]["max_queue"]
    gray = fixtures.drawing(600, 600, seed=13)
    header = {"v": 1, "op": "clean", "width": 600, "height": 600, "format": "gray8"}
    for n in range(max_queue + 4):
        frames = [json.dumps({**header, "id": f"q{n}", "options": {"scale": 1.0}}).encode()]
        raw.send_multipart([*frames, gray.tobytes()])
    finals = {}
    while len(finals) < max_queue + 4:
        reply, _ = final_reply(raw, timeout=120)
        finals[reply["id"]] = reply.get("code", reply["type"])
    assert list(finals.values()).count("busy") >= 4
    assert list(finals.values()).count("result") <= max_queue
    assert set(finals.values()) == {"busy", "result"}


def test_client_that_disconnects_mid_job_does_not_hurt_the_server(backend_server, client):
    gray = fixtures.drawing(2500, 2500, seed=11)
    leaving = Client(backend_server["endpoint"])
    leaving.start_clean(gray.tobytes(), 2500, 2500, "gray8", {"scale": 1.0})
    leaving.close()  # gone before any reply
    small = fixtures.drawing(64, 64)
    header, _ = client.clean(small.tobytes(), 64, 64, "gray8", timeout=120)
    assert header["type"] == "result"
    assert backend_server["proc"].poll() is None


def test_no_backend_is_reported_quickly():
    with Client(f"tcp://127.0.0.1:{fixtures.free_port()}") as c:
        with pytest.raises(proto.BackendUnavailable) as err:
            c.info(timeout=1.0)
    assert "backend" in str(err.value)


@pytest.mark.parametrize("server", ["backend_server", "broker_server"])
@pytest.mark.parametrize("mode", proto.VECTOR_MODES)
def test_vector_option_sends_the_traced_svg(request, server, mode):
    """The result's frame 3 is the SVG of the very pixels sent beside it (through a broker
    too), so an editor far from the backend gets vector line art without tracing itself."""
    import xml.etree.ElementTree as ET

    from backend.vector import svg_of_result

    endpoint = request.getfixturevalue(server)["endpoint"]
    gray = fixtures.drawing(120, 160, seed=4)
    options = proto.CleanOptions(
        style="white", color="#c02020", scale=1.0, output_format="gray8", vector=mode
    )
    with Client(endpoint) as client:
        job = client.start_clean(gray.tobytes(), 160, 120, "gray8", options)
        header, pixels = client.wait(job, timeout=120)
    assert job.svg is not None and header["svg_bytes"] == len(job.svg.encode())
    assert job.svg == svg_of_result(pixels, 160, 120, "gray8", options, mode)
    root = ET.fromstring(job.svg)
    assert (root.get("width"), root.get("height")) == ("160", "120")
    paths = root.findall(".//{http://www.w3.org/2000/svg}path")
    assert paths, "the drawing's lines were traced"
    if mode == "centreline":
        assert all(p.get("fill") == "none" and p.get("stroke-width") for p in paths)
    assert "#c02020" in job.svg
    with Client(endpoint) as client:  # without the option: no SVG, two frames as before
        job = client.start_clean(gray.tobytes(), 160, 120, "gray8", options.replace(vector=None))
        header, _ = client.wait(job, timeout=120)
    assert job.svg is None and header["svg_bytes"] is None
