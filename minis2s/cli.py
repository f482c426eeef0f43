"""Command line: ``python -m minis2s <command> --help``.

Every command has ``--help``; ``--json`` makes the last stdout line one JSON value of its
figures. Mistakes the user can fix (:class:`minis2s.errors.UserError`) print one line on
stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

from .errors import UserError


def _number(cast, ok, expected):
    """An argparse type: ``cast`` the text, then refuse values ``ok`` rejects, naming ``expected``."""

    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_nonnegative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _number(float, lambda v: v > 0, "a positive number")
_probability = _number(float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")
_unit = _number(float, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")


def _threads(text):
    """``auto`` or a positive integer: the BLAS threads (minis2s/threads.py)."""
    return "auto" if text == "auto" else _number(int, lambda v: v >= 1, "'auto' or a positive integer")(text)


_BACKEND_HELP = "array backend (default: $MINIS2S_BACKEND or numpy)"
_BEAM_HELP = ("beam size (1: greedy search). At most the target vocabulary's size; a beam whose search "
              "would not fit in the free memory is refused with the largest that fits")
_BATCH_HELP = ("sentences decoded at once; the only setting besides --beam that can change an output "
               "(float rounding), so keep it equal to compare runs")
_DECODE_NOTES = ("Beam search holds about batch x beam x (decoder state + the source's keys and values "
                 "+ 5 x target vocabulary) numbers: a beam wider than the vocabulary is refused, and one "
                 "too large for the free memory (MemAvailable, or the GPU's) lowers --batch-size when that "
                 "is enough, else is refused with the largest beam that fits.")


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default when it has one worth saying ("(default:
    128)"); flags whose absence means "the recipe's value" or "off" (None, False) say nothing.
    Descriptions keep their paragraphs (blank lines)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        quiet = default is None or default is False or default is argparse.SUPPRESS
        if "%(default)" in text or quiet or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)".lstrip()

    def _fill_text(self, text, width, indent):
        fill = super()._fill_text
        return "\n\n".join(fill(paragraph, width, indent) for paragraph in text.split("\n\n"))


def _shared_options() -> dict:
    """The options several commands take, each declared once, as a parent parser a command
    lists in ``parents=[...]``."""

    def parent(*flags, **kwargs):
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument(*flags, **kwargs)
        return p

    return {
        "backend": parent("--backend", choices=["numpy", "cupy", "strict"], help=_BACKEND_HELP),
        "json": parent("--json", action="store_true", help="last stdout line: the figures as one JSON value"),
        "quiet": parent("--quiet", action="store_true", help="no progress bar"),
        "threads": parent("--threads", type=_threads, default="auto", metavar="N",
                          help="BLAS threads: a number, or auto = the cores no other process is using, "
                          "re-measured while training"),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minis2s",
        description="Sequence-to-sequence learning from scratch on NumPy and CuPy.",
    )
    # every command's --help shows its defaults
    commands = functools.partial(argparse.ArgumentParser, formatter_class=_HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command", parser_class=commands)
    shared = _shared_options()
    for add in (_gradcheck_parser, _train_parser, _translate_parser, _generate_parser, _evaluate_parser,
                _chat_parser, _data_parser, _plot_parser, _export_parser, _demo_parser):
        add(sub, shared)
    return parser


def _gradcheck_parser(sub, shared):
    p = sub.add_parser(
        "gradcheck", parents=[shared["backend"], shared["json"]],
        help="check every hand-written backward pass against centered differences",
        description="Float64 gradient check of every op, or with --model of whole models; exits 1 if any "
        "relative error exceeds the tolerance (1e-7 for ops, 1e-6 for models). --json: a list of "
        "{op, wrt, rel_error}.",
    )
    p.add_argument("--model", action="store_true",
                   help="check whole models instead: the loss with respect to every parameter of six "
                   "recurrent Seq2Seq and four Transformer configurations, tolerance 1e-6")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run the cases whose name contains NAME")
    p.add_argument("--seed", type=int, default=0, help="seed for inputs and sampled coordinates")
    p.set_defaults(run=_run("gradcheck"))


def _train_parser(sub, shared):
    p = sub.add_parser(
        "train", parents=[shared["backend"], shared["threads"], shared["quiet"], shared["json"]],
        help="train a model on a toy task or a corpus",
        description="Train an encoder-decoder, or with --task lm --data multi30k a language model (generate "
        "writes text with it). Flags left out take the task's recommended recipe "
        "(minis2s/recipes.py). Checkpoints, metrics.jsonl and TensorBoard events go to --out.",
    )
    from .recipes import CORPORA, TASKS

    src = p.add_mutually_exclusive_group()
    src.add_argument("--task", choices=[t for t in TASKS if t not in CORPORA],
                     help="a toy task generated from --seed, or lm: a language model on --data (see --lang)")
    src.add_argument("--resume", metavar="DIR", help="continue the run in DIR (its recipe, data order and RNG)")
    p.add_argument("--data", choices=list(CORPORA), help="a corpus: translation (see --src, --tgt, --data-dir), "
                   "the text of --task lm, or chitchat: dialogue (the dialogue extra, or --data-dir FILE)")
    p.add_argument("--arch", choices=["recurrent", "transformer"],
                   help="the encoder-decoder: recurrent with attention (default) or the Transformer "
                   "(--layers, --d-model, --heads, --d-ff, --norm-first, --positional, ...)")
    p.add_argument("--out", metavar="DIR", help="run directory (required unless --resume); it must not hold "
                   "another run")
    p.add_argument("--overwrite", action="store_true",
                   help="if --out holds a run, remove it (its checkpoints, pointers, metrics and TensorBoard "
                   "events; other files stay) and start again")
    d = p.add_argument_group("data")
    d.add_argument("--src", default="de", choices=["de", "en", "fr"], help="source language (--data)")
    d.add_argument("--tgt", default="en", choices=["de", "en", "fr"], help="target language (--data)")
    d.add_argument("--data-dir", metavar="D", help="Multi30k files (default: $MINIS2S_DATA, then ~/.cache/minis2s/multi30k)")
    d.add_argument("--lang", choices=["de", "en", "fr"], help="--task lm: the side of the corpus to model (default en)")
    d.add_argument("--level", choices=["word", "char"], help="--task lm: tokens are words or characters (default word)")
    d.add_argument("--lm-batches", choices=["stream", "sentence"],
                   help="--task lm: one stream in windows of --bptt tokens, the state carried across "
                   "(truncated BPTT), or padded sentences each from zero state (default stream)")
    d.add_argument("--bptt", type=_positive_int, metavar="T", help="--task lm: window length (default 35)")
    d.add_argument("--bpe", type=_nonnegative_int, metavar="N",
                   help="--data: learn N byte-pair merges on the training sentences (source and target "
                   "together) and train on subwords; the merges go into the checkpoint (a resumed run "
                   "reuses them), translate takes and prints words, and BLEU is scored on words. "
                   "Default: the recipe's (10000 for --arch transformer on multi30k, else none); 0: words")
    d.add_argument("--turns", type=_positive_int, metavar="N",
                   help="--data chitchat: previous turns the context holds (default 2)")
    d.add_argument("--train-size", type=_positive_int, metavar="N", help="toy task: training examples")
    d.add_argument("--test-size", type=_positive_int, metavar="N", help="toy task: validation and test examples each")
    _model_options(p.add_argument_group("model"))
    _training_options(p.add_argument_group("training"))
    _budget_options(p.add_argument_group("budget (the first reached stops training)"))
    p.set_defaults(run=_run("train"))


def _model_options(m) -> None:
    from .functional.cells import CELLS

    m.add_argument("--cell", choices=list(CELLS))
    m.add_argument("--emb", type=_positive_int, metavar="N", help="embedding size")
    m.add_argument("--hidden", type=_positive_int, metavar="N", help="hidden size per direction")
    m.add_argument("--layers", type=_positive_int, metavar="N")
    m.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=None)
    m.add_argument("--attention", choices=["additive", "dot", "scaled_dot", "general", "none"])
    m.add_argument("--input-feeding", action=argparse.BooleanOptionalAction, default=None,
                   help="feed the attention context into the decoder cell's input")
    m.add_argument("--tie-embeddings", action=argparse.BooleanOptionalAction, default=None)
    m.add_argument("--dropout", type=_probability, metavar="P")
    m.add_argument("--d-model", type=_positive_int, metavar="D", help="transformer: model width")
    m.add_argument("--heads", type=_positive_int, metavar="H", help="transformer: attention heads (dividing D)")
    m.add_argument("--d-ff", type=_positive_int, metavar="F", help="transformer: feed-forward hidden size")
    m.add_argument("--norm-first", action=argparse.BooleanOptionalAction, default=None,
                   help="transformer: layer norm before each sublayer (pre-norm) instead of after")
    m.add_argument("--activation", choices=["relu", "gelu"], help="transformer: the feed-forward activation")
    m.add_argument("--positional", choices=["sinusoidal", "learned"], help="transformer: position vectors")
    m.add_argument("--max-len", type=_positive_int, metavar="T",
                   help="transformer: rows of a learned position table (longest sentence it can read)")
    m.add_argument("--share-vocab", action=argparse.BooleanOptionalAction, default=None,
                   help="transformer: one vocabulary (built on both sides' training tokens) and embedding "
                   "table for source and target; with --bpe, whose merges are joint, words both languages "
                   "share get the same pieces")
    m.add_argument("--sentence-words", type=_nonnegative_int, metavar="W",
                   help="transformer, QA tasks: read the story one sentence at a time, each sentence of up to W "
                   "words embedded as one vector (lesson 15, eq. 15.6); 0 reads word by word")


def _training_options(t) -> None:
    t.add_argument("--batch-size", type=_positive_int, metavar="N")
    t.add_argument("--lr", type=_positive_float, metavar="X")
    t.add_argument("--optimizer", choices=["adam", "adamw", "sgd"])
    t.add_argument("--weight-decay", type=float, metavar="X")
    t.add_argument("--schedule", choices=["none", "cosine", "step", "plateau", "inverse_sqrt"],
                   help="inverse_sqrt: the Transformer's, linear warm-up to --lr at --warmup steps, then 1/sqrt(step)")
    t.add_argument("--warmup", type=int, metavar="STEPS")
    t.add_argument("--adam-beta2", type=_probability, metavar="B", help="Adam's second-moment decay")
    t.add_argument("--clip", type=float, metavar="NORM", help="clip the global gradient norm (0: off)")
    t.add_argument("--label-smoothing", type=_probability, metavar="E")
    t.add_argument("--ema", type=_probability, metavar="XI",
                   help="validate, save and translate with a moving average of the weights, decay XI "
                   "(e.g. 0.999; 0: off): smooths the jitter of a high learning rate")
    t.add_argument("--teacher-forcing", type=_unit, metavar="R", help="probability of feeding the gold token")
    t.add_argument("--teacher-forcing-final", type=_unit, metavar="R", help="anneal linearly to this ratio")
    t.add_argument("--seed", type=int, help="seed for data, initialisation, dropout (default 0)")
    t.add_argument("--shards", type=_positive_int, metavar="N",
                   help="split each batch into N blocks of sentences trained side by side, one CPU process each "
                   "(NumPy backend; the same step however many cores --threads leaves free)")


def _budget_options(b) -> None:
    b.add_argument("--epochs", type=_positive_float, metavar="N")
    b.add_argument("--max-steps", type=_positive_int, metavar="N")
    b.add_argument("--minutes", type=_positive_float, metavar="M")
    b.add_argument("--eval-every", type=_positive_int, metavar="STEPS")
    b.add_argument("--patience", type=_positive_int, metavar="EVALS", help="early stopping")
    b.add_argument("--target", type=float, metavar="X",
                   help="stop once the validation metric (the recipe's: exact match, BLEU) reaches X")
    b.add_argument("--keep-checkpoints", type=_positive_int, metavar="N",
                   help="how many recent checkpoints to keep besides the best (default 2)")


def _decode_options(p) -> None:
    """--checkpoint, --beam and --batch-size: what translate and evaluate share besides the parents."""
    from .recipes import DECODE_BATCH_SIZE

    p.add_argument("--checkpoint", required=True, metavar="DIR", help="a run directory or a checkpoint in it")
    p.add_argument("--beam", type=_positive_int, default=1, metavar="K", help=_BEAM_HELP)
    p.add_argument("--batch-size", type=_positive_int, default=DECODE_BATCH_SIZE, metavar="N", help=_BATCH_HELP)


def _translate_parser(sub, shared):
    p = sub.add_parser(
        "translate", parents=[shared["backend"], shared["threads"]],
        help="translate stdin line by line with a trained checkpoint",
        description="One input per stdin line (raw text, or tokenized like the corpus), one output per "
        "stdout line, in order. An empty or whitespace-only line gives an empty line.\n\n"
        "The outputs for a corpus file are the sentences `evaluate` scores with the same --beam and "
        "--batch-size. " + _DECODE_NOTES,
    )
    _decode_options(p)
    p.set_defaults(run=_run("translate"))


def _generate_parser(sub, shared):
    p = sub.add_parser(
        "generate", parents=[shared["backend"], shared["threads"], shared["json"]],
        help="write text with a trained language model (train --task lm)",
        description="Prints --num continuations of --prompt, one per line (the prompt included), each "
        "ending at <eos> or after --max-len tokens. By default they are sampled from softmax(logits / "
        "--temperature), restricted to the --top-k most likely tokens and/or the --top-p nucleus; "
        "--greedy takes the most likely token at every step, --beam K the most likely continuation "
        "beam search finds. Without --prompt a sentence starts from nothing. --json: a last line "
        "{checkpoint, method, prompt, samples, log_probs}.",
    )
    p.add_argument("--checkpoint", required=True, metavar="DIR", help="a language-model run or a checkpoint in it")
    p.add_argument("--prompt", metavar="TEXT", help="the words the text starts with (they must be in the "
                   "model's vocabulary)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="> 0: below 1 sharpens the distribution, above 1 flattens it")
    p.add_argument("--top-k", type=int, metavar="K", help="sample among the K most likely tokens only")
    p.add_argument("--top-p", type=float, metavar="P",
                   help="in (0, 1]: sample among the fewest most likely tokens whose probability reaches P")
    p.add_argument("--num", type=int, default=1, metavar="N", help="how many samples")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling: the same seed gives the same text")
    p.add_argument("--max-len", type=int, metavar="L", help="at most L new tokens (default 50 words, 200 characters)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--greedy", action="store_true", help="the most likely token at every step")
    how.add_argument("--beam", type=int, metavar="K", help="beam search of width K")
    p.set_defaults(run=_run("generate"))


def _chat_parser(sub, shared):
    p = sub.add_parser(
        "chat", parents=[shared["backend"], shared["threads"], shared["json"]],
        help="talk with a dialogue model (train --data chitchat) in the terminal",
        description="Type a line, read the reply. The bot reads the last turns of the conversation, yours "
        "and its own, as it was trained to (the checkpoint's --turns). /reset starts a new conversation; "
        "/quit, Ctrl-D or Ctrl-C ends. Replies come from greedy search, --beam K or --sample. --json: "
        "at the end, one line {checkpoint, exchanges}.",
    )
    p.add_argument("--checkpoint", required=True, metavar="DIR", help="a dialogue run or a checkpoint in it")
    p.add_argument("--beam", type=_positive_int, default=1, metavar="K", help="beam search of width K (1: greedy)")
    p.add_argument("--sample", action="store_true", help="draw each reply from softmax(logits / --temperature)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T", help="--sample: > 0; below 1 is "
                   "more conservative")
    p.add_argument("--top-k", type=int, metavar="K", help="--sample: among the K most likely tokens only")
    p.add_argument("--top-p", type=float, metavar="P", help="--sample: among the nucleus of probability P only")
    p.add_argument("--seed", type=int, default=0, help="--sample: seed of the draws")
    p.set_defaults(run=_run("chat"))


def _evaluate_parser(sub, shared):
    p = sub.add_parser(
        "evaluate", parents=[shared["backend"], shared["threads"], shared["json"]],
        help="BLEU and perplexity of a checkpoint on a held-out split (exact match for toy tasks)",
        description="Multi30k: corpus BLEU (tokenized, lower-cased, as sacrebleu with tokenize='none'), "
        "teacher-forced perplexity, and the number of sentences. Toy tasks: exact match, token accuracy "
        "and perplexity on the held-out sentences train reported on. Dialogue: perplexity, BLEU and "
        "ROUGE-L of the replies against the real ones, and distinct-1/2 (distinct n-grams / n-grams).\n\n"
        "The sentences scored are the ones `translate` prints for the split's source file with the same "
        "--beam and --batch-size (--hyps FILE writes them). " + _DECODE_NOTES,
    )
    _decode_options(p)
    p.add_argument("--data-dir", metavar="D", help="Multi30k files (default: the run's, $MINIS2S_DATA, "
                   "then ~/.cache/minis2s/multi30k)")
    p.add_argument("--split", choices=["val", "test", "test2016"], default="test",
                   help="held-out split; test is test2016 for Multi30k")
    p.add_argument("--hyps", metavar="FILE",
                   help="also write the output sentences, one per line, in the split's order")
    p.set_defaults(run=_run("evaluate"))


def _data_parser(sub, shared):
    p = sub.add_parser("data", parents=[shared["quiet"], shared["json"]], help="download a dataset",
                       description="Download Multi30k task 1 (tokenized, lower-cased) with checksums.")
    p.add_argument("name", choices=["multi30k"])
    p.add_argument("--data-dir", required=True, metavar="D", help="where to put the files")
    p.set_defaults(run=_run("data"))


def _plot_parser(sub, shared):
    p = sub.add_parser("plot", help="loss curves of a run, or an attention heatmap (plots extra)",
                       description="plot curves --run DIR --out loss.png | plot attention --checkpoint DIR "
                       "--sentence TEXT --out a.png")
    p.add_argument("what", choices=["curves", "attention"])
    p.add_argument("--run", dest="run_dir", metavar="DIR", help="curves: the run directory")
    p.add_argument("--checkpoint", metavar="DIR", help="attention: a run or checkpoint directory")
    p.add_argument("--sentence", help="attention: the source sentence")
    p.add_argument("--by-sentence", action="store_true",
                   help="attention: sum the weights over each sentence of the source (split after . and ?), "
                   "e.g. to see which story sentence a QA answer came from")
    p.add_argument("--out", required=True, metavar="PNG", help="the image to write (its folder must exist)")
    p.set_defaults(run=_run("plot"))


def _export_parser(sub, shared):
    p = sub.add_parser("export", parents=[shared["json"]],
                       help="write a trained checkpoint as a PyTorch state_dict (torch extra)",
                       description="Writes a state_dict for minis2s.torch_export.TorchSeq2Seq, which gives the "
                       "same outputs as minis2s; load it with minis2s.torch_export.load(path).")
    p.add_argument("--checkpoint", required=True, metavar="DIR", help="a run directory or a checkpoint in it")
    p.add_argument("--torch", required=True, metavar="OUT.pt", help="the file to write (its folder must exist)")
    p.add_argument("--prefer", choices=["best", "latest"], default="best", help="which checkpoint of a run")
    p.set_defaults(run=_run("export"))


def _demo_parser(sub, shared):
    p = sub.add_parser(
        "demo", parents=[shared["threads"], shared["quiet"], shared["json"]],
        help="the README's main job: learn to normalise dates with a GRU encoder-decoder with attention",
        description="Trains the dates model with attention until it converts --target of the validation dates "
        "(or --max-steps), prints conversions and the held-out exact match, and (with the plots "
        "extra) saves an attention heatmap and a loss curve. The budget is steps, not time: a "
        "slower machine takes longer and gets the same result.",
    )
    p.add_argument("--out", default="runs/demo", metavar="DIR", help="run directory, started afresh")
    p.add_argument("--target", type=_unit, default=0.999, metavar="X",
                   help="stop once the validation exact match reaches X")
    p.add_argument("--max-steps", type=_positive_int, default=6000, metavar="N",
                   help="stop after N steps if the target is not reached")
    p.add_argument("--seed", type=int, default=0, help="seed for data, initialisation and order")
    p.set_defaults(run=_run("demo"))


def _run(command):
    """Import a command's module only when it runs: ``--help`` stays instant. Commands with
    ``--threads`` run with that many BLAS threads (``args.blas`` lets training re-measure)."""

    def run(args):
        from . import commands

        if getattr(args, "threads", None) is None:
            return getattr(commands, command)(args)
        from .threads import BlasThreads

        with BlasThreads(args.threads) as args.blas:
            return getattr(commands, command)(args)

    return run


def _refuse_bad_combinations(parser, args) -> None:
    """Flag combinations argparse cannot express, refused the way argparse refuses others."""
    if args.command == "train":
        lm = args.task == "lm"
        if args.resume and args.data:
            parser.error("argument --data: not allowed with argument --resume (the run knows its data)")
        if not (args.task or args.data or args.resume):
            parser.error("give --task (a toy task, or lm with --data), --data or --resume")
        if lm and not args.data:
            parser.error("--task lm needs the text to model: --data multi30k (and --lang)")
        if lm and args.data == "chitchat":
            parser.error("--task lm models --data multi30k; --data chitchat trains a dialogue encoder-decoder")
        if args.turns is not None and args.data != "chitchat":
            parser.error("--turns belongs to --data chitchat")
        if args.task and not lm and args.data:
            parser.error(f"--data belongs to translation and --task lm, not to the toy task {args.task!r}")
        lm_only = [f for f in ("lang", "level", "lm_batches", "bptt") if getattr(args, f) is not None]
        if lm_only and not lm and not args.resume:
            parser.error(f"--{lm_only[0].replace('_', '-')} belongs to --task lm")
        if lm:
            seq2seq_only = [f for f in ("bidirectional", "attention", "input_feeding", "tie_embeddings",
                                        "teacher_forcing", "teacher_forcing_final", "train_size", "test_size",
                                        "arch", "bpe", "shards")
                            if getattr(args, f) is not None]
            if seq2seq_only:
                parser.error(f"--{seq2seq_only[0].replace('_', '-')} belongs to encoder-decoders, not to --task lm")
        if args.data and not lm and args.src == args.tgt:
            parser.error(f"--src and --tgt are both {args.src!r}: choose two different languages")
        if args.task and not lm and args.data_dir:
            parser.error("--data-dir belongs to --data, not to toy tasks (--task)")
        if args.resume and args.overwrite:
            parser.error("--overwrite starts a run again; --resume continues one: choose one of them")
    if args.command == "plot":
        if args.what == "curves" and not args.run_dir:
            parser.error("plot curves needs --run DIR")
        if args.what == "attention" and not (args.checkpoint and args.sentence):
            parser.error("plot attention needs --checkpoint DIR and --sentence TEXT")


# The status a shell reports for a command that a closed pipe stopped (128 + SIGPIPE), as
# `yes | head -1` shows with `echo ${PIPESTATUS[0]}`.
CLOSED_PIPE = 141


# pyproject.toml's run-time dependencies besides NumPy (which importing minis2s already needs):
# imported lazily by the commands, so a checkout run without installing fails only there
RUN_TIME_PACKAGES = ("tqdm", "threadpoolctl")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _refuse_bad_combinations(parser, args)
    try:
        code = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at exit
        return code
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # training says what it saved and how to resume
        print(str(exc) or "interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except ModuleNotFoundError as exc:
        if exc.name not in RUN_TIME_PACKAGES:
            raise  # an optional extra is each command's to explain; anything else is a bug
        print(f"error: minis2s needs the package {exc.name!r}, which this Python ({sys.executable}) does "
              "not have: install minis2s into it (pip install -e . in the checkout), or run the Python of "
              "the environment you installed it in (.venv/bin/python)", file=sys.stderr)
        return 2
    except OSError as exc:
        # the last resort for a file-system failure no command turned into a UserError; any
        # other exception is a bug and keeps its traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}; check the path, its permissions and the free space, "
              "then run the command again", file=sys.stderr)
        return 2


def _closed_pipe() -> int:
    """The reader of stdout went away (``translate ... | head -1``): stop quietly.

    Python's recipe (docs: signal, "Note on SIGPIPE"): point stdout at /dev/null, so that
    the interpreter's own flush at exit does not fail a second time with a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture): nothing to redirect
        pass
    return CLOSED_PIPE
