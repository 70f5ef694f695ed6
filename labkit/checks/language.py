"""Language models, for lab 10's checks: the probes and references of skip-gram's pairs,
noise distribution and loss (with their classic mistakes), the n-gram decision's outcome,
the distributions sampling with a temperature and top-k must follow, and the causal mask."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import Mistake
from labkit.lab.language_models import CharNgram

# ----------------------------------------------------------------- q1: pairs and noise
WINDOW_PROBES = (
    (np.array([5, 9, 2, 7, 3], np.int32), 2),
    (np.array([4, 8], np.int32), 3),
    (np.array([6], np.int32), 1),
)
NOISE_COUNTS = np.array([100, 10, 1, 0, 50, 3])


def window_pairs(words: np.ndarray, window: int, forward_only: bool = False, itself: bool = False):
    """(centre, context) for every position and every other position within ``window``."""
    pairs = []
    for i in range(len(words)):
        for j in range(i if forward_only else max(0, i - window), min(len(words), i + window + 1)):
            if j != i or itself:
                pairs.append((words[i], words[j]))
    return np.array(pairs, np.int64).reshape(-1, 2)


def _sorted(pairs: np.ndarray) -> np.ndarray:
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def sorted_pairs(words: np.ndarray, window: int) -> np.ndarray:
    return _sorted(window_pairs(words, window))


def pair_mistakes(words: np.ndarray, window: int) -> list[Mistake]:
    return [
        Mistake(
            "the pairs include each word with itself: leave out the centre position.",
            _sorted(window_pairs(words, window, itself=True)),
        ),
        Mistake(
            "only the words after the centre are its context: take those before it too.",
            _sorted(window_pairs(words, window, forward_only=True)),
        ),
        Mistake(
            "the window is one word too narrow: take up to `window` words on each side.",
            _sorted(window_pairs(words, window - 1)),
        ),
        Mistake(
            "the window is one word too wide: take up to `window` words on each side, no more.",
            _sorted(window_pairs(words, window + 1)),
        ),
    ]


def reference_noise(counts: np.ndarray) -> np.ndarray:
    weights = np.asarray(counts, np.float64) ** 0.75
    return weights / weights.sum()


def noise_mistakes(counts: np.ndarray) -> list[Mistake]:
    c = np.asarray(counts, np.float64)
    return [
        Mistake(
            "that is the unigram distribution: raise the counts to the power 3/4.", c / c.sum()
        ),
        Mistake("the weights do not sum to 1: divide them by their sum.", c**0.75),
        Mistake(
            "raising probabilities to the power 3/4 leaves them summing to more than 1: "
            "normalise after the power.",
            (c / c.sum()) ** 0.75,
        ),
        Mistake(
            "that is uniform: frequent words should be drawn more often.",
            np.full(len(c), 1 / len(c)),
        ),
    ]


# ----------------------------------------------------------------- q2: the loss
LOSS_SCALES = (0.5, 60.0)  # the second makes log(sigmoid(x)) underflow to log(0) in float32


def loss_inputs(scale: float, seed: int = 13) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """centre (4, 3), context (4, 3), negatives (4, 2, 3), float32, about ``scale`` in norm."""
    rng = np.random.default_rng(seed)
    arrays = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(4, 2, 3))
    return tuple((a * scale / np.sqrt(3)).astype(np.float32) for a in arrays)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _scores(centre, context, negatives) -> tuple[np.ndarray, np.ndarray]:
    v, u, n = (np.asarray(a, np.float64) for a in (centre, context, negatives))
    return (v * u).sum(-1), np.einsum("bd,bkd->bk", v, n)


def reference_sgns_loss(centre, context, negatives) -> np.ndarray:
    positive, negative = _scores(centre, context, negatives)
    return np.mean(-_log_sigmoid(positive) - _log_sigmoid(-negative).sum(-1))


def loss_mistakes(centre, context, negatives) -> list[Mistake]:
    positive, negative = _scores(centre, context, negatives)
    pos, neg = -_log_sigmoid(positive), -_log_sigmoid(-negative)
    return [
        Mistake("take the mean over the batch, not the sum.", np.sum(pos + neg.sum(-1))),
        Mistake(
            "the negatives' scores need a minus sign: -log sigma(-v.n), so that a negative with "
            "a large dot product costs much.",
            np.mean(pos - _log_sigmoid(negative).sum(-1)),
        ),
        Mistake(
            "sum the negatives' terms (one term per negative), do not average them.",
            np.mean(pos + neg.mean(-1)),
        ),
        Mistake("the negatives are missing: add their terms.", np.mean(pos)),
        Mistake("the positive pair is missing: add -log sigma(v.u).", np.mean(neg.sum(-1))),
        Mistake(
            "the signs are reversed: the loss is -log sigma(v.u) - sum log sigma(-v.n), a "
            "positive number.",
            -np.mean(pos + neg.sum(-1)),
        ),
    ]


# ----------------------------------------------------------------- q3: the n-gram decision
MAX_ORDER = 10
STRENGTHS = (1, 3, 10, 30, 100)  # the notebook's table
NGRAM_SLACK = 1.01  # the learner's choice may cost at most 1% more than the table's best


def id_sequences(value: Any) -> list[np.ndarray] | None:
    """``value`` as a list of 1-D int arrays of character ids (at least 2 each, ids 0 to 63),
    or None when it is anything else."""
    if not isinstance(value, list | tuple) or not value:
        return None
    rows = []
    for row in value:
        if not isinstance(row, np.ndarray | list | tuple):
            return None
        array = np.asarray(row)
        if array.ndim != 1 or len(array) < 2 or array.dtype.kind not in "iu":
            return None
        if array.min() < 0 or array.max() >= 64:
            return None
        rows.append(array.astype(np.int64))
    return rows


def ngram_outcome(
    train: list[np.ndarray], valid: list[np.ndarray], order: int, strength: float
) -> tuple[float, float, tuple[int, float]]:
    """The validation bits per character of (order, strength), the best of the table, and
    the table's best (order, strength); every model fitted on ``train``."""
    vocab = int(max(s.max() for s in [*train, *valid])) + 1
    model = CharNgram(MAX_ORDER, max(vocab, 4)).fit(train)
    table = {
        (n, s): model.bits_per_char(valid, n, s) for n in range(1, MAX_ORDER + 1) for s in STRENGTHS
    }
    best = min(table, key=table.get)
    return model.bits_per_char(valid, order, strength), table[best], best


# ----------------------------------------------------------------- q5: sampling
SAMPLING_SEED = 14
DRAWS = 4000
# Over 4,000 draws a frequency is within about 0.008 of its probability (one standard error at
# worst): 0.04 is five of them; every mistake below is at least 0.09 away somewhere.
FREQUENCY_TOLERANCE = 0.04
SAMPLING_PROBES = ((0.5, 0), (2.0, 3))
_LOGITS = np.array([3.0, 2.0, 1.0, 0.0, -1.0])


def sampling_logits() -> np.ndarray:
    return np.tile(_LOGITS, (DRAWS, 1)).astype(np.float32)


def distinct_rows() -> np.ndarray:
    """Rows whose most probable ids differ: at T=0.2 each row's draw is nearly certain."""
    rows = np.zeros((4, 5), np.float32)
    rows[[0, 1, 2, 3], [0, 3, 1, 4]] = 8.0
    return rows


def _softmax_top(logits: np.ndarray, k: int, keep_smallest: bool = False) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    if k:
        order = np.argsort(logits)
        keep = order[:k] if keep_smallest else order[-k:]
        logits = np.where(np.isin(np.arange(len(logits)), keep), logits, -np.inf)
    p = np.exp(logits - logits.max())
    return p / p.sum()


def sampling_answer(
    logits: np.ndarray, temperature: float, top_k: int
) -> tuple[np.ndarray, list[Mistake]]:
    """The distribution the draws must follow, and the classic mistakes' distributions."""
    logits = np.asarray(logits, np.float64)
    right = _softmax_top(logits / temperature, top_k)
    argmax = np.eye(len(logits))[np.argmax(logits)]
    mistakes = [
        Mistake(
            "it always takes the most probable id: draw at random from the distribution "
            "(rng.choice(n, p=probabilities)).",
            argmax,
        ),
        Mistake(
            "the logits are multiplied by the temperature: divide them by it (T < 1 sharpens).",
            _softmax_top(logits * temperature, top_k),
        ),
        Mistake(
            "the temperature is ignored: divide the logits by it.", _softmax_top(logits, top_k)
        ),
    ]
    if top_k:
        mistakes += [
            Mistake(
                "top_k is ignored: keep only the k largest logits of each row.",
                _softmax_top(logits / temperature, 0),
            ),
            Mistake(
                f"it keeps {top_k + 1} ids, not top_k = {top_k}: keep the logits at least as "
                "large as the k-th largest.",
                _softmax_top(logits / temperature, top_k + 1),
            ),
            Mistake(
                f"it keeps {top_k - 1} ids, not top_k = {top_k}.",
                _softmax_top(logits / temperature, top_k - 1),
            ),
            Mistake(
                "it keeps the k smallest logits: keep the k largest.",
                _softmax_top(logits / temperature, top_k, keep_smallest=True),
            ),
        ]
    return right, mistakes


# ----------------------------------------------------------------- q6: the causal mask
def reference_causal_mask(n: int) -> np.ndarray:
    """1 where position i (row) may attend to position j (column): j <= i."""
    return np.tril(np.ones((n, n), np.int8))


def mask_mistakes(n: int) -> list[Mistake]:
    lower = reference_causal_mask(n)
    return [
        Mistake(
            "it lets each position see the future and not the past: row i (the position that "
            "attends) may see the columns j <= i.",
            lower.T,
        ),
        Mistake("it is inverted: in Keras, True means the position may be attended to.", 1 - lower),
        Mistake(
            "no position may attend to itself: keep the diagonal (j <= i, not j < i).",
            np.tril(lower, -1),
        ),
        Mistake("that is no mask: hide the positions after i.", np.ones((n, n), np.int8)),
    ]
