"""Sketch Cleanup backend: holds the U-Net and turns layers into clean line art."""

__version__ = "0.1.0"
