"""The models folder's bookkeeping, with a stand-in loader: what is listed, what stays
loaded, what is loaded again. (Real models in a real backend: test_models.)"""

import json
import os

import pytest

from backend.catalog import ModelCatalog, ModelUnavailable
from sketch_kit.protocol import CleanOptions, ProtocolError


class Loaded:
    """What backend.model.load returns, as far as the catalog and Cleaner look."""

    multiple = 8
    device = "test CPU"
    runtime_name = "test"

    def __init__(self, path):
        self.path = path
        self.bytes = path.read_bytes()


class Loader:
    def __init__(self):
        self.loads = []

    def __call__(self, path, runtime):
        if path.read_bytes() == b"damaged":
            raise ValueError("not a Keras file")
        self.loads.append(path.stem)
        return Loaded(path)


def put(folder, name, content=b"weights", card=None):
    (folder / f"{name}.keras").write_bytes(content)
    if card is not None:
        (folder / f"{name}.json").write_text(card if isinstance(card, str) else json.dumps(card))


@pytest.fixture
def folder(tmp_path):
    put(tmp_path, "default", card={"name": "Default", "version": "3"})
    return tmp_path


def catalog(folder, keep=2):
    loader = Loader()
    return ModelCatalog(folder / "default.keras", keep=keep, load=loader), loader


def test_only_the_default_is_loaded_at_start_and_at_most_keep_stay_loaded(folder):
    for name in ("a", "b"):
        put(folder, name)
    models, loader = catalog(folder, keep=2)
    assert loader.loads == ["default"]
    for name in ("a", "b", "a", "default"):
        models.cleaner(name)
        assert sum(m["loaded"] for m in models.describe()) <= 2
    # b was used least recently when default came back: a and default stay
    assert loader.loads == ["default", "a", "b", "default"]
    assert {m["name"] for m in models.describe() if m["loaded"]} == {"a", "default"}


def test_a_model_replaced_in_place_is_loaded_again(folder):
    models, loader = catalog(folder)
    first = models.cleaner("default")
    assert models.cleaner("default") is first and loader.loads == ["default"]
    put(folder, "default", b"retrained weights")
    assert models.cleaner("default").model.bytes == b"retrained weights"
    assert loader.loads == ["default", "default"]


def test_what_is_listed(folder):
    put(folder, "no-card")
    put(folder, "bad-card", card="{not json")
    put(folder, "odd name?")  # not a name a request could send
    (folder / "notes.json").write_text("{}")
    models, _ = catalog(folder)
    listed = {m["name"]: m for m in models.describe()}
    assert set(listed) == {"default", "no-card", "bad-card"}
    assert listed["default"]["title"] == "Default" and listed["default"]["default"]
    assert listed["no-card"]["title"] == "no-card"
    assert "unreadable" in listed["bad-card"]["notes"]


def test_unknown_models_are_refused_and_new_ones_found(folder):
    models, _ = catalog(folder)
    with pytest.raises(ProtocolError) as err:
        models.resolve("later")
    assert err.value.code == "bad_request" and "default" in err.value.message
    put(folder, "later")
    assert models.resolve("later") == "later"  # the folder is read again
    assert models.resolve(None) == "default"


def test_a_damaged_or_vanished_model_fails_its_job_alone(folder):
    put(folder, "damaged", b"damaged")
    put(folder, "gone")
    models, _ = catalog(folder)
    with pytest.raises(ModelUnavailable, match="'damaged' could not be loaded: not a Keras"):
        models.cleaner("damaged")
    os.remove(folder / "gone.keras")
    with pytest.raises(ProtocolError, match="no longer"):
        models.clean(b"\0", 1, 1, "gray8", CleanOptions(model="gone"))
    assert models.cleaner("default")  # the others go on


@pytest.mark.parametrize("gpu", [False, True])
def test_the_default_model_is_the_small_one_on_a_cpu_and_the_full_one_on_a_gpu(
    gpu, tmp_path, monkeypatch
):
    from backend import model

    monkeypatch.setattr(model, "on_gpu", lambda: gpu)
    monkeypatch.setenv("SKETCH_CLEANUP_MODEL", str(tmp_path))  # a models folder
    full, small = tmp_path / model.DEFAULT_MODEL_NAME, tmp_path / model.CPU_MODEL_NAME
    assert model.default_model_path() == full  # no small model there: the full one anyway
    small.touch()
    assert model.default_model_path() == (full if gpu else small)
    monkeypatch.setenv("SKETCH_CLEANUP_MODEL", str(tmp_path / "studio.keras"))  # a file
    assert model.default_model_path() == tmp_path / "studio.keras"
    monkeypatch.delenv("SKETCH_CLEANUP_MODEL")
    assert model.default_model_path().parent == model.MODELS_DIR
