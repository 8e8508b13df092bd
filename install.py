#!/usr/bin/env python3
"""One command that sets Sketch Cleanup up for an artist.

    python3 install.py              # backend + model, then cleans an example sketch
    python3 install.py --dry-run    # say what would be done, change nothing
    python3 install.py --uninstall  # remove what install.py put in place

Runs on the standard library alone (it is what installs everything else) and can be run
again at any time: each step checks what is already there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from sketch_kit import local, protocol  # noqa: E402  (the standard library only)
from sketch_kit.defaults import START_TIMEOUT_S  # noqa: E402

MODEL_FILES = ("sketch-unet.keras", "sketch-unet.json")
# the fast CPU choice the dialogs offer beside the default (models/sketch-unet-small.json)
SHIPPED_MODEL_FILES = ("sketch-unet-small.keras", "sketch-unet-small.json")
# the int8 copy for `--runtime openvino-int8` (python -m trainer.quantize), when there is one
OPTIONAL_MODEL_FILES = ("sketch-unet-int8.xml", "sketch-unet-int8.bin", "sketch-unet-int8.json")
EXAMPLE = ROOT / "examples" / "revoy_witch_rough.png"


class Installer:
    def __init__(self, home: Path, dry_run: bool):
        self.home = home
        self.dry_run = dry_run
        self.venv = home / "venv"
        self.python = self.venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        self.done: list[str] = []

    # -- helpers
    def say(self, message: str) -> None:
        print(("[dry run] " if self.dry_run else "") + message, flush=True)

    def run(self, *command, **kwargs) -> subprocess.CompletedProcess | None:
        self.say("$ " + " ".join(str(c) for c in command))
        if self.dry_run:
            return None
        return subprocess.run([str(c) for c in command], check=True, **kwargs)

    # -- steps
    def backend(self) -> None:
        """A private virtual environment with TensorFlow/Keras, OpenVINO (the CPU runtime) and
        the backend in it: `pip install` of this project brings its dependencies."""
        if self.python.exists():
            self.say(f"virtual environment exists: {self.venv}")
        else:
            self.say(f"creating a virtual environment in {self.venv}")
            if not self.dry_run:
                venv.EnvBuilder(with_pip=True, clear=False).create(self.venv)
        self.run(self.python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        self.say(
            "installing TensorFlow, Keras, OpenVINO, OpenCV, pyzmq and the backend "
            "(the first time downloads about 750 MB)"
        )
        self.run(self.python, "-m", "pip", "install", "--quiet", str(ROOT))
        self.done.append(f"backend environment: {self.venv}")

    def model(self) -> Path:
        target = self.home / "models"
        missing = [name for name in MODEL_FILES if not (ROOT / "models" / name).exists()]
        if missing:
            raise SystemExit(
                f"the model files {missing} are missing from {ROOT / 'models'}; "
                "train one with `python -m trainer train` and export it there"
            )
        self.say(f"copying the model to {target}")
        if not self.dry_run:
            target.mkdir(parents=True, exist_ok=True)
            for name in MODEL_FILES:
                shutil.copy2(ROOT / "models" / name, target / name)
            for name in SHIPPED_MODEL_FILES + OPTIONAL_MODEL_FILES:
                if (ROOT / "models" / name).exists():
                    shutil.copy2(ROOT / "models" / name, target / name)
        self.done.append(f"models: {target}")
        return target

    def launcher(self, model: Path) -> None:
        """backend.json tells the plugins how to start the backend; a script for people.
        `model`: the models folder (the backend picks the model for its device) or a file."""
        config = {
            "command": [str(self.python), "-m", "backend", "serve", "--idle-exit", "3600"],
            "env": {"SKETCH_CLEANUP_MODEL": str(model)},
            "endpoint": protocol.DEFAULT_ENDPOINT,
            "installed_from": str(ROOT),
            "installed": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        bin_dir = self.home / "bin"
        if os.name == "nt":
            script = bin_dir / "sketch-cleanup.cmd"
            text = (
                f'@echo off\r\nset "SKETCH_CLEANUP_MODEL={model}"\r\n'
                f'"{self.python}" -m backend %*\r\n'
            )
        else:
            script = bin_dir / "sketch-cleanup"
            text = (
                f'#!/bin/sh\nexport SKETCH_CLEANUP_MODEL="{model}"\n'
                f'exec "{self.python}" -m backend "$@"\n'
            )
        self.say(f"writing {self.home / 'backend.json'} and {script}")
        if not self.dry_run:
            bin_dir.mkdir(parents=True, exist_ok=True)
            (self.home / "backend.json").write_text(json.dumps(config, indent=2))
            script.write_text(text)
            script.chmod(0o755)
        self.done.append(f"start the backend by hand with: {script} serve")

    def example(self) -> None:
        """Clean the bundled example sketch through a real backend, as a plugin would."""
        out_dir = self.home / "example"
        if self.dry_run:
            self.say(f"would clean {EXAMPLE.name} through the backend into {out_dir}")
            return
        config = json.loads((self.home / "backend.json").read_text())
        env = {**os.environ, **config["env"], "TF_CPP_MIN_LOG_LEVEL": "2"}
        endpoint = f"tcp://127.0.0.1:{_free_port()}"
        self.say(f"starting the backend on {endpoint} to clean an example sketch")
        log_path = self.home / "example-backend.log"
        with open(log_path, "w") as log:
            backend = subprocess.Popen(
                [*config["command"], "--bind", endpoint],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
            )
        try:
            self._wait_ready(endpoint, backend, log_path)
            self.run(
                self.python,
                "-m",
                "backend",
                "clean",
                EXAMPLE,
                "-o",
                out_dir,
                "--server",
                endpoint,
                env=env,
                cwd=self.home,
            )
        finally:
            backend.terminate()
            backend.wait(30)
        result = out_dir / (EXAMPLE.stem + ".png")
        self.done.append(f"example: {EXAMPLE} cleaned into {result}")

    def _wait_ready(self, endpoint: str, backend: subprocess.Popen, log_path: Path) -> None:
        probe = (
            "import sys; from sketch_kit.client import Client; cl = Client(sys.argv[1]); "
            "print(cl.info(timeout=2.0)['device'])"
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if backend.poll() is not None:
                raise SystemExit(f"the backend failed to start:\n{log_path.read_text()}")
            answer = subprocess.run(
                [str(self.python), "-c", probe, endpoint],
                capture_output=True,
                text=True,
                cwd=self.home,
            )
            if answer.returncode == 0:
                self.say(f"backend ready on {answer.stdout.strip()}")
                return
            time.sleep(1)
        raise SystemExit(
            f"the backend did not answer within {START_TIMEOUT_S:.0f} s; see {log_path}"
        )

    def vendor_pyzmq(self, target: Path, python_version: str, platforms: list[str]) -> None:
        """pyzmq built for an editor's own Python (version like "3.11", pip platform tags),
        unpacked into `target`, which the plugin puts on sys.path. Uses the backend's pip."""
        if (target / "zmq").is_dir():
            self.say(f"pyzmq already in {target}")
            return
        platform_args = [arg for tag in platforms for arg in ("--platform", tag)]
        self.run(
            self.python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            *platform_args,
            "--target",
            target,
            "pyzmq",
        )

    def editors(self, which: str, uninstall: bool = False) -> None:
        """Each plugin folder's installer.py knows its editor's folders and Python."""
        import importlib

        for name in ("krita", "gimp"):
            if which not in (name, "all"):
                continue
            module = importlib.import_module(f"{name}_plugin.installer")
            self.done.extend(module.install(self, uninstall=uninstall))

    def uninstall(self) -> None:
        if not self.home.exists():
            self.say(f"nothing to remove: {self.home} does not exist")
            return
        self.say(f"removing {self.home}")
        if not self.dry_run:
            shutil.rmtree(self.home)
        self.done.append(f"removed {self.home}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Install Sketch Cleanup: the backend with its model, then check it by "
        "cleaning an example sketch.",
        epilog=f"Installs into {local.data_dir()} (set SKETCH_CLEANUP_HOME to change it).",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
    parser.add_argument("--uninstall", action="store_true", help="remove what was installed")
    parser.add_argument(
        "--skip-example", action="store_true", help="do not clean the example sketch at the end"
    )
    parser.add_argument(
        "--editor",
        choices=("krita", "gimp", "all", "none"),
        default="all",
        help="which editors to install the plugin into (%(default)s)",
    )
    args = parser.parse_args(argv)
    installer = Installer(local.data_dir(), args.dry_run)
    try:
        if args.uninstall:
            installer.editors(args.editor, uninstall=True)
            if args.editor == "all":
                installer.uninstall()
        else:
            installer.backend()
            model = installer.model()
            installer.launcher(model)
            installer.editors(args.editor)
            if not args.skip_example:
                installer.example()
    except subprocess.CalledProcessError as exc:
        print(
            f"\nfailed: {' '.join(map(str, exc.cmd))} exited with {exc.returncode}", file=sys.stderr
        )
        return 1
    verb = "removed" if args.uninstall else "set up"
    print(f"\nSketch Cleanup {'would be ' + verb if args.dry_run else 'is ' + verb}:")
    for line in installer.done:
        print(f"  - {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
