"""Several models in one folder, served by a real backend: `info` lists them with their
cards, each request picks one, a model copied in while the backend runs is usable, and an
unknown one is refused."""

import shutil

import numpy as np
import pytest

from sketch_kit import protocol as proto
from sketch_kit.client import Client
from tests.support import fixtures

WHITE = {"style": "white", "output_format": "gray8", "scale": 1.0, "line_width": "model"}


@pytest.fixture
def client(models_server):
    with Client(models_server["endpoint"]) as c:
        yield c


def clean(client, options, seed=3):
    gray = fixtures.drawing(96, 128, seed=seed)
    header, pixels = client.clean(gray.tobytes(), 128, 96, "gray8", options, timeout=120)
    return header, np.frombuffer(pixels, np.uint8).reshape(96, 128)


def test_info_lists_every_model_with_its_card(client):
    info = client.info()
    models = {m["name"]: m for m in info["models"]}
    assert {"pencil", "small-unet"} <= set(models)
    assert models["pencil"]["default"] and not models["small-unet"]["default"]
    for name, card in fixtures.MODEL_CARDS.items():
        assert models[name]["training_data"] == card["training"]["data"]
        assert models[name]["notes"] == card["notes"]
        assert models[name]["version"] == "test"
    assert models["small-unet"]["title"] == "small-unet-test-model"
    assert 0 < models["pencil"]["parameters"] < models["small-unet"]["parameters"]
    assert info["model"]["name"] == "threshold-test-model"  # the default's whole card
    assert info["device"] and info["runtime"] and info["max_loaded_models"] == 1


def test_each_request_runs_the_model_it_names(client):
    default_header, default = clean(client, WHITE)
    pencil_header, pencil = clean(client, {**WHITE, "model": "pencil"})
    unet_header, unet = clean(client, {**WHITE, "model": "small-unet"})
    assert (default_header["model"], pencil_header["model"]) == ("pencil", "pencil")
    assert unet_header["model"] == "small-unet"
    assert np.array_equal(default, pencil)
    assert np.mean(unet != pencil) > 0.05  # another network, other lines
    ink = fixtures.drawing(96, 128, seed=3) < 128
    assert pencil[ink].mean() < 60 and pencil[~ink].mean() > 230
    loaded = [m["name"] for m in client.info()["models"] if m["loaded"]]
    assert loaded == ["small-unet"]  # --loaded-models 1: pencil was let go


def test_a_model_copied_in_while_the_backend_runs_is_usable(client, models_dir, tmp_path):
    studio = fixtures.save_test_model(
        tmp_path, name="studio-v2", card={"notes": "fine-tuned on our own roughs"}
    )
    shutil.copy(studio.with_suffix(".json"), models_dir)
    shutil.copy(studio, models_dir)
    header, _ = clean(client, {**WHITE, "model": "studio-v2"})  # no `info` asked first
    assert header["model"] == "studio-v2"
    models = {m["name"]: m for m in client.info()["models"]}
    assert models["studio-v2"]["notes"] == "fine-tuned on our own roughs"
    assert not models["studio-v2"]["default"]


def test_an_unknown_model_is_a_bad_request(client, models_server):
    with pytest.raises(proto.BackendError) as err:
        clean(client, {**WHITE, "model": "no-such-model"})
    assert err.value.code == "bad_request"
    assert "no-such-model" in err.value.message and "pencil" in err.value.message
    for name in ("../pencil", "", "x" * 65, 7):  # not names at all
        with pytest.raises(proto.BackendError) as err:
            clean(client, {**WHITE, "model": name})
        assert err.value.code == "bad_request" and "model" in err.value.message
    assert clean(client, WHITE)[0]["model"] == "pencil"  # and it goes on serving
    assert models_server["proc"].poll() is None
