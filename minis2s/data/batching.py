"""Padding, batches and the epoch order of training data (lesson 01).

Sentences differ in length, but a batch is a rectangle: short rows are filled with ``<pad>``
(id 0) and a mask says which positions are real, so losses and attention ignore the rest.

Conventions every model in minis2s relies on, for training and inference alike:

* the source ends with ``<eos>``: ``src = x <eos>``;
* the decoder reads ``tgt_in = <sos> y`` and learns to emit ``tgt_out = y <eos>`` -- the
  same sentence shifted by one (teacher forcing);
* masks are float32, 1 for a real token and 0 for padding.

Everything here is host-side bookkeeping on int64 id arrays; the trainer moves a batch to
the device. Random orders come from ``numpy.random.default_rng((seed, epoch))``, so an
epoch's batches depend only on the seed and the epoch number, and a resumed run continues
with exactly the batches it would have seen.

To keep padding small, :class:`Batcher` buckets: it shuffles the data, cuts it into large
chunks (``bucket_chunk`` batches' worth), sorts each chunk by length, cuts the chunk into
batches and then shuffles the order of all batches. Each batch holds sentences of similar
length, while which lengths come when stays random.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .. import backend as B
from ..errors import DataError
from .vocab import Vocab

np = B.host  # host-side bookkeeping only; model math never sees these arrays


def pad(seqs: Sequence[Sequence[int]], pad_id: int = 0):
    """Stack sequences of different lengths into a rectangle.

    Returns ``ids`` (B, T) int64 with short rows filled with ``pad_id``, and ``mask``
    (B, T) float32, 1 for real tokens; T is the longest length.
    """
    if len(seqs) == 0:
        raise ValueError("pad: no sequences to pad")
    lengths = [len(s) for s in seqs]
    ids = np.full((len(seqs), max(lengths)), pad_id, dtype=np.int64)
    mask = np.zeros(ids.shape, dtype=np.float32)
    for row, (seq, n) in enumerate(zip(seqs, lengths)):
        ids[row, :n] = seq
        mask[row, :n] = 1.0
    return ids, mask


@dataclass
class Batch:
    """One batch, ready to move to the device.

    src: (B, S) int64 ``x <eos>``, padded; src_mask: (B, S) float32.
    tgt_in: (B, T) int64 ``<sos> y``; tgt_out: (B, T) int64 ``y <eos>``; tgt_mask: (B, T).
    n_src_tokens / n_tgt_tokens: real tokens, ``<eos>`` included (what tokens/s counts).
    index: (B,) int64 positions of the rows in the original data, to put outputs back in order.
    Inference batches (:func:`batches_for_inference`) have no target: the tgt fields are None.
    """

    src: object
    src_mask: object
    tgt_in: object
    tgt_out: object
    tgt_mask: object
    n_src_tokens: int
    n_tgt_tokens: int
    index: object

    def __len__(self) -> int:
        return self.src.shape[0]


def real_rows(tgt_mask):
    """The flat positions (N,) of the real tokens of a target mask (B, T), for
    ``forward_backward(real_rows=...)``, or None to keep every row.

    Work done only on the real rows of a padded batch is work saved: the readout's GEMMs over
    the target vocabulary are three quarters of a translation step. On the host the positions
    are free. On a device (CuPy, and the strict stand-in) their count is data-dependent, and
    reading it back would stall the stream once per step, so there (and when nothing is
    padding) the answer is None: the model keeps the dense rows, which the mask already zeroes.
    """
    if B.get_array_module(tgt_mask) is not B.host:
        return None
    rows = np.flatnonzero(tgt_mask.reshape(-1))
    return None if rows.size == tgt_mask.size else rows


def _check_ids(name: str, seqs, vocab: Vocab | None) -> None:
    if vocab is None:
        return
    size = len(vocab)
    for row, seq in enumerate(seqs):
        for i in seq:
            if not 0 <= i < size:
                raise DataError(f"{name}[{row}]: token id {i} is outside the vocabulary [0, {size})")


def _source_batch(src_ids_list):
    eos = Vocab.eos_id
    src, src_mask = pad([list(s) + [eos] for s in src_ids_list], Vocab.pad_id)
    return src, src_mask, int(sum(len(s) + 1 for s in src_ids_list))


def make_batch(
    src_ids_list: Sequence[Sequence[int]],
    tgt_ids_list: Sequence[Sequence[int]],
    vocab_src: Vocab | None = None,
    vocab_tgt: Vocab | None = None,
    index=None,
) -> Batch:
    """Build a :class:`Batch` from id lists without specials (``Vocab.encode`` defaults).

    Appends ``<eos>`` to each source, and makes ``tgt_in = <sos> y``, ``tgt_out = y <eos>``.
    With vocabularies given, ids outside them raise :class:`DataError` (here, on the host,
    rather than as a wrong gather on the GPU). ``index`` defaults to ``0..B-1``.
    """
    if len(src_ids_list) != len(tgt_ids_list):
        raise ValueError(
            f"make_batch: {len(src_ids_list)} sources but {len(tgt_ids_list)} targets"
        )
    _check_ids("src", src_ids_list, vocab_src)
    _check_ids("tgt", tgt_ids_list, vocab_tgt)
    src, src_mask, n_src = _source_batch(src_ids_list)
    tgt_in, tgt_mask = pad([[Vocab.sos_id] + list(y) for y in tgt_ids_list], Vocab.pad_id)
    tgt_out, _ = pad([list(y) + [Vocab.eos_id] for y in tgt_ids_list], Vocab.pad_id)
    index = np.arange(len(src_ids_list), dtype=np.int64) if index is None else np.asarray(index, dtype=np.int64)
    return Batch(
        src=src, src_mask=src_mask, tgt_in=tgt_in, tgt_out=tgt_out, tgt_mask=tgt_mask,
        n_src_tokens=n_src, n_tgt_tokens=int(sum(len(y) + 1 for y in tgt_ids_list)),
        index=index,
    )


def batches_for_inference(src_ids_list: Sequence[Sequence[int]], batch_size: int):
    """Batches of sources for decoding, longest first, so each batch pads little.

    Sentences of equal length are ordered by their ids, not by their place in the input, so
    which sentences share a batch depends only on the set of inputs and ``batch_size``: the
    same file decodes to the same outputs in any line order (a batch's neighbours change the
    float rounding of a sentence's matrix products, which can tip a near tie).

    Returns ``(batches, order)``: the batches (tgt fields None, ``src = x <eos>``), and
    ``order`` (N,) int64, the original position of each sentence in batch order --
    ``batches[0].index`` followed by ``batches[1].index`` and so on. Put outputs made in
    batch order back with :func:`restore_order`.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    seqs = [[int(i) for i in s] for s in src_ids_list]
    order = np.array(sorted(range(len(seqs)), key=lambda i: (-len(seqs[i]), seqs[i])), dtype=np.int64)
    batches = []
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        src, src_mask, n_src = _source_batch([src_ids_list[i] for i in index])
        batches.append(Batch(src, src_mask, None, None, None, n_src, 0, index.astype(np.int64)))
    return batches, order.astype(np.int64)


def restore_order(outputs: Sequence, order) -> list:
    """Outputs listed in batch order -> the same outputs in the original order."""
    if len(outputs) != len(order):
        raise ValueError(f"restore_order: {len(outputs)} outputs for {len(order)} positions")
    restored = [None] * len(order)
    for out, position in zip(outputs, order):
        restored[int(position)] = out
    return restored


class Batcher:
    """Yields the training batches of one epoch after another, deterministically.

    pairs: list of ``(src_ids, tgt_ids)`` without specials. ``batch_size`` counts sentence
    pairs; the last batch of an epoch may be smaller. ``shuffle`` draws a new order each
    epoch from ``(seed, epoch)``; ``bucket`` groups sentences of similar length within
    chunks of ``bucket_chunk`` batches (see the module docstring).

    Two ways to read it::

        for batch in batcher:          # the rest of the current epoch; then the next epoch
            ...
        batch = batcher.next_batch()   # one batch; None once when an epoch ends

    :meth:`state_dict` (JSON) records the epoch and position, so a resumed run continues
    with the exact remaining batches.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
        batch_size: int,
        shuffle: bool = True,
        bucket: bool = True,
        seed: int = 0,
        bucket_chunk: int = 100,
        vocab_src: Vocab | None = None,
        vocab_tgt: Vocab | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if bucket_chunk < 1:
            raise ValueError(f"bucket_chunk must be positive, got {bucket_chunk}")
        if len(pairs) == 0:
            raise DataError("no training pairs: the data set is empty")
        self.pairs = [(list(s), list(t)) for s, t in pairs]
        _check_ids("src", [s for s, _ in self.pairs], vocab_src)
        _check_ids("tgt", [t for _, t in self.pairs], vocab_tgt)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.bucket = bucket
        self.seed = seed
        self.bucket_chunk = bucket_chunk
        # Lengths as batched: <eos> on the source, <sos>/<eos> on the target.
        self._src_len = np.array([len(s) + 1 for s, _ in self.pairs], dtype=np.int64)
        self._tgt_len = np.array([len(t) + 1 for _, t in self.pairs], dtype=np.int64)
        self.epoch = 0
        self.position = 0
        self._plan_epoch = None
        self._plan = []
        self._last_padding_share = None

    def __len__(self) -> int:
        return -(-len(self.pairs) // self.batch_size)

    def batches_per_epoch(self) -> int:
        return len(self)

    # ------------------------------------------------------------------ the order

    def plan(self, epoch: int) -> list:
        """The row indices of every batch of ``epoch``, in order (a pure function of the
        data, the settings, the seed and ``epoch``)."""
        n, size = len(self.pairs), self.batch_size
        rng = np.random.default_rng((self.seed, epoch))
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        if not self.bucket:
            return [order[i : i + size] for i in range(0, n, size)]
        batches = []
        chunk = size * self.bucket_chunk
        for start in range(0, n, chunk):
            part = order[start : start + chunk]
            # lexsort sorts by the last key first: source length, then target length;
            # stable, so ties keep the shuffled order
            part = part[np.lexsort((self._tgt_len[part], self._src_len[part]))]
            batches.extend(part[i : i + size] for i in range(0, len(part), size))
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _current_plan(self) -> list:
        if self._plan_epoch != self.epoch:
            self._plan, self._plan_epoch = self.plan(self.epoch), self.epoch
        return self._plan

    @property
    def padding_share(self) -> float:
        """Fraction of batched positions (source and target) that are padding, over the
        last finished epoch (over the current one while none has finished); eq. 10.1."""
        if self._last_padding_share is not None:
            return self._last_padding_share
        return self._share(self._current_plan())

    def _share(self, plan) -> float:
        padded = total = 0
        for rows in plan:
            for lengths in (self._src_len[rows], self._tgt_len[rows]):
                total += len(rows) * int(lengths.max())
                padded += len(rows) * int(lengths.max()) - int(lengths.sum())
        return padded / total

    # ------------------------------------------------------------------ iteration

    def next_batch(self) -> Batch | None:
        """The next batch of the current epoch, or None when the epoch is over (the
        batcher has then moved on to the next epoch)."""
        plan = self._current_plan()
        if self.position >= len(plan):
            self._last_padding_share = self._share(plan)
            self.epoch += 1
            self.position = 0
            return None
        rows = plan[self.position]
        self.position += 1
        return make_batch(
            [self.pairs[i][0] for i in rows], [self.pairs[i][1] for i in rows], index=rows
        )

    def __iter__(self):
        while (batch := self.next_batch()) is not None:
            yield batch

    # ------------------------------------------------------------------ resuming

    def _settings(self) -> dict:
        return {
            "n_pairs": len(self.pairs),
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "bucket": self.bucket,
            "seed": self.seed,
            "bucket_chunk": self.bucket_chunk,
        }

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, **self._settings()}

    def load_state_dict(self, state: dict) -> None:
        """Continue where ``state`` left off; the data and settings must be the same."""
        try:
            epoch, position = int(state["epoch"]), int(state["position"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed batcher state: {exc!r}") from exc
        for key, value in self._settings().items():
            if key in state and state[key] != value:
                raise DataError(
                    f"cannot resume the batch order: {key} was {state[key]!r}, now {value!r}; "
                    "resume with the same data and batch settings"
                )
        if epoch < 0 or not 0 <= position <= len(self):
            raise DataError(f"batcher state out of range: epoch {epoch}, position {position}")
        self.epoch, self.position = epoch, position
        self._last_padding_share = None
