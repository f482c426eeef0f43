"""Command line: ``python -m minis2s <command> --help``.

Every command has ``--help``; ``--json`` makes the last stdout line one JSON value of its
figures. Mistakes the user can fix (:class:`minis2s.errors.UserError`) print one line on
stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import UserError


def _gradcheck(args) -> int:
    from . import backend as B
    from . import suite
    from .gradcheck import TOLERANCE, format_table

    B.set_backend(args.backend) if args.backend else B.get_backend()
    results = []
    cases = [c for c in suite.CASES if not args.only or any(s in c.name for s in args.only)]
    if not cases:
        raise UserError(f"no gradient-check case matches {args.only}; run without --only to list all")
    for c in _progress(cases, "gradcheck", args.json):
        results.extend(suite.run(c, seed=args.seed))
    print(format_table(results, TOLERANCE))
    if args.json:
        print(json.dumps([r.as_dict() for r in results]))
    return 0 if all(r.passed(TOLERANCE) for r in results) else 1


def _progress(items, desc, quiet=False):
    from tqdm import tqdm

    return tqdm(items, desc=desc, leave=False, disable=quiet or None, file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minis2s",
        description="Sequence-to-sequence learning from scratch on NumPy and CuPy.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    p = sub.add_parser(
        "gradcheck",
        help="check every hand-written backward pass against centered differences",
        description="Float64 gradient check of every op; exits 1 if any relative error exceeds 1e-7.",
    )
    p.add_argument("--only", nargs="+", metavar="NAME", help="run the cases whose name contains NAME")
    p.add_argument("--seed", type=int, default=0, help="seed for inputs and sampled coordinates")
    p.add_argument("--backend", choices=["numpy", "cupy", "strict"], help="array backend (default: $MINIS2S_BACKEND or numpy)")
    p.add_argument("--json", action="store_true", help="last stdout line: JSON list of {op, wrt, rel_error}")
    p.set_defaults(run=_gradcheck)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
