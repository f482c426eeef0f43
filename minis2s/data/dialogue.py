"""Open-domain dialogue: the Chit-Chat Challenge corpus as (context -> response) pairs.

The corpus (7,168 English conversations between two people, MIT licence) ships as the PyPI
package ``chitchat-dataset`` (``pip install -e '.[dialogue]'``), one JSON file::

    {"<conversation id>": {"messages": [[{"text": "Hello", "sender": "<id>", "timestamp": ...},
                                         {"text": "How are you doing today?", ...}],
                                        [{"text": "whats up", ...}], ...], ...}, ...}

Each inner list is one *turn*: the messages one person sent before the other answered; its
texts joined by a space make the turn's text. Every turn after the first is a response, and
its context is the ``turns`` turns before it, each tokenized like the rest of minis2s (the
Moses-like tokenizer, lower-cased) and joined with the separator token ``<sep>``; a long
context keeps its last ``max_context`` tokens, and a response longer than ``max_response``
tokens is left out. ``chat`` builds its context with the same function, :func:`context`.

Conversations, not pairs, are split into train, validation and test (a seeded shuffle), so no
turn of a held-out conversation is ever seen in training, not even as context.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError, UserError

SEP = "<sep>"
INSTALL_HINT = "pip install -e '.[dialogue]'"


def load_conversations(path=None) -> list[list[str]]:
    """The conversations as lists of turn texts, in the file's order.

    ``path``: a JSON file in the corpus's format, or a folder holding ``dataset.json``; None
    reads the copy the ``chitchat-dataset`` package installed (a UserError naming the extra
    when it is missing)."""
    if path is None:
        try:
            import chitchat_dataset
        except ImportError:
            raise UserError("the chitchat corpus comes with the package chitchat-dataset, which is not "
                            f"installed: {INSTALL_HINT} (or give --data-dir FILE in its format)") from None
        data, where = chitchat_dataset.Dataset(), "the chitchat-dataset package"
    else:
        file = Path(path).expanduser()
        if file.is_dir():
            file = file / "dataset.json"
        if not file.is_file():
            raise DataError(f"no dialogue corpus at {file}: give the JSON file (the chitchat-dataset format) "
                            "or the folder holding dataset.json")
        try:
            with open(file, encoding="utf-8") as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{file} is not a JSON dialogue corpus ({exc})") from None
        where = str(file)
    return _turn_texts(data, where)


def _turn_texts(data, where: str) -> list[list[str]]:
    if not isinstance(data, dict) or not data:
        raise DataError(f"{where}: expected a JSON object of conversations, "
                        '{"<id>": {"messages": [[{"text": ...}, ...], ...]}}')
    conversations = []
    for key, conv in data.items():
        try:
            turns = [" ".join(m["text"] for m in message) for message in conv["messages"]]
        except (KeyError, TypeError):
            raise DataError(f"{where}: conversation {key!r} is not in the chitchat format "
                            '({"messages": [[{"text": ...}, ...], ...]})') from None
        conversations.append([t for t in turns if t.strip()])
    return conversations


def context(previous: list[list[str]], turns: int, max_context: int) -> list[str]:
    """The encoder's input: the last ``turns`` token lists of ``previous`` joined with
    :data:`SEP`, cut to its last ``max_context`` tokens."""
    tokens: list[str] = []
    for turn in previous[-turns:]:  # eq. 15.1: the last n_turns turns, <sep> between them
        tokens += ([SEP] if tokens else []) + list(turn)
    return tokens[-max_context:]  # eq. 15.1: cut from the left, so the latest turn survives


def conversation_pairs(conversation: list[list[str]], turns: int, max_context: int, max_response: int) -> list:
    """(context tokens, response tokens) for every turn after the first of one tokenized
    conversation; responses longer than ``max_response`` are left out."""
    return [(context(conversation[:i], turns, max_context), conversation[i])
            for i in range(1, len(conversation)) if len(conversation[i]) <= max_response]


def split_conversations(n: int, seed: int, held_out: float) -> tuple[list[int], list[int], list[int]]:
    """Indices of the train, validation and test conversations: a shuffle seeded by ``seed``,
    ``held_out`` of them (at least one each) for validation and as many for test."""
    if n < 3:
        raise DataError(f"a dialogue corpus needs at least 3 conversations (train, validation, test), got {n}")
    order = list(range(n))
    random.Random(f"minis2s.dialogue/{seed}").shuffle(order)
    k = max(1, round(held_out * n))
    k = min(k, (n - 1) // 2)
    return sorted(order[2 * k:]), sorted(order[:k]), sorted(order[k:2 * k])


@dataclass
class DialogueData:
    """Token pairs (context, response) of each split."""

    train: list
    val: list
    test: list


def load_dialogue(path=None, tokenizer=None, turns: int = 2, seed: int = 0, max_context: int = 50,
                  max_response: int = 30, held_out: float = 0.05, progress: bool = False) -> DialogueData:
    """Read, tokenize, split by conversation and pair up the corpus (see the module docstring).
    ``tokenizer``: any minis2s tokenizer (default the English Moses-like one, lower-cased)."""
    from tqdm import tqdm

    from .tokenize import MosesLikeTokenizer

    if turns < 1:
        raise UserError(f"the context needs at least one previous turn, got turns={turns}")
    tokenizer = tokenizer or MosesLikeTokenizer("en")
    conversations = load_conversations(path)
    tokenized = [[tokenizer.tokenize(t) for t in conv]
                 for conv in tqdm(conversations, desc="tokenize", unit="conv", disable=not progress or None,
                                  leave=False)]
    splits = split_conversations(len(tokenized), seed, held_out)
    train, val, test = ([p for i in idx for p in conversation_pairs(tokenized[i], turns, max_context, max_response)]
                        for idx in splits)
    return DialogueData(train, val, test)
