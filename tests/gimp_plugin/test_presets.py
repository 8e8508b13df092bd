"""The GIMP plug-in's presets file (gimp_presets.PresetFile), outside GIMP."""

import json
import os
import sys
from pathlib import Path

import pytest

from sketch_kit.options import EditorOptions, dump_presets, preset_of, with_preset

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "gimp_plugin" / "sketch-cleanup"))

import gimp_presets  # noqa: E402

WHITE = preset_of(EditorOptions(style="white", threshold="fixed", threshold_level=0.4))
RED = preset_of(EditorOptions(line_color="#ff0000", line_weight="custom", line_width=3.5))


def _store(tmp_path: Path) -> gimp_presets.PresetFile:
    return gimp_presets.PresetFile(str(tmp_path / "GIMP" / "3.0" / gimp_presets.FILE_NAME))


def test_presets_round_trip_as_the_kits_json(tmp_path):
    store = _store(tmp_path)
    assert store.load() == {} and store.problem is None  # no file yet: no presets, no problem
    assert store.save({"ink on white": WHITE, "red": RED}) is None  # makes the folder
    text = Path(store.path).read_text(encoding="utf-8")
    assert text == dump_presets({"ink on white": WHITE, "red": RED})
    again = gimp_presets.PresetFile(store.path)
    loaded = again.load()
    assert loaded == {"ink on white": WHITE, "red": RED} and again.problem is None
    applied = with_preset(EditorOptions(server="tcp://elsewhere:5571"), loaded["ink on white"])
    assert (applied.style, applied.threshold, applied.threshold_level) == ("white", "fixed", 0.4)
    assert applied.server == "tcp://elsewhere:5571", "a preset never changes the connection"
    assert "server" not in loaded["red"]
    assert os.listdir(os.path.dirname(store.path)) == [gimp_presets.FILE_NAME]  # no temp left


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary(tmp_path, monkeypatch):
    store = _store(tmp_path)
    store.save({"ink on white": WHITE})
    before = Path(store.path).read_bytes()

    def broken_fsync(_fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gimp_presets.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        store.save({"ink on white": WHITE, "red": RED})
    assert Path(store.path).read_bytes() == before
    assert os.listdir(os.path.dirname(store.path)) == [gimp_presets.FILE_NAME]


def test_the_file_is_replaced_by_a_rename_not_rewritten_in_place(tmp_path, monkeypatch):
    store = _store(tmp_path)
    store.save({"ink on white": WHITE})
    renames = []
    real_replace = os.replace

    def replace(src, dst):
        renames.append((os.path.dirname(src), os.path.basename(dst)))
        assert json.loads(Path(src).read_text()) == {"red": RED}, "the temp file is complete"
        assert "ink on white" in Path(dst).read_text(), "the old file untouched until then"
        real_replace(src, dst)

    monkeypatch.setattr(gimp_presets.os, "replace", replace)
    store.save({"red": RED})
    assert renames == [(os.path.dirname(store.path), gimp_presets.FILE_NAME)]
    assert gimp_presets.PresetFile(store.path).load() == {"red": RED}


@pytest.mark.parametrize(
    "content, says",
    [
        (b"{not json", "is not valid JSON"),
        (b'["a list"]', "does not hold presets"),
        (b"\xff\xfe\x00garbage", "could not read"),
        (None, "could not read"),  # a folder where the file should be
    ],
    ids=["broken-json", "not-an-object", "not-utf8", "a-folder"],
)
def test_an_unreadable_file_gives_no_presets_and_says_why(tmp_path, content, says):
    store = _store(tmp_path)
    os.makedirs(os.path.dirname(store.path))
    if content is None:
        os.mkdir(store.path)
    else:
        Path(store.path).write_bytes(content)
    assert store.load() == {}
    assert store.problem is not None and says in store.problem and store.path in store.problem
    if content is None:
        with pytest.raises(OSError):  # a folder is not moved aside: Save says it failed
            store.save({"red": RED})
        assert os.listdir(os.path.dirname(store.path)) == [gimp_presets.FILE_NAME]  # no temp
        return
    note = store.save({"red": RED})  # the first Save keeps the unreadable file aside
    assert note is not None and note.endswith(store.path + ".unreadable")
    assert Path(store.path + ".unreadable").read_bytes() == content
    again = gimp_presets.PresetFile(store.path)
    assert again.load() == {"red": RED} and again.problem is None
    assert store.problem is None and store.save({"red": RED, "w": WHITE}) is None


def test_presets_with_unknown_or_connection_options_keep_only_result_options(tmp_path):
    store = _store(tmp_path)
    os.makedirs(os.path.dirname(store.path))
    saved = {"mine": {"style": "white", "server": "tcp://x:1", "bogus": "1"}, " ": {}}
    Path(store.path).write_text(json.dumps(saved))
    assert store.load() == {"mine": {"style": "white"}} and store.problem is None
