"""The editor kit: what both plugins, the command line and the backend share.

Standard library + pyzmq only, so it runs in an editor's own Python (which may lack numpy).
install.py copies this package into each plugin; in a checkout it is imported as it is.

- `protocol`: the wire protocol (formats, errors, `CleanOptions`); the only part the backend
  imports.
- `client`: a non-blocking client for one backend or broker.
- `local`: the backend install.py set up: where it lives, starting it, reading keys.
- `session`: one Clean Sketch from connecting to the result, driven by an editor's loop.
- `clip`: every keyframe of an animated layer through Sessions, at one measured scale.
- `options`: the dialogs' options: labels, ranges, hints, saved settings.
- `pixels`: byte work on layers that needs no numpy (alpha masks, emptiness, areas).
"""
