"""The plugin's options, remembered in Krita's settings (kritarc, group [sketch_cleanup]).

Krita's readSetting/writeSetting store strings; `Options.from_strings` parses them back and
falls back to the default for anything unreadable, so a hand-edited kritarc cannot break
the plugin. Imports Krita only inside load/save, so the parsing is testable anywhere.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

GROUP = "sketch_cleanup"
STYLES = ("transparent", "white", "soft")
THRESHOLDS = ("otsu", "mean", "none", "fixed")
SCALES = ("auto", "factor")
LINE_WEIGHTS = ("model", "auto", "width")
LEVEL_RANGE = (0.01, 0.99)
FACTOR_RANGE = (0.1, 4.0)  # sketch_client.SCALE_RANGE
LINE_WIDTH_RANGE = (0.5, 32.0)  # sketch_client.LINE_WIDTH_RANGE
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Options:
    style: str = "transparent"
    color: str = "#000000"
    threshold: str = "otsu"  # otsu | mean | none | fixed (then `level`)
    level: float = 0.5
    scale: str = "auto"  # auto | factor (then `factor`)
    factor: float = 1.0
    line_weight: str = "model"  # model | auto | width (then `line_width` px)
    line_width: float = 2.0
    endpoint: str = ""  # empty: the installed backend's endpoint (backend.json) or the default
    server_key_file: str = ""  # the backend's CURVE public key (server.key), for remote ones
    autostart: bool = True  # start the installed backend when none answers locally
    timeout_minutes: float = 15.0  # give up on a job after this long

    def request_options(self, fmt: str) -> dict:
        """The `options` of a clean request (docs/protocol.md); results come back in fmt."""
        threshold = self.level if self.threshold == "fixed" else self.threshold
        scale = self.factor if self.scale == "factor" else "auto"
        line_width = self.line_width if self.line_weight == "width" else self.line_weight
        return {
            "style": self.style,
            "color": self.color.lower(),
            "threshold": threshold,
            "scale": scale,
            "line_width": line_width,
            "output_format": fmt,
        }

    def to_strings(self) -> dict[str, str]:
        out = {}
        for name, value in asdict(self).items():
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out

    @classmethod
    def from_strings(cls, values: dict[str, str]) -> Options:
        default = cls()
        options = cls()

        def number(name, low, high):
            try:
                value = float(values.get(name, ""))
            except ValueError:
                return getattr(default, name)
            return value if low <= value <= high else getattr(default, name)

        def choice(name, allowed):
            value = values.get(name, "")
            return value if value in allowed else getattr(default, name)

        options.style = choice("style", STYLES)
        color = values.get("color", "")
        options.color = color if _COLOR.match(color) else default.color
        options.threshold = choice("threshold", THRESHOLDS)
        options.level = number("level", *LEVEL_RANGE)
        options.scale = choice("scale", SCALES)
        options.factor = number("factor", *FACTOR_RANGE)
        options.line_weight = choice("line_weight", LINE_WEIGHTS)
        options.line_width = number("line_width", *LINE_WIDTH_RANGE)
        options.endpoint = values.get("endpoint", "").strip()
        options.server_key_file = values.get("server_key_file", "").strip()
        options.autostart = values.get("autostart", "true").lower() != "false"
        options.timeout_minutes = number("timeout_minutes", 1.0, 24 * 60.0)
        return options


def is_local(endpoint: str) -> bool:
    scheme = endpoint.split("://", 1)[0]
    if scheme in ("ipc", "inproc"):
        return True
    try:
        host = urlsplit(endpoint).hostname or ""
    except ValueError:
        return False
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def load_server_key(path: str) -> str:
    """The Z85 public key from a server.key certificate (or a file holding just the key)."""
    text = Path(path).expanduser().read_text(errors="replace")
    found = re.search(r'public-key\s*=\s*"([^"]{40})"', text)
    if found:
        return found.group(1)
    if len(text.strip()) == 40:
        return text.strip()
    raise ValueError(f"{path} holds no CURVE public key (expected a server.key file)")


def names() -> list[str]:
    return [f.name for f in fields(Options)]


def load() -> Options:
    from krita import Krita

    app = Krita.instance()
    return Options.from_strings({name: app.readSetting(GROUP, name, "") for name in names()})


def save(options: Options) -> None:
    from krita import Krita

    app = Krita.instance()
    for name, value in options.to_strings().items():
        app.writeSetting(GROUP, name, value)
