"""Sketch Cleanup backend: holds the U-Net and turns layers into clean line art."""

from sketch_kit.protocol import VERSION as __version__

__all__ = ["__version__"]
