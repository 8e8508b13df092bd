"""Training, evaluation and export of the sketch-cleanup U-Net (``python -m trainer --help``).

Importing this package is cheap: the submodules (which import Keras) are loaded on demand.
The serving backend never imports it; it only loads the exported ``.keras`` file and its card.
"""

__all__ = [
    "augment",
    "callbacks",
    "config",
    "data",
    "distribute",
    "evaluate",
    "export",
    "losses",
    "metrics",
    "model",
    "plots",
    "run_data",
    "run_folder",
    "train",
]
