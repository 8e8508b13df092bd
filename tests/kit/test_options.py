"""The dialogs' options: one table, saved as strings, turned into the wire's options."""

import dataclasses
import re
from pathlib import Path

import pytest

from sketch_kit import defaults, protocol
from sketch_kit.options import FIELDS, FIELDS_BY_NAME, LEVEL_RANGE, EditorOptions
from sketch_kit.protocol import CleanOptions, ProtocolError

ROOT = Path(__file__).resolve().parents[2]


def test_every_option_has_one_row_and_a_default_within_its_range():
    names = [f.name for f in dataclasses.fields(EditorOptions)]
    assert [f.name for f in FIELDS] == names
    default = EditorOptions()
    for field in FIELDS:
        value = getattr(default, field.name)
        if field.kind == "choice":
            assert value in field.choices, field.name
        if field.kind == "number":
            assert field.range[0] <= value <= field.range[1], field.name
        if field.enabled_when is not None:
            choice, wanted = field.enabled_when
            assert wanted in FIELDS_BY_NAME[choice].choices
    # the protocol's ranges, not copies of them
    assert FIELDS_BY_NAME["detail_factor"].range == protocol.SCALE_RANGE
    assert FIELDS_BY_NAME["line_width"].range == protocol.LINE_WIDTH_RANGE
    assert FIELDS_BY_NAME["timeout_minutes"].range == (1.0, 24 * 60.0)
    assert default.timeout_minutes * 60 == defaults.JOB_TIMEOUT_S


def test_defaults_send_the_protocols_defaults():
    assert EditorOptions().clean_options("graya8") == CleanOptions(output_format="graya8")


def test_round_trip_and_the_wire_options():
    options = EditorOptions(
        style="white",
        line_color="#12ABEF",
        threshold="fixed",
        threshold_level=0.3,
        detail="custom",
        detail_factor=2.5,
        line_weight="custom",
        line_width=3.5,
        vector="centreline",
        server="tcp://gpu-box:5571",
        autostart=False,
    )
    assert EditorOptions.from_strings(options.to_strings()) == options.replace(line_color="#12abef")
    assert options.clean_options("bgra16").to_wire() == {
        "style": "white",
        "color": "#12abef",
        "threshold": 0.3,
        "scale": 2.5,
        "line_width": 3.5,
        "output_format": "bgra16",
        "vector": "centreline",
    }
    # the level, factor and width are only read when their choice asks for them
    auto = options.replace(threshold="none", detail="auto", line_weight="auto", vector="none")
    assert auto.clean_options().to_wire() == {
        "style": "white",
        "color": "#12abef",
        "threshold": "none",
        "scale": "auto",
        "line_width": "auto",
    }


def test_garbage_falls_back_to_defaults():
    broken = EditorOptions.from_strings(
        {
            "style": "neon",
            "line_color": "red",
            "threshold": "fixed",
            "threshold_level": "7",
            "detail_factor": "x",
            "line_weight": "bold",
            "line_width": "99",
            "autostart": "false",
            "timeout_minutes": "nan",
        }
    )
    default = EditorOptions()
    assert broken == default.replace(threshold="fixed", autostart=False)
    assert EditorOptions.from_strings({}) == default


def test_out_of_range_values_are_refused_by_the_protocols_rule():
    with pytest.raises(ProtocolError, match="scale"):
        EditorOptions(detail="custom", detail_factor=9.0).clean_options()
    with pytest.raises(ProtocolError, match="line_width"):
        EditorOptions(line_weight="custom", line_width=40.0).clean_options()
    assert LEVEL_RANGE[0] > 0 and LEVEL_RANGE[1] < 1  # always a valid threshold level


def test_docs_state_the_options_defaults_and_ranges():
    """docs/protocol.md's options table says what CleanOptions does."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    rows = {m[0]: m for m in re.findall(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|", text, re.M)}
    default = CleanOptions()
    for name in ("style", "color", "threshold", "scale", "line_width"):
        _, allowed, stated_default = rows[name]
        assert f"`{getattr(default, name)}`" in stated_default, name
    for name, (low, high) in (
        ("scale", protocol.SCALE_RANGE),
        ("line_width", protocol.LINE_WIDTH_RANGE),
    ):
        assert f"[{low:g}, {high:g}]" in rows[name][1], name
    for style in protocol.STYLES:
        assert f"`{style}`" in rows["style"][1]


@pytest.mark.parametrize("page", ["krita.md", "gimp.md"])
def test_each_editors_docs_list_every_option_as_the_dialogs_show_it(page):
    text = (ROOT / "docs" / page).read_text()
    rows = {m[0]: m[1] for m in re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|", text, re.M)}
    for field in FIELDS:
        assert field.label in rows, f"{page} has no row for {field.label}"
        for label in field.choices.values():
            assert label in rows[field.label], f"{page}: {field.label} lacks {label!r}"


def test_presets_keep_how_the_result_looks_not_the_backend():
    from sketch_kit.options import dump_presets, load_presets, preset_of, with_preset

    inked = EditorOptions(style="white", line_weight="custom", line_width=3.0, server="tcp://a:1")
    presets = load_presets(dump_presets({"Inked": preset_of(inked)}))
    assert set(presets["Inked"]) == {f.name for f in FIELDS if f.group == "result"}
    current = EditorOptions(threshold="none", server="tcp://b:2", autostart=False)
    applied = with_preset(current, presets["Inked"])
    assert (applied.style, applied.line_weight, applied.line_width) == ("white", "custom", 3.0)
    assert (applied.server, applied.autostart) == ("tcp://b:2", False)  # connection kept
    assert applied.threshold == "otsu"  # the preset's, not the current one
    broken = with_preset(current, {"style": "neon", "line_width": "x", "detail": "custom"})
    assert broken == current.replace(detail="custom")
    assert load_presets("not json") == {} and load_presets('["a"]') == {}
    assert load_presets('{"A": {"style": "soft", "server": "tcp://x:1"}, "": {}}') == {
        "A": {"style": "soft"}
    }
