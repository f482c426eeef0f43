"""Language-model batches: one stream cut into windows for truncated BPTT, or sentences.

A corpus becomes one stream, each sentence followed by ``<eos>`` and the stream opened by one,

    <eos> a man sleeps . <eos> two dogs run <eos> ...

so ``<eos>`` both ends a sentence and marks where the next begins: the model learns to start a
sentence after it, and generation starts by feeding it. Inputs and targets are the stream
shifted by one: x_t = stream[t], y_t = stream[t + 1].

Stream batches (truncated BPTT): the N - 1 (x, y) pairs are laid out as B rows of L = ceil((N-1)/B)
consecutive pairs -- B parallel streams -- and every row is cut into windows of T columns. Window
k + 1 of a row continues where window k ended, so the trainer carries the hidden state from one
window to the next (``carry``); only the last row's tail is padding (masked). Every pair is
counted once, and each row is read as one forward over it would read it; a row b > 0 starts
mid-text from zero state, a price of B parallel streams that shrinks as the rows grow.

Sentence batches: each sentence alone, ``x = <eos> w``, ``y = w <eos>``, padded and masked,
from zero state -- the same tokens predicted as in the stream, without the context across
sentences. The order (shuffled, bucketed by length) is the translation :class:`Batcher`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import backend as B
from ..errors import DataError
from .batching import Batcher, pad
from .vocab import Vocab

np = B.host  # host-side bookkeeping only


@dataclass
class LMBatch:
    """x: (B, T) int64 inputs; y: (B, T) int64 next tokens; mask: (B, T) float32, 1 on real
    positions; carry: start from the state the previous batch ended in (a later window of the
    same rows) rather than from zeros; n_tgt_tokens: real positions (what tokens/s counts)."""

    x: object
    y: object
    mask: object
    carry: bool
    n_tgt_tokens: int


def join_stream(sentences, eos_id: int = Vocab.eos_id):
    """Id lists -> one int64 stream ``<eos> s_1 <eos> s_2 <eos> ...`` (N = sum(len + 1) + 1)."""
    out = [eos_id]
    for s in sentences:
        out.extend(s)
        out.append(eos_id)
    return np.asarray(out, dtype=np.int64)


def stream_rows(stream, n_rows: int, pad_id: int = Vocab.pad_id):
    """The (x, y) pairs of a stream as ``n_rows`` parallel rows: x, y (B, L) int64, mask (B, L).

    Row b holds pairs b L .. (b + 1) L - 1 in order (eq. 14.4); the last row may end in padding. B is cut
    down where fewer rows already hold every pair, so no row is all padding.
    """
    n_pairs = len(stream) - 1
    if n_pairs < 1:
        raise DataError("the text is empty: a language model needs at least one sentence")
    L = -(-n_pairs // min(n_rows, n_pairs))
    n_rows = -(-n_pairs // L)  # 9 pairs in 4 rows of 3 would leave one row all padding: 3 rows
    x = np.full(n_rows * L, pad_id, dtype=np.int64)
    y = np.full(n_rows * L, pad_id, dtype=np.int64)
    mask = np.zeros(n_rows * L, dtype=np.float32)
    x[:n_pairs], y[:n_pairs], mask[:n_pairs] = stream[:-1], stream[1:], 1.0
    return x.reshape(n_rows, L), y.reshape(n_rows, L), mask.reshape(n_rows, L)


def stream_windows(stream, n_rows: int, bptt: int) -> list:
    """All windows of a stream, in order: :class:`LMBatch` of T = ``bptt`` columns (the last
    may be shorter); every window but the first carries the state over (eq. 14.4-14.5)."""
    x, y, mask = stream_rows(stream, n_rows)
    return [LMBatch(x[:, s : s + bptt], y[:, s : s + bptt], mask[:, s : s + bptt], s > 0,
                    int(mask[:, s : s + bptt].sum()))
            for s in range(0, x.shape[1], bptt)]


def sentence_batch(sentences) -> LMBatch:
    """Sentences (id lists) padded into one batch from zero state: x = <eos> w, y = w <eos>."""
    x, mask = pad([[Vocab.eos_id] + list(s) for s in sentences], Vocab.pad_id)
    y, _ = pad([list(s) + [Vocab.eos_id] for s in sentences], Vocab.pad_id)
    return LMBatch(x, y, mask, False, int(mask.sum()))


class StreamBatcher:
    """The training windows of a stream, epoch after epoch, always in the same order (the
    state flows from window to window, so they cannot be shuffled). ``next_batch`` returns
    None once when an epoch ends, like :class:`Batcher`; :meth:`state_dict` records where."""

    def __init__(self, stream, batch_size: int, bptt: int):
        if bptt < 1:
            raise ValueError(f"bptt must be positive, got {bptt}")
        self.windows = stream_windows(stream, batch_size, bptt)
        self.batch_size, self.bptt, self.n_tokens = batch_size, bptt, len(stream)
        self.epoch = self.position = 0

    def batches_per_epoch(self) -> int:
        return len(self.windows)

    def next_batch(self) -> LMBatch | None:
        if self.position >= len(self.windows):
            self.epoch, self.position = self.epoch + 1, 0
            return None
        self.position += 1
        return self.windows[self.position - 1]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "batch_size": self.batch_size,
                "bptt": self.bptt, "n_tokens": self.n_tokens}

    def load_state_dict(self, state: dict) -> None:
        for key in ("batch_size", "bptt", "n_tokens"):
            if state.get(key) != getattr(self, key):
                raise DataError(f"cannot resume the window order: {key} was {state.get(key)!r}, now "
                                f"{getattr(self, key)!r}; resume with the same data and settings")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


class SentenceBatcher:
    """Sentence batches in the translation :class:`Batcher`'s order (shuffled each epoch,
    bucketed by length), each sentence from zero state."""

    def __init__(self, sentences, batch_size: int, seed: int = 0):
        self.inner = Batcher([([], s) for s in sentences], batch_size, seed=seed)

    def batches_per_epoch(self) -> int:
        return self.inner.batches_per_epoch()

    def next_batch(self) -> LMBatch | None:
        b = self.inner.next_batch()
        if b is None:
            return None
        x = b.tgt_in.copy()
        x[:, 0] = Vocab.eos_id  # the sentence starts after <eos>, as in the stream
        return LMBatch(x, b.tgt_out, b.tgt_mask, False, b.n_tgt_tokens)

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)
