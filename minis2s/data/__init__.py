"""Data: vocabularies, tokenizers, batching, toy tasks and Multi30k (lesson 01)."""

from .tokenize import CharTokenizer, MosesLikeTokenizer, WhitespaceTokenizer, tokenizer_from_json
from .vocab import Vocab

__all__ = [
    "CharTokenizer",
    "MosesLikeTokenizer",
    "Vocab",
    "WhitespaceTokenizer",
    "tokenizer_from_json",
]
