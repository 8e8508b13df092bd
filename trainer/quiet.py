"""Keeps TensorFlow's C++ start-up logs off the trainer's command lines.

On a machine without a GPU they include CUDA probe errors ("failed call to cuInit: ...
UNKNOWN ERROR (303)") that read like failures. ``TF_CPP_MIN_LOG_LEVEL=3`` hides what
TensorFlow logs once loaded, but only when set before the import; what its libraries log
while loading goes through absl before any level applies (with absl's "All log messages
before absl::InitializeLog() ..." line), so those lines are dropped from stderr while Keras
imports its backend. A user who sets ``TF_CPP_MIN_LOG_LEVEL`` (0 shows everything) gets
TensorFlow's own behaviour.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["import_keras_quietly"]

# absl's banner, and the INFO, WARNING and ERROR lines of the C++ logs ("I0000 00:00:17...");
# FATAL lines and everything else (Python warnings, tracebacks) pass.
_START_UP_LOG = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} )"
)


def import_keras_quietly() -> None:
    """Import Keras (and so its backend) for a command; call it before anything imports it."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _start_up_logs_dropped():
        import keras  # noqa: F401


@contextlib.contextmanager
def _start_up_logs_dropped() -> Iterator[None]:
    """Collect file descriptor 2 in a file, then pass on every line but the start-up logs.

    A file rather than a pipe: the libraries log while the import holds the GIL, so a thread
    draining a pipe could not run, and a full pipe would hang the import.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured if not _START_UP_LOG.match(line)]
            sys.stderr.write(b"".join(kept).decode(errors="replace"))
            sys.stderr.flush()
