"""The project's static checks, run by the test command: lint, format, types, import rules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# what each part may import besides the standard library and its own modules
ALLOWED = {
    "sketch_kit": {"zmq"},  # runs in editors' Pythons: no numpy, nothing of the backend
    "backend": {
        "sketch_kit.protocol",
        "sketch_kit.client",
        "numpy",
        "cv2",
        "zmq",
        "keras",
        "tensorflow",
        "openvino",
        "skimage",
        "tqdm",
        "jax",
        "torch",
        "skan",  # the vector tracer's libraries (backend/vector/)
        "numba",
        "vtracer",
    },
    "krita_plugin/sketch_cleanup": {"sketch_kit", "krita", "PyQt5", "PyQt6", "zmq"},
    "gimp_plugin/sketch-cleanup": {"sketch_kit", "gi", "zmq"},
}
FORBIDDEN = {"bench": {"tests"}, "trainer": {"tests", "krita_plugin", "gimp_plugin"}}


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",)],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_static_check(command):
    done = _run(*command)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}"


def imports_of(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports are its own package's)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _own_modules(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.py")} | {folder.name}


def _matches(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(folder: str, allowed: set[str] | None, forbidden: set[str]) -> list[str]:
    base = ROOT / folder
    found = []
    for path in sorted(base.rglob("*.py")):
        if "vendor" in path.parts or path.name == "installer.py":
            continue  # vendored pyzmq; installers run in install.py's Python
        for name in sorted(imports_of(path)):
            top = name.split(".")[0]
            if _matches(name, forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
            elif allowed is None or top in sys.stdlib_module_names or top == "__future__":
                continue
            elif top in _own_modules(path.parent) or top == base.name:
                continue
            elif not (_matches(name, allowed) or any(a.startswith(name + ".") for a in allowed)):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("folder", [*ALLOWED, *FORBIDDEN])
def test_import_rules(folder):
    """The backend never imports the trainer or the plugins, and of the kit only the wire
    (protocol, client); plugins import only the kit and their editor; the kit needs nothing
    but pyzmq; bench and trainer import no tests."""
    assert violations(folder, ALLOWED.get(folder), FORBIDDEN.get(folder, set())) == []


def test_import_rules_catch_a_violation(tmp_path, monkeypatch):
    fake = tmp_path / "backend"
    fake.mkdir()
    (fake / "bad.py").write_text("import trainer.train\nfrom sketch_kit import session\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("backend", ALLOWED["backend"], set()) == [
        "backend/bad.py imports sketch_kit.session",
        "backend/bad.py imports trainer.train",
    ]
