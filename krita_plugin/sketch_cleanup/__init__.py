"""Sketch Cleanup for Krita: Filter ▸ Clean Sketch turns a rough sketch into clean lines.

pyzmq comes from the `vendor` folder that install.py fills for Krita's own Python (Krita
ships none); when that fails to import (say Krita moved to a new Python) the editor's own
site-packages are tried. `sketch_client.py` (the shared protocol client) sits next to this
file. Outside Krita (tests, tools) importing the package registers nothing.
"""

import os
import sys

VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor")
ZMQ_IMPORT_ERROR = None


def _import_zmq():
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


_import_zmq()

try:
    from krita import Krita
except ImportError:  # not inside Krita
    Krita = None

EXTENSION = None
if Krita is not None:
    from .extension import SketchCleanupExtension

    EXTENSION = SketchCleanupExtension(Krita.instance())
    Krita.instance().addExtension(EXTENSION)
