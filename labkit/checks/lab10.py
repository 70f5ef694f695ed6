"""Checks for lab 10: language models (skip-gram pairs and noise, the negative-sampling loss,
the n-gram baseline (a decision), a GRU step, sampling with a temperature and top-k, and the
causal mask of the optional Transformer).

Each check runs the learner's code on probes and judges it with ``Answer``s and their declared
``Mistake``s; the GRU's reference maths and mistakes live in ``recurrent``, the probes of the
skip-gram and sampling exercises and the n-gram decision's reference in ``language``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks import language, recurrent
from labkit.checks.answers import Answer, expect, expect_close
from labkit.checks.exercise import Exercise
from labkit.checks.learner_code import call_learner
from labkit.checks.values import (
    Namespace,
    as_numpy,
    describe,
    expect_shape,
    learner_float,
    learner_function,
    learner_int,
    learner_value,
)

LAB = "10_language_models"


# ----------------------------------------------------------------- q1: pairs and noise
def _pairs(got: Any, what: str) -> np.ndarray:
    """The pairs as an int array (pairs, 2), rows sorted: the order of the pairs is free."""
    pairs = as_numpy(got, what)
    if pairs.size == 0:
        pairs = pairs.reshape(0, 2) if pairs.dtype.kind in "biu" else pairs
    expect(
        pairs.ndim == 2 and pairs.shape[1] == 2,
        f"{what} has shape {tuple(pairs.shape)}; it should be (pairs, 2): one row (centre, "
        "context) per pair.",
    )
    expect(
        pairs.dtype.kind in "iu",
        f"{what} holds {pairs.dtype} values; word ids are integers (dtype=np.int32).",
    )
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def _check_q1(ns: Namespace) -> str | None:
    pairs_of = learner_function(ns, "window_pairs")
    for words, window in language.WINDOW_PROBES:
        given = words.copy()
        what = f"window_pairs({words.tolist()}, window={window})"
        got = _pairs(call_learner(pairs_of, given, window), what)
        Answer(language.sorted_pairs(words, window), language.pair_mistakes(words, window)).judge(
            got, what
        )
        expect(np.array_equal(given, words), f"{what} changed the word ids it was given.")
    noise_of = learner_function(ns, "noise_distribution")
    counts = language.NOISE_COUNTS
    what = f"noise_distribution({counts.tolist()})"
    got = expect_shape(call_learner(noise_of, counts.copy()), counts.shape, what)
    Answer(language.reference_noise(counts), language.noise_mistakes(counts)).judge(got, what)
    return "every pair within the window, and negatives drawn from the unigram counts^(3/4)."


# ----------------------------------------------------------------- q2: the loss
def _check_q2(ns: Namespace) -> str | None:
    import tensorflow as tf

    loss = learner_function(ns, "sgns_loss")
    what = "sgns_loss(centre, context, negatives)"
    for scale in language.LOSS_SCALES:
        probe = language.loss_inputs(scale)
        got = as_numpy(call_learner(loss, *[tf.constant(a) for a in probe]), what)
        expect(
            got.size == 1,
            f"{what} has shape {tuple(got.shape)}; it should be one number, the mean of the "
            "pairs' losses over the batch.",
        )
        Answer(
            language.reference_sgns_loss(*probe),
            language.loss_mistakes(*probe),
            rtol=1e-4,
            atol=1e-4,
            not_finite=(
                "with large dot products, log(sigmoid(x)) becomes log(0): compute it in one step "
                "with tf.math.log_sigmoid."
            ),
        ).judge(got.reshape(()), f"{what} (vectors of norm about {scale:g})")
    return "-log sigma(v.u) - sum_k log sigma(-v.n_k), averaged over the batch, stable."


# ----------------------------------------------------------------- q3: the n-gram (a decision)
def _sequences(ns: Namespace, name: str) -> list[np.ndarray]:
    value = learner_value(ns, name)
    rows = language.id_sequences(value)
    expect(
        rows is not None,
        f"`{name}` is {describe(value)}; it should be the list of encoded questions (arrays of "
        "character ids from chars.encode): run the cells of part 3 again.",
    )
    return rows


def _check_q3(ns: Namespace) -> str | None:
    order = learner_int(ns, "ORDER")
    expect(
        order <= language.MAX_ORDER,
        f"`ORDER` is {order}; choose an order from 1 to {language.MAX_ORDER}.",
    )
    strength = learner_float(ns, "STRENGTH", 1e-6, 1e6)
    train, valid = _sequences(ns, "train_ids"), _sequences(ns, "valid_ids")
    bits, best, best_choice = language.ngram_outcome(train, valid, order, strength)
    expect(
        bits <= best * language.NGRAM_SLACK,
        f"your {order}-gram with strength {strength:g} costs {bits:.4f} bits per character on "
        f"the validation questions; the best of the table costs {best:.4f}: yours must be "
        f"within {language.NGRAM_SLACK - 1:.0%} of it. Read the table: which order and strength "
        "cost least?",
    )
    return (
        f"{bits:.4f} bits per character on the validation questions (the best of the table: "
        f"{best:.4f}, order {best_choice[0]}, strength {best_choice[1]:g})."
    )


# ----------------------------------------------------------------- q4: one step of a GRU
def _check_q4(ns: Namespace) -> str | None:
    import tensorflow as tf

    step = learner_function(ns, "gru_step")
    inputs = recurrent.gate_inputs(3, seed=11, bias_rows=(2,))
    what = "gru_step(x_t, h_prev, kernel, recurrent_kernel, bias)"
    got = as_numpy(call_learner(step, *[tf.constant(a) for a in inputs]), what)
    expect(
        not (isinstance(got, np.ndarray) and got.shape == (2, 9)),
        f"{what} has shape (2, 9): that is the three gates side by side; return h_t, (batch, "
        "units).",
    )
    expect_shape(got, (2, 3), what)
    right = recurrent.reference_gru_step(*inputs)
    Answer(right, recurrent.gru_mistakes(*inputs), atol=1e-4).judge(got, what)
    recurrent.keras_run("GRU", step, expect_close)
    return "your step reproduces keras.layers.GRU exactly, with Keras' own weights."


# ----------------------------------------------------------------- q5: sampling
def _draws(sample: Any, logits: np.ndarray, temperature: float, top_k: int) -> np.ndarray:
    what = f"sample_next(logits, temperature={temperature:g}, top_k={top_k})"
    given = logits.copy()
    rng = np.random.default_rng(language.SAMPLING_SEED)
    ids = as_numpy(call_learner(sample, given, temperature, top_k, rng), what)
    ids = expect_shape(ids, (len(logits),), f"{what} (logits of shape {logits.shape})")
    expect(
        ids.dtype.kind in "iu",
        f"{what} returns {ids.dtype} values; return the drawn ids as integers.",
    )
    expect(
        ids.min() >= 0 and ids.max() < logits.shape[1],
        f"{what} returns ids from {ids.min()} to {ids.max()}; they index the "
        f"{logits.shape[1]} logits of a row.",
    )
    expect(np.array_equal(given, logits), f"{what} changed the logits it was given.")
    return ids


def _check_q5(ns: Namespace) -> str | None:
    sample = learner_function(ns, "sample_next")
    for temperature, top_k in language.SAMPLING_PROBES:
        logits = language.sampling_logits()
        ids = _draws(sample, logits, temperature, top_k)
        frequencies = np.bincount(ids, minlength=logits.shape[1]) / len(ids)
        right, mistakes = language.sampling_answer(logits[0], temperature, top_k)
        Answer(
            right,
            mistakes,
            atol=language.FREQUENCY_TOLERANCE,
            otherwise=(
                f"over {len(ids)} draws, the frequencies {np.round(frequencies, 3).tolist()} are "
                f"not those of the softmax of logits / temperature over the top {top_k or 'all'} "
                f"(expected {np.round(right, 3).tolist()})."
            ),
        ).judge(
            frequencies, f"the frequencies of sample_next's ids (T={temperature:g}, top_k={top_k})"
        )
    rows = language.distinct_rows()
    ids = _draws(sample, rows, 0.2, 0)
    expect(
        np.array_equal(ids, rows.argmax(axis=1)),
        f"on rows whose most probable ids are {rows.argmax(axis=1).tolist()} (at T=0.2, nearly "
        f"certain) it drew {ids.tolist()}: draw each row from its own logits.",
    )
    return "the frequencies of your draws follow softmax(logits / T) over the top k."


# ----------------------------------------------------------------- q6: the causal mask
def _check_q6(ns: Namespace) -> str | None:
    import tensorflow as tf

    mask_of = learner_function(ns, "causal_mask")
    for length in (4, tf.constant(6)):
        n = int(length)
        what = f"causal_mask({'tf.constant(' + str(n) + ')' if tf.is_tensor(length) else n})"
        mask = expect_shape(call_learner(mask_of, length), (n, n), what)
        expect(
            mask.dtype == np.bool_,
            f"{what} holds {mask.dtype} values; make it boolean (True: may attend), for example "
            "with a comparison of positions.",
        )
        Answer(language.reference_causal_mask(n), language.mask_mistakes(n)).judge(
            mask.astype(np.int8), what
        )
    return "each position attends to itself and to the positions before it, never after."


q1 = Exercise(
    "The pairs of a window, and the noise to draw negatives from",
    _check_q1,
    hints=[
        "For each position i, the context positions are i - window to i + window, inside the "
        "question, without i itself. The noise weights are the counts to the power 0.75.",
        "Two loops: over the positions i and over j from max(0, i - window) to "
        "min(len, i + window + 1), skipping j == i; collect (word_ids[i], word_ids[j]) and make "
        "an int32 array reshaped to (-1, 2) (an empty question gives (0, 2)). Divide the "
        "weights by their sum.",
    ],
)
q2 = Exercise(
    "The loss of negative sampling",
    _check_q2,
    hints=[
        "The positive score is the dot product of each centre with its context, shape (batch,); "
        "the negative scores are the dot products with each of its negatives, (batch, negatives).",
        "tf.reduce_sum(centre * context, axis=-1) gives the positive scores; tf.einsum with "
        "'bd,bkd->bk' the negative ones. The loss is -log_sigmoid(positive) minus the sum over "
        "the negatives of log_sigmoid(-negative scores), then tf.reduce_mean over the batch.",
    ],
)
q3 = Exercise(
    "Your n-gram (a decision)",
    _check_q3,
    hints=[
        "The table shows the validation cost of every order (rows) and strength (columns): "
        "the lower, the better.",
        "Take the order and strength of the table's smallest value, or let Python find it: "
        "min over the (order, strength) pairs, keyed by ngram.bits_per_char(valid_ids, ...).",
    ],
)
q4 = Exercise(
    "One step of a GRU",
    _check_q4,
    hints=[
        "Split x_t @ kernel + bias[0] into three (tf.split(..., 3, axis=-1)): the input's side "
        "of z, r and the candidate; h_prev @ recurrent_kernel + bias[1] likewise, the state's side.",
        "z and r are sigmoids of the sums of their two sides; the candidate is tanh(x_h + r * "
        "h_h); the new state is z * h_prev + (1 - z) * candidate.",
    ],
)
q5 = Exercise(
    "Sampling with a temperature and top-k",
    _check_q5,
    hints=[
        "Divide the logits by the temperature; for top-k, set every logit below the row's k-th "
        "largest to -infinity; then a softmax per row, and one draw per row.",
        "np.sort(scaled, axis=-1)[:, -top_k, None] is each row's k-th largest; np.where keeps "
        "the logits at least that large. Subtract the row's max before np.exp, divide by the "
        "row's sum, and draw with rng.choice(n_ids, p=row) for each row.",
    ],
)

q6 = Exercise(
    "The causal mask",
    _check_q6,
    hints=[
        "Row i is the position that attends, column j the position attended to: True where "
        "j <= i, a lower triangle with its diagonal.",
        "tf.range(length) gives the positions; compare a column of them with a row of them "
        "(positions[:, None] and positions[None, :]): broadcasting makes the square.",
    ],
)

EXERCISES = (q1, q2, q3, q4, q5, q6)
