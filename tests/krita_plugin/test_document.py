"""The Krita plugin's layer formats and refusals, outside Krita."""

import pytest

from krita_plugin.sketch_cleanup import document
from sketch_kit.protocol import FORMATS


def test_every_krita_format_is_a_protocol_format():
    assert set(document.KRITA_FORMATS.values()) <= set(FORMATS)
    assert document.format_for("RGBA", "U16") == "bgra16"
    assert document.format_for("GRAYA", "F32") == "grayaf32"


def test_unsupported_layers_say_what_to_do():
    with pytest.raises(document.Refusal, match="CMYK.*convert the image to RGB"):
        document.format_for("CMYKA", "U8")
    with pytest.raises(document.Refusal, match="16-bit float grayscale.*Convert"):
        document.format_for("GRAYA", "F16")
    with pytest.raises(document.Refusal, match="“Group” is a group layer.*inside the group"):
        document._refuse_node_kind("Group", "grouplayer")
    with pytest.raises(document.Refusal, match="not its mask"):
        document._refuse_node_kind("Mask", "transparencymask")
