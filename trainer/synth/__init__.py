"""Synthetic (rough pencil sketch, clean line art) training pairs.

``make_pair(rng, size)`` returns one pair; ``write_pairs(out_dir, n, ...)`` writes many;
``python -m trainer.synth --help`` is the command line. See docs/synthetic.md.
"""

from .pairs import make_pair, pair_rng, write_pairs

__all__ = ["make_pair", "pair_rng", "write_pairs"]
