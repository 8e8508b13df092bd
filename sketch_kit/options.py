"""The options both dialogs show: one table of names, labels, ranges and hints.

Krita builds its widgets and GIMP its procedure arguments from `FIELDS`; both save and
restore `EditorOptions` and turn them into the request's `CleanOptions`. An option has one
name everywhere: the dialogs' "Detail" is `detail` + `detail_factor` here and `scale` on
the wire.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from . import defaults
from .protocol import COLOR_PATTERN, LINE_WIDTH_RANGE, SCALE_RANGE, CleanOptions

LEVEL_RANGE = (0.01, 0.99)
TIMEOUT_MINUTES_RANGE = (defaults.JOB_TIMEOUT_RANGE_S[0] / 60, defaults.JOB_TIMEOUT_RANGE_S[1] / 60)
IDLE_EXIT_MINUTES_RANGE = (defaults.IDLE_EXIT_RANGE_S[0] / 60, defaults.IDLE_EXIT_RANGE_S[1] / 60)


@dataclass(frozen=True)
class Field:
    """One dialog row. kind: choice | number | color | text | file | bool | model (a name
    from the backend's `info.models`; empty: its default)."""

    name: str
    label: str
    hint: str
    kind: str
    choices: dict[str, str] = dataclasses.field(default_factory=dict)  # value -> label
    range: tuple[float, float] = (0.0, 0.0)
    step: float = 0.0
    decimals: int = 0
    suffix: str = ""
    enabled_when: tuple[str, str] | None = None  # (choice field, value) that uses this one
    group: str = "result"  # result | backend


FIELDS = (
    Field(
        "style",
        "Style",
        "Lines on a transparent layer, lines on white, or the network's soft gray lines",
        "choice",
        {
            "transparent": "Lines on a transparent layer",
            "white": "Lines on white",
            "soft": "Soft gray lines on white (no threshold)",
        },
    ),
    Field("line_color", "Line colour", "Colour of the lines, #rrggbb", "color"),
    Field(
        "threshold",
        "Threshold",
        "How line pixels are chosen from the network's output",
        "choice",
        {
            "otsu": "Automatic (Otsu)",
            "mean": "Darker than the mean (original method)",
            "none": "None: soft, anti-aliased lines",
            "fixed": "Fixed level",
        },
    ),
    Field(
        "threshold_level",
        "Level",
        "Network output below this level becomes line (0-1)",
        "number",
        range=LEVEL_RANGE,
        step=0.05,
        decimals=2,
        enabled_when=("threshold", "fixed"),
    ),
    Field(
        "detail",
        "Detail",
        "Automatic measures the sketch's stroke width and works at the resolution the model "
        "was trained for",
        "choice",
        {"auto": "Automatic (from the stroke width)", "custom": "Custom factor"},
    ),
    Field(
        "detail_factor",
        "Detail factor",
        "Working resolution relative to the layer: larger keeps finer detail, smaller "
        "merges close strokes",
        "number",
        range=SCALE_RANGE,
        step=0.1,
        decimals=2,
        suffix="×",
        enabled_when=("detail", "custom"),
    ),
    Field(
        "line_weight",
        "Line weight",
        "Redraw every line at one even width around its centre line; automatic thins lines "
        "bolder than one pencil pass of the sketch's main stroke (2-4 px) down to it",
        "choice",
        {
            "model": "As the model draws them",
            "auto": "Automatic (one pencil pass wide)",
            "custom": "Custom width",
        },
    ),
    Field(
        "line_width",
        "Line width",
        "Width of every line, in pixels of the layer",
        "number",
        range=LINE_WIDTH_RANGE,
        step=0.5,
        decimals=1,
        suffix=" px",
        enabled_when=("line_weight", "custom"),
    ),
    Field(
        "flatten",
        "Flatten the lighting (photos of paper)",
        "Even out uneven light, shadows and a colour cast before cleaning: for phone "
        "photos, not for scans",
        "bool",
    ),
    Field(
        "model",
        "Model",
        "Which of the backend's models cleans the sketch (a studio's fine-tuned one, say); "
        "empty: the backend's default",
        "model",
    ),
    Field(
        "vector",
        "Vector output",
        "Also trace the lines into vector paths (docs/vector.md): strokes along the lines, "
        "or filled outlines for ink with strong line-weight variation",
        "choice",
        {
            "none": "No: pixels only",
            "centreline": "Strokes along the lines",
            "outline": "Filled outlines",
        },
    ),
    Field(
        "server",
        "Address",
        "Empty: the backend install.py set up. For another computer: tcp://host:5571 (it "
        "needs its server key file)",
        "text",
        group="backend",
    ),
    Field(
        "server_key_file",
        "Server key file",
        "The backend's server.key (CURVE public key) when it runs on another computer",
        "file",
        group="backend",
    ),
    Field(
        "autostart",
        "Start the local backend when none is running",
        "Start the backend install.py set up when nothing answers on this computer",
        "bool",
        group="backend",
    ),
    Field(
        "timeout_minutes",
        "Give up after",
        "Cancel a job that takes longer than this",
        "number",
        range=TIMEOUT_MINUTES_RANGE,
        step=1.0,
        suffix=" min",
        group="backend",
    ),
    Field(
        "idle_exit_minutes",
        "Stop a backend it started after",
        "A backend this editor started exits after this long without work, giving its memory "
        "back; the next clean starts it again. 0: it keeps running",
        "number",
        range=IDLE_EXIT_MINUTES_RANGE,
        step=1.0,
        suffix=" min",
        group="backend",
    ),
)
FIELDS_BY_NAME = {field.name: field for field in FIELDS}


@dataclass(frozen=True)
class EditorOptions:
    """What an artist sets in either dialog, saved between runs."""

    style: str = CleanOptions.style
    line_color: str = CleanOptions.color
    threshold: str = "otsu"  # or "fixed", then threshold_level
    threshold_level: float = 0.5
    detail: str = "auto"  # or "custom", then detail_factor
    detail_factor: float = 1.0
    line_weight: str = "model"  # or "auto", or "custom", then line_width
    line_width: float = 2.0
    flatten: bool = False
    model: str = ""  # empty: the backend's default model
    vector: str = "none"  # or a protocol.VECTOR_MODES name
    server: str = ""  # empty: the installed backend's address (or the default)
    server_key_file: str = ""
    autostart: bool = True
    timeout_minutes: float = defaults.JOB_TIMEOUT_S / 60
    idle_exit_minutes: float = defaults.IDLE_EXIT_S / 60

    def clean_options(self, output_format: str | None = None) -> CleanOptions:
        """The request's options (ProtocolError if a value is out of range)."""
        threshold = self.threshold_level if self.threshold == "fixed" else self.threshold
        scale = self.detail_factor if self.detail == "custom" else "auto"
        line_width = self.line_width if self.line_weight == "custom" else self.line_weight
        return CleanOptions(
            style=self.style,
            color=self.line_color.lower(),
            threshold=threshold,
            scale=scale,
            line_width=line_width,
            output_format=output_format,
            vector=None if self.vector == "none" else self.vector,
            model=self.model.strip() or None,
            flatten=self.flatten,
        )

    def replace(self, **changes) -> EditorOptions:
        return dataclasses.replace(self, **changes)

    def to_strings(self) -> dict[str, str]:
        """For editors' string-only settings stores (Krita's kritarc)."""
        out = {}
        for name, value in dataclasses.asdict(self).items():
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out

    @classmethod
    def from_strings(cls, values: dict[str, str]) -> EditorOptions:
        """Parse saved strings; anything unreadable falls back to its default, so a
        hand-edited settings file cannot break a plugin."""
        parsed: dict = {}
        for field in dataclasses.fields(cls):
            text = str(values.get(field.name, "")).strip()
            value = _parse(FIELDS_BY_NAME[field.name], text)
            if value is not None:
                parsed[field.name] = value
        return cls(**parsed)


def _parse(field: Field, text: str):
    if field.kind == "choice":
        return text if text in field.choices else None
    if field.kind == "color":
        return text.lower() if COLOR_PATTERN.fullmatch(text) else None
    if field.kind == "bool":
        return {"true": True, "false": False}.get(text.lower())
    if field.kind == "number":
        try:
            number = float(text)
        except ValueError:
            return None
        low, high = field.range
        return number if low <= number <= high else None
    return text  # text, file, model


# ---------------------------------------------------------------- named presets

PRESET_FIELDS = tuple(f.name for f in FIELDS if f.group == "result")  # not the connection


def preset_of(options: EditorOptions) -> dict[str, str]:
    """What a named preset keeps of the options: how the result looks, not the backend."""
    strings = options.to_strings()
    return {name: strings[name] for name in PRESET_FIELDS}


def with_preset(options: EditorOptions, preset: dict[str, str]) -> EditorOptions:
    """`options` with a preset's values; an unreadable value keeps the current one."""
    changes = {}
    for name in PRESET_FIELDS:
        if name in preset:
            value = _parse(FIELDS_BY_NAME[name], str(preset[name]).strip())
            if value is not None:
                changes[name] = value
    return options.replace(**changes)


def load_presets(text: str) -> dict[str, dict[str, str]]:
    """Presets saved as JSON text ({name: {option: value}}); broken text gives none."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(name): {k: str(v) for k, v in values.items() if k in PRESET_FIELDS}
        for name, values in data.items()
        if isinstance(values, dict) and str(name).strip()
    }


def dump_presets(presets: dict[str, dict[str, str]]) -> str:
    return json.dumps(presets, sort_keys=True, ensure_ascii=False)


def model_headline(entry: dict) -> str:
    """A model of `info.models` in a few words: its title, version and size."""
    title = entry.get("title") or entry.get("name", "?")
    parts = [f"{title} {entry['version']}" if entry.get("version") else title]
    if entry.get("parameters"):
        parts.append(f"{entry['parameters'] / 1e6:.1f} M parameters")
    return "; ".join(parts)


def describe_model(entry: dict) -> str:
    """All an artist reads about a model of `info.models`: the headline, its training data,
    whether it is the default, its notes."""
    parts = [model_headline(entry)]
    if entry.get("training_data"):
        data = str(entry["training_data"])
        parts.append(f"trained on {data if len(data) <= 60 else data[:59] + '…'}")
    if entry.get("default"):
        parts.append("the backend's default")
    text = "; ".join(parts)
    return f"{text}. {entry['notes']}" if entry.get("notes") else text
