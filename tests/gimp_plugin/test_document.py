"""The GIMP plug-in's pixel formats and preview region, outside GIMP."""

import sys
from pathlib import Path

import pytest

from sketch_kit.protocol import FORMATS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "gimp_plugin" / "sketch-cleanup"))

import gimp_document  # noqa: E402


@pytest.mark.parametrize(
    "nick, expected",
    [
        ("u8-non-linear", ("R'G'B'A u8", "rgba8")),
        ("u8-linear", ("R'G'B'A u8", "rgba8")),
        ("u16-perceptual", ("R'G'B'A u16", "rgba16")),
        ("u32-linear", ("RGBA float", "rgbaf32")),
        ("half-non-linear", ("RGBA float", "rgbaf32")),
        ("double-linear", ("RGBA float", "rgbaf32")),
    ],
)
def test_every_precision_keeps_its_depth(nick, expected):
    assert gimp_document.formats_for_precision(nick) == expected
    assert expected[1] in FORMATS


@pytest.mark.parametrize(
    "size, region",
    [
        ((300, 200), (0, 0, 300, 200)),  # a small layer or selection: all of it
        ((700, 600), (94, 44, 512, 512)),  # a big one: its centred 512²
        ((1000, 100), (244, 0, 512, 100)),
        ((513, 512), (0, 0, 512, 512)),
    ],
)
def test_preview_region_is_the_centred_part_of_at_most_512_px(size, region):
    assert gimp_document.preview_region(*size) == region
