"""ATIS questions as a language model reads them, for lab 10 (language models).

``Chars`` turns a question into character ids between an explicit start and end of question;
``length_batches`` makes training batches of questions of similar lengths; ``bits_per_char``
scores a next-character model on held-out questions; ``CharNgram`` is the smoothed character
n-gram model every network of the lab must beat (and the reference of its decision exercise).

TensorFlow is imported by the functions that need it, so importing this is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

PAD, BOS, EOS = 0, 1, 2  # padding, start of question, end of question


class Chars:
    """The characters of a set of texts, as ids from 3 on (0, 1, 2: padding, start, end)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.chars = sorted(set("".join(texts)))
        self.ids = {c: i + 3 for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars) + 3

    def encode(self, text: str) -> np.ndarray:
        """``[BOS, ids of the characters..., EOS]``; a character not seen is left out."""
        ids = [self.ids[c] for c in text if c in self.ids]
        return np.array([BOS, *ids, EOS], dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` up to the first end of question (start and padding left out)."""
        out = []
        for i in ids:
            if int(i) == EOS:
                break
            if int(i) >= 3:
                out.append(self.chars[int(i) - 3])
        return "".join(out)


def pad(sequences: Sequence[np.ndarray]) -> np.ndarray:
    """Zero-padded at the end to the longest sequence."""
    x = np.zeros((len(sequences), max(len(s) for s in sequences)), np.int32)
    for row, s in enumerate(sequences):
        x[row, : len(s)] = s
    return x


def length_batches(sequences: Sequence[np.ndarray], batch_size: int, seed: int) -> Any:
    """A ``tf.data.Dataset`` of (inputs, next characters): the questions sorted by length and
    cut into batches (little padding), the batches in a new random order at every epoch."""
    import tensorflow as tf

    order = np.argsort([len(s) for s in sequences], kind="stable")
    batches = [
        pad([sequences[i] for i in order[k : k + batch_size]])
        for k in range(0, len(order), batch_size)
    ]
    rng = np.random.default_rng(seed)

    def epoch():
        for k in rng.permutation(len(batches)):
            yield batches[k][:, :-1], batches[k][:, 1:]

    spec = tf.TensorSpec((None, None), tf.int32)
    dataset = tf.data.Dataset.from_generator(epoch, output_signature=(spec, spec))
    # its size, so that Keras knows where an epoch ends
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(2)


def bits_per_char(model: Any, sequences: Sequence[np.ndarray], batch_size: int = 128) -> float:
    """The model's mean cross-entropy in bits per predicted character (the end of question
    included, the padding left out) on ``sequences``: ``model`` maps ids to logits."""
    import tensorflow as tf

    order = np.argsort([len(s) for s in sequences], kind="stable")
    total, count = 0.0, 0
    for k in range(0, len(order), batch_size):
        batch = pad([sequences[i] for i in order[k : k + batch_size]])
        x, y = batch[:, :-1], batch[:, 1:]
        logits = model(x, training=False)
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits).numpy()
        total += float(nats[y != PAD].sum())
        count += int((y != PAD).sum())
    return total / count / np.log(2)


class CharNgram:
    """A smoothed character n-gram model (NumPy): the probability of the next character after
    the last ``order - 1`` characters, interpolated with the order below it::

        P_n(c | h) = (count(h, c) + strength * P_(n-1)(c | h')) / (count(h) + strength)

    where ``h'`` is ``h`` without its oldest character, and ``P_1`` is the same with the uniform
    distribution below it: a context seen often trusts its own counts, a rare one its shorter
    context. ``fit`` counts every order up to ``max_order`` at once."""

    def __init__(self, max_order: int, vocab_size: int) -> None:
        if not 1 <= max_order <= 10:
            raise ValueError(f"max_order must be from 1 to 10, not {max_order}")
        self.max_order, self.vocab_size = max_order, vocab_size
        self.tables: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def _codes(self, sequences: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        """For each context length k (0 to max_order - 1): every target's context as one
        integer; and the targets (every character after the start, the end included)."""
        extra = self.max_order - 1  # more starts before each question's own
        rows = [np.concatenate([np.full(extra, BOS), s]).astype(np.int64) for s in sequences]
        targets = np.concatenate([r[extra + 1 :] for r in rows])
        contexts, code = [], np.zeros(len(targets), np.int64)
        contexts.append(code.copy())
        for k in range(1, self.max_order):
            before = np.concatenate([r[extra + 1 - k : len(r) - k] for r in rows])
            code = code * self.vocab_size + before
            contexts.append(code.copy())
        return contexts, targets

    def fit(self, sequences: Sequence[np.ndarray]) -> CharNgram:
        """Count every context and every (context, next character) of ``sequences``."""
        contexts, targets = self._codes(sequences)
        self.tables = []
        for context in contexts:
            ctx, ctx_counts = np.unique(context, return_counts=True)
            pair, pair_counts = np.unique(context * self.vocab_size + targets, return_counts=True)
            self.tables.append((ctx, ctx_counts, pair, pair_counts))
        return self

    @staticmethod
    def _lookup(keys: np.ndarray, counts: np.ndarray, query: np.ndarray) -> np.ndarray:
        where = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        return np.where(keys[where] == query, counts[where], 0)

    def probabilities(
        self, sequences: Sequence[np.ndarray], order: int, strength: float
    ) -> np.ndarray:
        """The probability of every target character of ``sequences`` under the model of
        ``order`` (1 to max_order) with this smoothing ``strength`` (> 0)."""
        if not self.tables:
            raise ValueError("fit the model first")
        if not 1 <= order <= self.max_order or not strength > 0:
            raise ValueError(f"order must be from 1 to {self.max_order}, strength > 0")
        contexts, targets = self._codes(sequences)
        p = np.full(len(targets), 1.0 / (self.vocab_size - 2))  # every character and the end
        for k in range(order):
            ctx, ctx_counts, pair, pair_counts = self.tables[k]
            seen = self._lookup(ctx, ctx_counts, contexts[k])
            both = self._lookup(pair, pair_counts, contexts[k] * self.vocab_size + targets)
            p = (both + strength * p) / (seen + strength)
        return p

    def bits_per_char(self, sequences: Sequence[np.ndarray], order: int, strength: float) -> float:
        """The mean of -log2 P(next character) over the targets of ``sequences``."""
        return float(-np.log2(self.probabilities(sequences, order, strength)).mean())


def nearest(vectors: np.ndarray, k: int) -> np.ndarray:
    """For each row, the indices of its ``k`` nearest other rows by cosine similarity."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def neighbour_share(
    vectors: np.ndarray, queries: Sequence[int], group: Sequence[int], k: int = 5
) -> float:
    """The share of the ``k`` nearest neighbours of the ``queries`` rows that are in ``group``."""
    members = np.zeros(len(vectors), bool)
    members[list(group)] = True
    return float(members[nearest(vectors, k)[list(queries)]].mean())
