"""Data: vocabularies, tokenizers, byte-pair encoding, batching, generated tasks (toy strings,
dates, bAbI-style QA), Multi30k and the chit-chat dialogue corpus (lesson 01)."""

from .batching import Batch, Batcher, batches_for_inference, make_batch, pad, restore_order
from .bpe import BPE, learn_bpe
from .tokenize import CharTokenizer, MosesLikeTokenizer, SentenceGridTokenizer, WhitespaceTokenizer, tokenizer_from_json
from .toy import DATE_FORMATS, TASKS, Task, format_date, make_splits
from .vocab import Vocab

__all__ = [
    "BPE",
    "DATE_FORMATS",
    "TASKS",
    "Batch",
    "Batcher",
    "CharTokenizer",
    "MosesLikeTokenizer",
    "SentenceGridTokenizer",
    "Task",
    "Vocab",
    "WhitespaceTokenizer",
    "batches_for_inference",
    "format_date",
    "learn_bpe",
    "make_batch",
    "make_splits",
    "pad",
    "restore_order",
    "tokenizer_from_json",
]
