"""What each command of ``python -m minis2s`` does; :mod:`minis2s.cli` parses the flags.

One function per command, taking the parsed ``args``; each imports what only it needs when it
runs, so ``--help`` stays instant and ``export`` alone needs PyTorch.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path

from . import backend as B
from . import checkpoint as ckpt
from . import runs
from .errors import CheckpointError, UserError
from .recipes import DEFAULT_ARCH, bpe_merges, recipe
from .train import TrainConfig, build_run, held_out_summary

LM_MODEL_FLAGS = ("cell", "emb", "hidden", "layers", "dropout")
MODEL_FLAGS = ("cell", "emb", "hidden", "layers", "bidirectional", "attention", "input_feeding",
               "tie_embeddings", "dropout")
TRANSFORMER_FLAGS = ("layers", "d_model", "heads", "d_ff", "dropout", "activation", "norm_first", "positional",
                     "max_len", "tie_embeddings", "share_vocab", "sentence_words")
#: flags that belong to one architecture only, refused with the other
RECURRENT_ONLY = ("cell", "emb", "hidden", "bidirectional", "attention", "input_feeding", "teacher_forcing",
                  "teacher_forcing_final")
TRANSFORMER_ONLY = ("d_model", "heads", "d_ff", "norm_first", "activation", "positional", "max_len", "share_vocab",
                    "sentence_words")
TRAIN_FLAGS = tuple(f.name for f in fields(TrainConfig))
BUDGET_FLAGS = ("epochs", "max_steps", "minutes", "eval_every", "patience", "target")


def _overrides(args, names) -> dict:
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _emit(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
    else:
        for k, v in summary.items():
            print(f"{k:>16}: {v}")


def _use_backend(args) -> None:
    """``--backend`` when given; otherwise the backend stays $MINIS2S_BACKEND's, or numpy."""
    if args.backend:
        B.set_backend(args.backend)


# --------------------------------------------------------------------------- gradcheck


def gradcheck(args) -> int:
    """Every op of :data:`minis2s.suite.CASES` (or, with ``--model``, every parameter of the
    models of :data:`minis2s.suite.model.MODEL_CASES`) against centered differences; exit 1 if
    a relative error exceeds the tolerance."""
    from tqdm import tqdm

    from . import suite
    from .gradcheck import TOLERANCE, format_table
    from .suite import model

    _use_backend(args)
    catalogue, check, tolerance = ((model.MODEL_CASES, model.run, model.MODEL_TOLERANCE) if args.model
                                   else (suite.CASES, suite.run, TOLERANCE))
    cases = [c for c in catalogue if not args.only or any(s in c.name for s in args.only)]
    if not cases:
        raise UserError(f"no gradient-check case matches {args.only}; run without --only to list all")
    results = []
    for c in tqdm(cases, desc="gradcheck", leave=False, disable=args.json or None, file=sys.stderr):
        results.extend(check(c, seed=args.seed))
    print(format_table(results, tolerance))
    if args.json:
        print(json.dumps([r.as_dict() for r in results]))
    return 0 if all(r.passed(tolerance) for r in results) else 1


# --------------------------------------------------------------------------- train


def train(args) -> int:
    _use_backend(args)
    if not (args.out or args.resume):
        raise UserError("--out DIR is required to start a run (or --resume DIR to continue one)")
    # the folder is checked and locked before any work, and stays locked until the end
    with runs.open_run(args.resume or args.out, overwrite=args.overwrite, resume=bool(args.resume)) as run:
        task, trainer = _resume_run(args) if args.resume else _start_run(args)
        trainer.threads = getattr(args, "blas", None)
        summary = trainer.fit()
        summary.update(held_out_summary(trainer.model, task, run.path))
    _emit(summary, args.json)
    return 0


def _absolute(data_dir):
    """A data folder as an absolute path, so the checkpoint works from any working directory."""
    return str(Path(data_dir).expanduser().resolve()) if data_dir else None


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_arch_flags(args, arch: str, where: str, by_recipe: bool = False) -> None:
    """One line for a flag of the other architecture (``where``: what fixed ``arch``; when the
    recipe did, the line says how to choose the other)."""
    other = TRANSFORMER_ONLY if arch == "recurrent" else RECURRENT_ONLY
    given = [f for f in other if getattr(args, f, None) is not None]
    if given:
        theirs = "the Transformer (--arch transformer)" if arch == "recurrent" else "the recurrent model"
        other_arch = "transformer" if arch == "recurrent" else "recurrent"
        raise UserError(f"{_flag(given[0])} belongs to {theirs}, but {where} is {arch}"
                        + (f"; add --arch {other_arch} to use it" if by_recipe else ""))


def _resume_run(args):
    c = ckpt.load_checkpoint(args.resume, prefer="latest")
    config = c.config
    arch = config.get("arch", "recurrent") if (config.get("task") or {}).get("kind") != "lm" else "lm"
    if args.arch is not None and args.arch != arch:
        raise UserError(f"--arch {args.arch}: the run in {args.resume} is {arch}; a resumed run keeps its "
                        f"architecture (leave --arch out, or start a new run with --out)")
    if arch != "lm":
        _check_arch_flags(args, arch, f"the run in {args.resume}")
    if args.bpe is not None:
        raise UserError(f"--bpe: the run in {args.resume} keeps the BPE model it learned (stored in its checkpoints); "
                        "leave --bpe out, or start a new run with --out")
    given = [f for f in set(MODEL_FLAGS + TRANSFORMER_FLAGS) if getattr(args, f, None) is not None]
    if given:
        raise UserError(f"{_flag(sorted(given)[0])}: a resumed run keeps its model; leave the model flags out "
                        "(or start a new run with --out)")
    task_cfg, model_cfg = dict(config["task"]), dict(config["model"])
    if arch == "transformer":
        model_cfg["arch"] = arch
    if args.data_dir:
        task_cfg["data_dir"] = _absolute(args.data_dir)
    for k in ("src_vocab", "tgt_vocab", "vocab"):  # the vocabularies' sizes come from the data again
        model_cfg.pop(k, None)
    tc = TrainConfig(**_one_stream_on_a_device({**config["train"], **_overrides(args, BUDGET_FLAGS)},
                                               _overrides(args, ("shards",))))
    out = Path(args.resume)
    if (out / "checkpoints").is_dir() is False:
        raise UserError(f"--resume needs the run directory (the one holding checkpoints/), got {out}")
    bpe = None
    if task_cfg.get("bpe"):  # the checkpoint's merges, never learned again
        from .tasks import restore_bpe

        bpe = restore_bpe(c.vocab, c.path)
        if bpe is None:
            raise CheckpointError(f"{c.path}: the run learned --bpe {task_cfg['bpe']} merges, but its vocab.json "
                                  "holds no BPE model; resume from a checkpoint saved with one")
    task, trainer = build_run(task_cfg, model_cfg, tc, out, args.quiet, resume=True, bpe=bpe)
    trainer.restore(c)
    return task, trainer


def _start_run(args):
    seed = args.seed if args.seed is not None else 0
    model_flags = MODEL_FLAGS
    by_recipe = not args.arch and not args.data and args.task in DEFAULT_ARCH
    arch = DEFAULT_ARCH[args.task] if by_recipe else args.arch or "recurrent"
    if args.task != "lm":
        _check_arch_flags(args, arch, f"the {args.task} recipe's architecture" if by_recipe else "--arch", by_recipe)
    if args.bpe and not args.data:
        raise UserError("--bpe belongs to --data multi30k (toy tasks have their own small vocabularies)")
    if args.task == "lm":
        r = recipe("lm")
        lang, data = args.lang or "en", r["data"]
        task_cfg = {"kind": "lm", "name": f"{args.data}-{lang}-lm", "lang": lang, "level": args.level or "word",
                    "data_dir": _absolute(args.data_dir), "min_freq": data["min_freq"],
                    "batching": args.lm_batches or data["batching"], "bptt": args.bptt or data["bptt"]}
        model_flags = LM_MODEL_FLAGS
    elif args.data == "chitchat":
        r = recipe("chitchat")
        turns = getattr(args, "turns", None) or r["data"]["turns"]
        task_cfg = {"kind": "dialogue", "name": "chitchat", "data_dir": _absolute(args.data_dir), "seed": seed,
                    **r["data"], "turns": turns}
    elif args.data:
        r = recipe(args.data, arch)
        task_cfg = {"kind": "translation", "name": args.data, "src": args.src, "tgt": args.tgt,
                    "data_dir": _absolute(args.data_dir), "min_freq": r["data"]["min_freq"]}
        bpe = bpe_merges(r, args.bpe)
        if bpe:
            task_cfg["bpe"] = bpe
    else:
        r = recipe(args.task, arch)
        data = dict(r["data"])
        if args.train_size:
            data["n_train"] = args.train_size
        if args.test_size:
            data["n_test"] = args.test_size
        task_cfg = {"kind": "toy", "name": args.task, "seed": seed, "data": data}
    if arch == "transformer":
        model_flags = TRANSFORMER_FLAGS
    model_cfg = {**r["model"], **_overrides(args, model_flags)}
    if arch == "transformer":
        model_cfg["arch"] = arch
    if model_cfg.get("sentence_words") and task_cfg["kind"] != "toy":
        raise UserError("--sentence-words reads a story one sentence at a time: it belongs to the QA tasks "
                        "(--task qa-1 .. qa-4), not to --data corpora")
    train_over = _overrides(args, TRAIN_FLAGS)
    if any(k in train_over for k in ("epochs", "max_steps", "minutes")):
        base = {k: v for k, v in r["train"].items() if k not in ("epochs", "max_steps", "minutes")}
    else:
        base = r["train"]
    tc = TrainConfig(**_one_stream_on_a_device({**base, **train_over, "seed": seed}, train_over))
    return build_run(task_cfg, model_cfg, tc, args.out, args.quiet)


def _one_stream_on_a_device(train: dict, given: dict) -> dict:
    """A recipe's (or a checkpoint's) shards split each batch across CPU processes
    (minis2s/parallel.py); on a GPU one stream already keeps the device busy, so there they
    become 1 unless --shards was given (which the trainer then refuses in one line)."""
    if "shards" in given or B.xp() is B.host:
        return {**train, **given}
    return {**train, "shards": 1}


# --------------------------------------------------------------------------- translate


def translate(args) -> int:
    """stdin -> stdout, line by line. A reader that stops early (``| head -1``) is
    :func:`minis2s.cli.main`'s to handle: it closes the pipe, the next write fails."""
    from .inference import Translator

    _use_backend(args)
    translator = Translator.load(args.checkpoint)
    lines = [line.rstrip("\n") for line in sys.stdin]
    for out in translator.translate(lines, batch_size=args.batch_size, beam=args.beam):
        print(out)
    return 0


# --------------------------------------------------------------------------- generate


def generate(args) -> int:
    """Text from a language model: samples, or the greedy / beam-search continuation."""
    from .inference import Generator

    _use_backend(args)
    generator = Generator.load(args.checkpoint)
    method = "beam" if args.beam else "greedy" if args.greedy else "sample"
    texts, scores = generator.generate(
        args.prompt, method=method, num=args.num, temperature=args.temperature, top_k=args.top_k,
        top_p=args.top_p, beam=args.beam or 1, seed=args.seed, max_len=args.max_len)
    for text in texts:
        print(text)
    if args.json:
        print(json.dumps({"checkpoint": str(generator.path), "method": method, "prompt": args.prompt,
                          "samples": texts, "log_probs": [round(s, 4) for s in scores]}))
    return 0


# --------------------------------------------------------------------------- demo


DEMO_DATES = ["september 27, 1994", "Tuesday, September 27, 1994", "9/27/94", "27.09.1994",
              "DEC 1ST, 2001", "1 january 1900", "february 29th, 2000"]


def demo(args) -> int:
    """The demo's folder is its own: a run there from an earlier demo is replaced."""
    with runs.open_run(args.out, overwrite=True, resume=False) as run:
        if run.replaced:
            print(f"starting {run.path} afresh (the previous run there, {run.replaced}, is replaced)",
                  file=sys.stderr)
        return _demo(args)


def _demo(args) -> int:
    """Train the dates recipe until validation exact match reaches ``args.target`` (a step
    budget, not a time budget: the same seed gives the same model on any machine)."""
    from .inference import Translator

    r = recipe("dates")
    out = Path(args.out)
    task_cfg = {"kind": "toy", "name": "dates", "seed": args.seed, "data": r["data"]}
    train_cfg = {k: v for k, v in r["train"].items() if k not in ("epochs", "max_steps", "minutes")}
    tc = TrainConfig(**{**train_cfg, "max_steps": args.max_steps, "target": args.target, "seed": args.seed})
    if not args.quiet:
        print(f"Training a GRU encoder-decoder with additive attention to normalise dates, until it "
              f"gets {args.target:.1%} of the validation dates right (at most {args.max_steps} steps)...",
              file=sys.stderr)
    task, trainer = build_run(task_cfg, dict(r["model"]), tc, out, args.quiet)
    trainer.threads = getattr(args, "blas", None)
    summary = trainer.fit()
    summary.update(held_out_summary(trainer.model, task, out))
    translator = Translator.load(out)
    examples = DEMO_DATES
    for src, hyp in zip(examples, translator.translate(examples)):
        print(f"{src:>30}  ->  {hyp}")
    print(f"held-out exact match: {summary['exact_match']:.2%} on {len(task.test)} dates "
          f"after {summary['steps']} steps ({summary['train_seconds']:.0f} s of training)")
    if summary["stop_reason"] != "target":
        print(f"the validation exact match did not reach {args.target:.1%} within {args.max_steps} steps; "
              f"give it more with --max-steps", file=sys.stderr)
    try:
        from . import plots
    except ImportError:
        plots = None
    if plots is not None and plots.available():
        heat = plots.attention_heatmap(translator, examples[1], out / "attention.png")
        curve = plots.loss_curves(out, out / "loss.png")
        summary.update({"attention_png": str(heat), "loss_png": str(curve)})
        print(f"saved {heat} and {curve}")
    else:
        print("install the plots extra (pip install -e '.[plots]') for an attention heatmap and a loss curve")
    if args.json:
        print(json.dumps(summary))
    return 0


# --------------------------------------------------------------------------- evaluate


def evaluate(args) -> int:
    """The figures of a checkpoint on a held-out split: BLEU and perplexity for Multi30k, exact
    match for toy tasks, perplexity, BLEU, ROUGE-L and distinct-1/2 for dialogue. The sentences
    are decoded by :meth:`Translator.translate_tokens`, the path ``translate`` takes, so
    ``translate`` prints the sentences scored here."""
    from .atomic import check_folder
    from .inference import Translator
    from .tasks import bleu_and_ppl, exact_match, loss_and_ppl

    _use_backend(args)
    if args.hyps:
        check_folder(args.hyps, "--hyps")  # before any work
    tr = Translator.load(args.checkpoint)
    task, pairs, split = _evaluation_split(tr, args)
    hyps = tr.translate_tokens([s for s, _ in pairs], batch_size=args.batch_size, beam=args.beam)
    if task.name.startswith("multi30k"):
        figures = bleu_and_ppl(tr.model, task, pairs, beam=args.beam, batch_size=args.batch_size, hyps=hyps)
    elif tr.config["task"]["kind"] == "dialogue":
        from .tasks import dialogue_figures

        figures = dialogue_figures(tr.model, task, pairs, beam=args.beam, batch_size=args.batch_size, hyps=hyps)
    else:
        figures = {**exact_match(tr.model, task, pairs, hyps=hyps),
                   **loss_and_ppl(tr.model, task, pairs, batch_size=args.batch_size)}
    summary = {"split": split, "beam": args.beam, "n_sentences": len(pairs), **figures}
    if args.hyps:
        summary["hyps"] = str(_write_lines(args.hyps, [tr.tgt_tokenizer.detokenize(h) for h in hyps], "--hyps"))
    _emit(summary, args.json)
    return 0


def _evaluation_split(tr, args):
    """(task, [(src tokens, tgt tokens)], split name) for the checkpoint's task."""
    from .tasks import Task, toy_task

    task_cfg = tr.config.get("task", {})
    if task_cfg.get("kind") == "translation":
        from .data.multi30k import find_data_dir, load_multi30k

        split = "test2016" if args.split == "test" else args.split
        root = find_data_dir(args.data_dir or task_cfg.get("data_dir"), (task_cfg["src"], task_cfg["tgt"]))
        data = load_multi30k(root, task_cfg["src"], task_cfg["tgt"], split)
        pairs = list(zip(data.src, data.tgt))
        task = Task(task_cfg["name"], tr.src_tokenizer, tr.tgt_tokenizer, tr.src_vocab, tr.tgt_vocab, [], [], pairs,
                    tr.bpe)
        return task, pairs, split
    if task_cfg.get("kind") == "dialogue":
        from .tasks import dialogue_task

        if args.split == "test2016":
            raise UserError(f"{tr.path} is a dialogue model, whose corpus has no test2016; use --split test or val")
        # the same corpus, seed and settings give the same split by conversation train reported on
        task = dialogue_task({**task_cfg, "data_dir": _absolute(args.data_dir) or task_cfg.get("data_dir")})
        task.src_vocab, task.tgt_vocab = tr.src_vocab, tr.tgt_vocab
        return task, (task.val if args.split == "val" else task.test), args.split
    if task_cfg.get("kind") != "toy":
        raise UserError(f"{tr.path} has no task in its config; evaluate reads checkpoints written by train")
    if args.split == "test2016":
        raise UserError(f"{tr.path} was trained on the toy task {task_cfg['name']!r}, which has no test2016; "
                        "use --split test or --split val")
    if args.data_dir:
        raise UserError("--data-dir belongs to Multi30k checkpoints; a toy task is generated from its seed")
    # the same seed and sizes draw the same held-out sentences train reported on
    task = toy_task(task_cfg["name"], seed=task_cfg["seed"], sentence_words=getattr(tr.model.cfg, "sentence_words", 0),
                    **task_cfg["data"])
    task.src_vocab, task.tgt_vocab = tr.src_vocab, tr.tgt_vocab
    return task, (task.val if args.split == "val" else task.test), args.split


def _write_lines(path, lines, flag):
    from .atomic import write_file

    text = "".join(line + "\n" for line in lines)
    return write_file(path, lambda f: f.write(text.encode("utf-8")), flag)


# --------------------------------------------------------------------------- data


def data(args) -> int:
    from .data.multi30k import download

    paths = download(Path(args.data_dir), progress=not args.quiet)
    summary = {"data_dir": str(args.data_dir), "files": len(paths)}
    _emit(summary, args.json)
    return 0


# --------------------------------------------------------------------------- plot


def plot(args) -> int:
    from . import plots
    from .atomic import check_folder

    check_folder(args.out, "--out")  # before loading anything
    if args.what == "curves":
        path = plots.loss_curves(args.run_dir, args.out)
    else:
        from .inference import Translator

        draw = plots.sentence_attention_heatmap if getattr(args, "by_sentence", False) else plots.attention_heatmap
        path = draw(Translator.load(args.checkpoint), args.sentence, args.out)
    print(f"saved {path}")
    return 0


# --------------------------------------------------------------------------- export


def export(args) -> int:
    """args: ``checkpoint`` (run or checkpoint directory), ``torch`` (the .pt to write),
    optional ``prefer`` ("best" or "latest", default best) and ``json``."""
    try:
        from . import torch_export  # the one command that needs PyTorch
    except ImportError as exc:
        raise UserError(f"export needs PyTorch ({exc}); install it with pip install -e '.[torch]' (on a "
                        "CPU-only machine first the CPU wheel, which is far smaller: pip install torch "
                        "--index-url https://download.pytorch.org/whl/cpu)") from None
    path = torch_export.export(args.checkpoint, args.torch, prefer=getattr(args, "prefer", None) or "best")
    module = torch_export.load(path)  # read back what was written: a file that will not load is not an export
    summary = {"out": str(path), "params": sum(p.numel() for p in module.parameters()),
               "config": module.cfg.to_json()}
    if getattr(args, "json", False):
        print(json.dumps(summary))
    else:
        print(f"wrote {path} ({summary['params']} parameters); "
              "load it with minis2s.torch_export.load(path) or torch.load(path, weights_only=True)")
    return 0


# --------------------------------------------------------------------------- chat


def chat(args) -> int:
    """An interactive chat with a dialogue checkpoint (minis2s/chat.py)."""
    from .chat import chat as run_chat

    _use_backend(args)
    return run_chat(args)
