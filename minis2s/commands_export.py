"""``python -m minis2s export --checkpoint DIR --torch out.pt``: a checkpoint for PyTorch.

Kept apart from :mod:`minis2s.commands` so that only this command needs PyTorch.
"""

from __future__ import annotations

import json

from .errors import UserError


def export(args) -> int:
    """args: ``checkpoint`` (run or checkpoint directory), ``torch`` (the .pt to write),
    optional ``prefer`` ("best" or "latest", default best) and ``json``."""
    try:
        from .torch_export import export as write
        from .torch_export import load
    except ImportError as exc:
        raise UserError(f"export needs PyTorch ({exc}); install it with: pip install torch") from None
    path = write(args.checkpoint, args.torch, prefer=getattr(args, "prefer", None) or "best")
    module = load(path)  # read back what was written: a file that will not load is not an export
    summary = {"out": str(path), "params": sum(p.numel() for p in module.parameters()),
               "config": module.cfg.to_json()}
    if getattr(args, "json", False):
        print(json.dumps(summary))
    else:
        print(f"wrote {path} ({summary['params']} parameters); "
              "load it with minis2s.torch_export.load(path) or torch.load(path, weights_only=True)")
    return 0
