"""Sketch Cleanup for Krita: Filter ▸ Clean Sketch turns a rough sketch into clean lines.

The shared editor kit (`sketch_kit`) sits in `kit/`, where install.py copies it; in a
checkout the repository's own copy is used. pyzmq comes from the `vendor` folder that
install.py fills for Krita's own Python (Krita ships none); when that fails to import (say
Krita moved to a new Python) the editor's own site-packages are tried. Outside Krita (tests,
tools) importing the package registers nothing.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENDOR = os.path.join(HERE, "vendor")
KIT = os.path.join(HERE, "kit")
CHECKOUT = os.path.dirname(os.path.dirname(HERE))  # krita_plugin/sketch_cleanup -> root
ZMQ_IMPORT_ERROR = None


def _find_kit() -> None:
    for folder in (KIT, CHECKOUT):
        if os.path.isdir(os.path.join(folder, "sketch_kit")):
            if folder not in sys.path:
                sys.path.insert(0, folder)
            return


def _import_zmq() -> None:
    global ZMQ_IMPORT_ERROR
    if os.path.isdir(VENDOR) and VENDOR not in sys.path:
        sys.path.insert(0, VENDOR)
    try:
        import zmq  # noqa: F401

        return
    except ImportError as exc:  # built for another Python, or not installed
        ZMQ_IMPORT_ERROR = f"{exc}"
    if VENDOR in sys.path:
        sys.path.remove(VENDOR)
        for name in [m for m in sys.modules if m == "zmq" or m.startswith("zmq.")]:
            del sys.modules[name]
        try:
            import zmq  # noqa: F401

            ZMQ_IMPORT_ERROR = None
        except ImportError:
            pass


_find_kit()
_import_zmq()


def _register():
    """Add the extension when running inside Krita (not in tests or tools)."""
    try:
        from krita import Krita
    except ImportError:
        return None
    from .extension import SketchCleanupExtension

    extension = SketchCleanupExtension(Krita.instance())
    Krita.instance().addExtension(extension)
    return extension


EXTENSION = _register()
