"""The models folder: every NAME.keras in it (with its card NAME.json), each a model a
request may name.

A studio drops its fine-tuned model beside the shipped one and uses it without a restart:
the folder is read again whenever `info` is asked and when a request names a model not seen
yet. Reading it costs a directory listing and a few small JSON cards; loading a model costs
seconds and hundreds of MB, so only the default one is loaded at start-up, the others on
their first job, and at most `keep` stay loaded (the least recently used is let go first).
A file replaced in place (another size or time) is loaded again on its next job.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend import defaults, tiling
from backend import model as model_files
from backend.pipeline import Cleaner, Settings
from sketch_kit.protocol import MODEL_NAME_PATTERN, CleanOptions, ProtocolError

log = logging.getLogger("backend")
SUFFIX = ".keras"


class ModelUnavailable(RuntimeError):
    """A model in the folder that could not be loaded (damaged, half copied, wrong runtime)."""


@dataclass(frozen=True)
class Entry:
    name: str
    path: Path
    card: dict
    stamp: tuple[int, int]  # the file's (size, mtime in ns): another one is another model


def read_card(path: Path) -> dict:
    """The model's card, or a note saying why there is none: a bad card never hides a model."""
    try:
        card = model_files.read_card(path)
    except (OSError, ValueError) as exc:
        return {"notes": f"its model card {path.with_suffix('.json').name} is unreadable: {exc}"}
    return card if isinstance(card, dict) else {"notes": "its model card is not a JSON object"}


def _part(card: dict, section: str, key: str):
    value = card.get(section)
    return value.get(key) if isinstance(value, dict) else None


def summary(entry: Entry) -> dict:
    """What an artist choosing a model reads in `info.models` (missing fields are null)."""
    card = entry.card
    return {
        "name": entry.name,  # what a request's `model` option takes
        "title": card.get("name", entry.name),
        "version": card.get("version"),
        "parameters": _part(card, "architecture", "params"),
        "training_data": _part(card, "training", "data"),
        "notes": card.get("notes", card.get("note")),
        "licence": card.get("licence"),
    }


class ModelCatalog:
    """The models beside `default_path` (the `--model` file, used when a request names
    none); `load` is backend.model.load, replaceable in tests."""

    def __init__(
        self,
        default_path: str | Path,
        runtime: str = defaults.RUNTIME,
        settings: Settings | None = None,
        keep: int = defaults.LOADED_MODELS,
        load: Callable = model_files.load,
    ):
        self.default_path = Path(default_path)
        self.folder = self.default_path.parent
        self.default = self.default_path.stem
        self.runtime = runtime
        self.settings = settings or Settings()
        self.keep = max(1, keep)
        self._load = load
        self._lock = threading.Lock()  # the main thread scans, the inference thread loads
        self._entries: dict[str, Entry] = {}
        self._loaded: OrderedDict[str, tuple[tuple[int, int], Cleaner]] = OrderedDict()
        self.device = self.runtime_name = ""
        self.scan()
        # loaded now: the service answers only once it can clean, and a broken default
        # model stops it at start-up with the loader's own error
        self._cleaner(self.default)

    # ------------------------------------------------------------ the folder
    def scan(self) -> dict[str, Entry]:
        """Read the folder again; the models it holds now, by name."""
        found: dict[str, Entry] = {}
        try:
            paths = sorted(self.folder.glob("*" + SUFFIX))
        except OSError:
            paths = []
        if self.default_path not in paths and self.default_path.exists():
            paths.append(self.default_path)  # e.g. --model with another suffix
        for path in paths:
            name = path.stem
            if name != self.default and not MODEL_NAME_PATTERN.fullmatch(name):
                log.warning("%s is not listed: its name cannot be a model name", path)
                continue
            try:
                stat = path.stat()
            except OSError:
                continue  # removed meanwhile
            stamp = (stat.st_size, stat.st_mtime_ns)
            found[name] = Entry(name, path, read_card(path), stamp)
        with self._lock:
            self._entries = found
        return found

    def resolve(self, name: str | None) -> str:
        """The model a request gets: `name`, or the default for None. ProtocolError
        (bad_request) for a name the folder does not hold, even when read again."""
        if name is None or name == self.default:
            return self.default
        with self._lock:
            known = name in self._entries
        if known or name in self.scan():
            return name
        with self._lock:
            names = sorted(self._entries)
        raise ProtocolError(
            "bad_request",
            f"no model named {name!r} in this backend's models folder; it has: " + ", ".join(names),
        )

    def describe(self) -> list[dict]:
        """`info.models`: every model of the folder as it is now, the default marked."""
        entries = self.scan()
        with self._lock:
            loaded = set(self._loaded)
        return [
            {**summary(entry), "default": name == self.default, "loaded": name in loaded}
            for name, entry in entries.items()
        ]

    @property
    def default_card(self) -> dict:
        with self._lock:
            entry = self._entries.get(self.default)
        return entry.card if entry else {"name": self.default}

    # ------------------------------------------------------------ loaded models
    def cleaner(self, name: str, on_load: Callable[[], None] | None = None) -> Cleaner:
        """The pipeline for model `name`, loaded now if it is not (on_load is told first).
        ProtocolError if the model left the folder, ModelUnavailable if it cannot load."""
        try:
            return self._cleaner(name, on_load)
        except ProtocolError:
            raise
        except Exception as exc:  # noqa: BLE001 - any loader failure is this model's
            raise ModelUnavailable(f"model {name!r} could not be loaded: {exc}") from exc

    def _cleaner(self, name: str, on_load: Callable[[], None] | None = None) -> Cleaner:
        with self._lock:
            entry = self._entries.get(name)
            held = self._loaded.get(name)
        path = entry.path if entry else self.default_path if name == self.default else None
        try:
            stat = path.stat() if path else None
            stamp = (stat.st_size, stat.st_mtime_ns) if stat else None
        except OSError:
            stamp = None
        if held is not None and stamp in (None, held[0]):  # unchanged, or gone but in memory
            with self._lock:
                self._loaded.move_to_end(name)
            return held[1]
        if path is None or (stamp is None and name != self.default):
            raise ProtocolError("bad_request", f"model {name!r} is no longer in {self.folder}")
        if on_load:
            on_load()
        loaded = self._load(path, self.runtime)  # a missing default file: the loader says so
        assert stamp is not None
        s = self.settings
        tiling.check_settings(s.tile, s.overlap, s.batch, loaded.multiple)
        cleaner = Cleaner(loaded, s)
        with self._lock:
            self._loaded[name] = (stamp, cleaner)
            self._loaded.move_to_end(name)
            evicted = []
            while len(self._loaded) > self.keep:
                evicted.append(self._loaded.popitem(last=False)[0])
        self.device, self.runtime_name = loaded.device, loaded.runtime_name
        log.info("loaded model %s (%s)", name, loaded.device)
        if evicted:
            log.info("let go of model(s) %s: at most %d stay loaded", evicted, self.keep)
        return cleaner

    # ------------------------------------------------------------ cleaning
    def clean(
        self,
        payload: bytes,
        width: int,
        height: int,
        fmt: str,
        options: CleanOptions,
        progress: Callable[[str, int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        region: tuple[int, int, int, int] | None = None,
    ) -> tuple[bytes, dict]:
        """Cleaner.clean with the model the options name; the result says which ran."""
        name = self.resolve(options.model)

        def loading() -> None:
            if progress:
                progress("loading", 0, 1)

        cleaner = self.cleaner(name, loading)
        result, fields = cleaner.clean(
            payload, width, height, fmt, options, progress, should_stop, region
        )
        fields["model"] = name
        return result, fields
