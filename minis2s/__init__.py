"""minis2s: sequence-to-sequence learning from scratch, every backward pass by hand."""

from .backend import get_backend, set_backend

__version__ = "0.1.0"
__all__ = ["get_backend", "set_backend", "__version__"]
