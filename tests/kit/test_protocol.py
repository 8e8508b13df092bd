"""The protocol's validation, on headers alone (the server tests send the same over sockets)."""

import pytest

from sketch_kit import protocol as proto

LIMITS = {"max_side": 1000, "max_pixels": 500_000}


def header(**fields):
    return {
        "v": 1,
        "op": "clean",
        "id": "j1",
        "width": 10,
        "height": 5,
        "format": "rgba8",
        **fields,
    }


def code_of(func, *args):
    with pytest.raises(proto.ProtocolError) as err:
        func(*args)
    return err.value.code


@pytest.mark.parametrize(
    "bad, code",
    [
        ({"id": ""}, "bad_message"),
        ({"id": "x" * 65}, "bad_message"),
        ({"id": 7}, "bad_message"),
        ({"v": "1"}, "bad_message"),
        ({"v": 2}, "bad_version"),
        ({"op": "explode"}, "unknown_op"),
    ],
)
def test_envelope_errors(bad, code):
    assert code_of(proto.check_request, header(**bad)) == code


@pytest.mark.parametrize(
    "fields, size, code",
    [
        ({"width": 0}, 0, "empty_image"),
        ({"width": -3}, 0, "bad_request"),
        ({"width": 2.5}, 0, "bad_request"),
        ({"width": True}, 0, "bad_request"),
        ({"width": 1001}, 1001 * 5 * 4, "too_large"),
        ({"width": 1000, "height": 1000}, 4, "too_large"),
        ({"format": "cmyk8"}, 200, "unsupported_format"),
        ({}, 199, "bad_size"),
        ({}, None, "bad_size"),
        ({"options": {"style": "neon"}}, 200, "bad_request"),
        ({"options": {"colour": "#000000"}}, 200, "bad_request"),
        ({"options": {"color": "red"}}, 200, "bad_request"),
        ({"options": {"color": "#gg0000"}}, 200, "bad_request"),
        ({"options": {"threshold": 1.5}}, 200, "bad_request"),
        ({"options": {"threshold": True}}, 200, "bad_request"),
        ({"options": {"scale": 9}}, 200, "bad_request"),
        ({"options": {"line_width": 0.2}}, 200, "bad_request"),
        ({"options": {"line_width": 33}}, 200, "bad_request"),
        ({"options": {"line_width": "thick"}}, 200, "bad_request"),
        ({"options": {"line_width": True}}, 200, "bad_request"),
        ({"options": {"line_width": float("nan")}}, 200, "bad_request"),
        ({"options": {"output_format": "jpeg"}}, 200, "unsupported_format"),
        ({"options": []}, 200, "bad_request"),
        ({"format": []}, 200, "unsupported_format"),  # unhashable: was a TypeError
        ({"format": {}}, 200, "unsupported_format"),
        ({"options": {"output_format": {}}}, 200, "unsupported_format"),
        ({"options": {"output_format": ["gray8"]}}, 200, "unsupported_format"),
        ({"options": {"color": "#1_2345"}}, 200, "bad_request"),  # int() takes these
        ({"options": {"color": "#0x1234"}}, 200, "bad_request"),
        ({"options": {"color": "#-12345"}}, 200, "bad_request"),
        ({"options": {"color": "#+12345"}}, 200, "bad_request"),
        ({"options": {"color": "# 12345"}}, 200, "bad_request"),
        ({"options": {"color": "#12345 "}}, 200, "bad_request"),
        ({"options": {"color": "#\u0661\u0662\u0663\u0664\u0665\u0666"}}, 200, "bad_request"),
        ({"options": {"color": "#１２３４５６"}}, 200, "bad_request"),  # fullwidth digits
        ({"options": {"color": "#12345\n"}}, 200, "bad_request"),
        ({"options": {"color": 0x123456}}, 200, "bad_request"),
        ({"options": {"model": "../sketch-unet"}}, 200, "bad_request"),  # never a path
        ({"options": {"model": "models/sketch-unet"}}, 200, "bad_request"),
        ({"options": {"model": ""}}, 200, "bad_request"),
        ({"options": {"model": "x" * 65}}, 200, "bad_request"),
        ({"options": {"model": " leading-space"}}, 200, "bad_request"),
        ({"options": {"model": "tab\there"}}, 200, "bad_request"),
        ({"options": {"model": 3}}, 200, "bad_request"),
        ({"options": {"model": ["sketch-unet"]}}, 200, "bad_request"),
        ({"options": {"flatten": 1}}, 200, "bad_request"),
        ({"options": {"flatten": "yes"}}, 200, "bad_request"),
        ({"options": {"flatten": None}}, 200, "bad_request"),
    ],
)
def test_clean_errors(fields, size, code):
    assert code_of(proto.check_clean, header(**fields), size, LIMITS) == code


@pytest.mark.parametrize("color", ["#000000", "#a0B1c2", "#FFFFFF", "#123456"])
def test_every_six_hex_digit_colour_is_accepted(color):
    options = proto.check_clean(header(options={"color": color}), 200, LIMITS)
    assert options.color == color


@pytest.mark.parametrize("target", [None, "", 7, ["a"], {"id": "a"}, "x" * 65])
def test_cancel_needs_a_target(target):
    request = {"v": 1, "op": "cancel", "id": "c"}
    if target is not None:
        request["target"] = target
    assert code_of(proto.check_cancel, request) == "bad_request"
    assert proto.check_cancel({**request, "target": "job-1"}) == "job-1"


@pytest.mark.parametrize("name", ["sketch-unet", "studio_v2.1", "Studio Ink (2026)", "x" * 64])
def test_model_names_are_accepted(name):
    assert proto.check_clean(header(options={"model": name}), 200, LIMITS).model == name


def test_later_options_travel_only_when_set():
    """A request that does not pick a model or flatten still goes to a backend that predates
    them (backends refuse option names they do not know)."""
    assert set(proto.CleanOptions().to_wire()) == {
        "style",
        "color",
        "threshold",
        "scale",
        "line_width",
    }
    chosen = proto.CleanOptions(model="studio-v2", flatten=True).to_wire()
    assert (chosen["model"], chosen["flatten"]) == ("studio-v2", True)
    assert proto.CleanOptions.from_wire(chosen) == proto.CleanOptions(
        model="studio-v2", flatten=True
    )


@pytest.mark.parametrize(
    "region",
    [
        [0, 0, 11, 5],  # past the right edge (the image is 10x5)
        [0, 1, 10, 5],  # past the bottom
        [-1, 0, 2, 2],
        [10, 0, 1, 1],
        [0, 0, 0, 3],  # empty
        [2, 2, 3, -1],
        [0, 0, 4],
        [0, 0, 4, 4, 4],
        [0, 0, 4.0, 4],
        [True, 0, 1, 1],
        ["0", 0, 1, 1],
        "0,0,4,4",
        {"x": 0, "y": 0, "width": 4, "height": 4},
        7,
    ],
)
def test_bad_regions_are_bad_requests(region):
    assert code_of(proto.check_clean, header(region=region), 200, LIMITS) == "bad_request"


@pytest.mark.parametrize("region", [[0, 0, 10, 5], [9, 4, 1, 1], [3, 1, 4, 2]])
def test_regions_within_the_image_are_taken(region):
    proto.check_clean(header(region=region), 200, LIMITS)
    assert proto.check_region(header(region=region), 10, 5) == tuple(region)


def test_no_region_is_the_whole_image():
    assert proto.check_region(header(), 10, 5) is None
    assert proto.check_region(header(region=None), 10, 5) is None


def test_too_large_is_refused_from_the_header_alone():
    # a 1e10-pixel claim with no pixels at all: refused as too large, not as a size mismatch
    claim = header(width=100_000, height=100_000)
    assert code_of(proto.check_clean, claim, 0, LIMITS) == "too_large"


def test_defaults_and_output_format():
    options = proto.check_clean(header(), 200, LIMITS)
    assert options == proto.CleanOptions(output_format="rgba8")
    assert options.to_wire() == {**proto.DEFAULT_OPTIONS, "output_format": "rgba8"}
    options = proto.check_clean(
        header(options={"threshold": 0.3, "scale": 0.5, "output_format": "gray8"}), 200, LIMITS
    )
    assert (options.threshold, options.scale, options.output_format) == (0.3, 0.5, "gray8")
    low, high = proto.LINE_WIDTH_RANGE
    for width in ("auto", "model", low, 2, 2.5, high):
        options = proto.check_clean(header(options={"line_width": width}), 200, LIMITS)
        assert options.line_width == width


def test_header_decoding():
    assert proto.decode_header(proto.encode({"a": 1})[0]) == {"a": 1}
    assert code_of(proto.decode_header, b"\xff\xfe") == "bad_message"
    assert code_of(proto.decode_header, b"[1, 2]") == "bad_message"
    assert code_of(proto.decode_header, b"{" + b" " * 70000 + b"}") == "bad_message"
    deep = b'{"v":1,"op":"info","id":"a","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert code_of(proto.decode_header, deep) == "bad_message"  # was a RecursionError


def test_every_format_has_a_byte_size():
    sizes = {fmt: proto.bytes_per_pixel(fmt) for fmt in proto.FORMATS}
    assert sizes["rgba8"] == 4 and sizes["gray8"] == 1 and sizes["rgbaf32"] == 16
    assert sizes["graya16"] == 4 and sizes["rgbaf16"] == 8


def test_docs_list_exactly_the_error_codes():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    section = text.split("### Error codes", 1)[1].split("\n## ", 1)[0]
    assert tuple(re.findall(r"^\| `(\w+)` \|", section, re.M)) == proto.ERROR_CODES
    with pytest.raises(ValueError, match="not a protocol error code"):
        proto.ProtocolError("oops", "a code no client knows")


def test_vector_option():
    for mode in (*proto.VECTOR_MODES, None):
        options = proto.CleanOptions.from_wire({"vector": mode}, "gray8")
        assert options.vector == mode
        assert ("vector" in options.to_wire()) == (mode is not None)
    for bad in ("svg", 1, True, ["outline"]):
        with pytest.raises(proto.ProtocolError, match="vector must be one of"):
            proto.CleanOptions.from_wire({"vector": bad}, "gray8")
