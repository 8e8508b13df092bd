"""Scripts of the runs that trained the shipped models (docs/training.md)."""
