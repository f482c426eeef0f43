"""A dialogue checkpoint (train --data chitchat) as a chatbot: ``python -m minis2s chat``.

The bot keeps the conversation's last turns, yours and its own, and reads them as it was
trained to: the last ``turns`` of them joined with ``<sep>`` (:func:`minis2s.data.dialogue.context`).
Its replies come from the library's decoders: greedy search, beam search or sampling.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from dataclasses import dataclass, field

from .data.dialogue import context
from .errors import UserError

HELP = "/reset starts a new conversation, /quit (or Ctrl-D) ends"


@dataclass
class Chatbot:
    translator: object  # a minis2s.inference.Translator over a dialogue checkpoint
    turns: int
    max_context: int
    max_response: int  # no reply is longer than the longest the model was trained on
    history: list = field(default_factory=list)  # token lists of the turns so far, oldest first

    @classmethod
    def load(cls, path) -> "Chatbot":
        """The best checkpoint of a dialogue run (or the checkpoint ``path``); a UserError for
        any other kind of model, read from its config before the parameters are."""
        from . import checkpoint as ckpt
        from .inference import Translator

        where, config = ckpt.read_config(path, prefer="best")
        task = config.get("task") or {}
        if task.get("kind") != "dialogue":
            what = task.get("name") or task.get("kind") or "an unknown task"
            use = "generate" if task.get("kind") == "lm" else "translate"
            raise UserError(f"{where} was trained on {what!r}, not on dialogue: chat reads checkpoints of "
                            f"train --data chitchat; use {use} with this one")
        return cls(Translator.load(where), task["turns"], task["max_context"], task["max_response"])

    @property
    def path(self):
        return self.translator.path

    def context_tokens(self) -> list[str]:
        """What the encoder reads now: the last ``turns`` turns joined with <sep>."""
        return context(self.history, self.turns, self.max_context)

    def reset(self) -> None:
        self.history.clear()

    def reply(self, text: str, beam: int = 1, sample: bool = False, temperature: float = 1.0,
              top_k: int | None = None, top_p: float | None = None, rng=None) -> str:
        """Add the user's turn, decode the response to the context, add it and return its text.
        ``sample``: draw the response (softmax(logits / temperature), top_k / top_p) with
        ``rng`` (a :class:`minis2s.backend.DeviceRNG`); otherwise beam search of width ``beam``
        (1: greedy)."""
        from .tasks import decode_tokens

        tr = self.translator
        self.history.append(tr.src_tokenizer.tokenize(text))
        src = self.context_tokens()
        if sample:
            out = self._sample(src, temperature, top_k, top_p, rng)
        else:
            out = decode_tokens(tr.model, tr.src_vocab, tr.tgt_vocab, [src], 1, beam=beam,
                                max_len=self.max_response)[0]
        self.history.append(out)
        del self.history[: -self.turns]  # older turns are never read again
        return tr.tgt_tokenizer.detokenize(out)

    def _sample(self, src, temperature, top_k, top_p, rng) -> list[str]:
        from . import backend as B
        from .data import Vocab, batches_for_inference
        from .decode import sample

        tr, model = self.translator, self.translator.model
        (batch,), _ = batches_for_inference([tr.src_vocab.encode(src)], 1)
        out = sample(model, B.to_device(batch.src), B.to_device(batch.src_mask, model.dtype), Vocab.sos_id,
                     Vocab.eos_id, rng, temperature=temperature, top_k=top_k, top_p=top_p,
                     max_len=self.max_response)
        return tr.tgt_vocab.decode(out.ids[0])


def run(bot: Chatbot, args, stdout=None) -> list:
    """The terminal loop: a line in, a reply out, until /quit, Ctrl-D or Ctrl-C (each ends
    quietly, without a traceback). Returns the exchanges, [(you, bot), ...]."""
    from . import backend as B

    try:
        import readline  # noqa: F401  (importing it gives input() line editing and history)
    except ImportError:
        pass
    out = stdout or sys.stdout
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C ends the chat even when it was started with SIGINT ignored (a parent that
        # ignores it, as a non-interactive shell does for background jobs, passes that on)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # nor blocked (masks are inherited too)
    rng = B.DeviceRNG(args.seed)
    exchanges = []
    print(f"chatting with {bot.path} ({HELP})", file=out, flush=True)
    try:
        while True:
            try:
                line = input("you> ").strip()
            except EOFError:  # Ctrl-D
                print(file=out)
                break
            if line in ("/quit", "/exit"):
                break
            if line == "/reset":
                bot.reset()
                print("(a new conversation: the context is empty)", file=out, flush=True)
                continue
            if line.startswith("/"):
                print(f"unknown command {line.split()[0]}: {HELP}", file=out, flush=True)
                continue
            if not line:
                continue
            reply = bot.reply(line, beam=args.beam, sample=args.sample, temperature=args.temperature,
                              top_k=args.top_k, top_p=args.top_p, rng=rng)
            exchanges.append((line, reply))
            print(f"bot> {reply or '...'}", file=out, flush=True)
    except KeyboardInterrupt:  # Ctrl-C, at the prompt or while the bot thinks
        print(file=out)
    return exchanges


def chat(args) -> int:
    """``python -m minis2s chat``: check the options, load the bot, talk."""
    from .inference import check_generation_options

    if args.sample and args.beam > 1:
        raise UserError("--beam searches for the most likely reply; --sample draws one: choose one of them")
    given = {"--temperature": args.temperature != 1.0, "--top-k": args.top_k is not None,
             "--top-p": args.top_p is not None}
    if not args.sample and any(given.values()):
        flag = next(f for f, g in given.items() if g)
        raise UserError(f"{flag} shapes sampled replies: add --sample")
    bot = Chatbot.load(args.checkpoint)
    check_generation_options("sample" if args.sample else "beam" if args.beam > 1 else "greedy", 1,
                             args.temperature, args.top_k, args.top_p, args.beam, None,
                             len(bot.translator.tgt_vocab))
    exchanges = run(bot, args)
    if args.json:
        print(json.dumps({"checkpoint": str(bot.path), "exchanges": exchanges}))
    return 0
