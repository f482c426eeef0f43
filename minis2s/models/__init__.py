"""The models: the recurrent encoder-decoder (:mod:`.seq2seq`), the Transformer
(:mod:`.transformer`) and the recurrent language model (:mod:`.lm`).

A translation checkpoint names its architecture in its config (``"arch"``: "recurrent", the
default of checkpoints written before the Transformer, or "transformer"); the two functions
below are the one place that turns that name into a config class and a model.
"""

from __future__ import annotations

ARCHS = ("recurrent", "transformer")


def config_class(arch: str):
    """The config dataclass of a translation architecture."""
    if arch == "transformer":
        from .transformer import TransformerConfig

        return TransformerConfig
    from .seq2seq import Seq2SeqConfig

    return Seq2SeqConfig


def build_model(cfg, seed: int = 0, dtype=None):
    """A Seq2Seq or a Transformer, whichever ``cfg`` configures."""
    from .transformer import Transformer, TransformerConfig

    if isinstance(cfg, TransformerConfig):
        return Transformer(cfg, seed=seed, dtype=dtype)
    from .seq2seq import Seq2Seq

    return Seq2Seq(cfg, seed=seed, dtype=dtype)


def arch_of(cfg) -> str:
    """"transformer" or "recurrent" for a model config."""
    from .transformer import TransformerConfig

    return "transformer" if isinstance(cfg, TransformerConfig) else "recurrent"
