"""Every tunable default of the backend, in one place: argparse, Settings, Limits, the
benchmark and the docs read them from here.

Sizes are chosen for a 2-core CPU with a few GB to spare: one network pass on a tile of
TILE² px needs about 280 bytes per pixel (OpenVINO, fp32), so a 768² tile costs ~165 MB
whatever the canvas. 768 rather than 1088 (a 1024² layer in one pass): a live preview's 512²
region costs the tiles it touches, and 768² tiles keep every one under about 1 s on 2 cores
for some 7 % more network pixels in a full clean (docs/backend.md, "Live preview").
"""

from __future__ import annotations

RUNTIMES = ("auto", "keras", "openvino", "openvino-bf16", "openvino-int8")
RUNTIME = "auto"  # OpenVINO (fp32) on a CPU, Keras (TensorFlow, JAX, PyTorch) on a GPU
# fast modes, never picked by auto (their quality-report scores are in docs/backend.md):
# openvino-bf16 on CPUs with bfloat16 (AVX512-BF16, AMX); openvino-int8 with the model's
# int8 copy made by `python -m trainer.quantize`

TILE = 768  # largest tile side, working px: smaller canvases run whole in one pass
OVERLAP = 32  # context blended at each inner tile edge, px
BATCH = 1  # tiles per network call (raise it with --tile on a GPU)
MAX_WORKING_PIXELS = 64_000_000  # auto scale never works on more pixels than this

MAX_SIDE = 16384  # px a side of a request
MAX_PIXELS = 64_000_000  # pixels of a request
MAX_QUEUE = 32  # jobs held (running plus waiting)
MAX_QUEUED_BYTES = 1 << 30  # payload bytes held by those jobs; past it new jobs get `busy`

# models of the models folder held in memory at once (least recently used let go first): each
# costs its weights plus the runtime's buffers for one tile (~330 MB at TILE on a CPU)
LOADED_MODELS = 2
