"""Checks for lab 06: recurrent networks (an RNN step, an LSTM step, padding and masking,
a joint slot-filling and intent model on ATIS, an intent CNN, bucket boundaries).

Each check runs the learner's code on probes and judges it with ``Answer``s and their declared
``Mistake``s; the reference maths, the probes' inputs and the layer checks of the two models
live in ``recurrent``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from labkit.checks import recurrent
from labkit.checks.answers import (
    Answer,
    close,
    expect,
    expect_close,
    expect_finite,
    name_the_mistake,
)
from labkit.checks.exercise import Exercise
from labkit.checks.learner_code import call_learner, call_model, model_output
from labkit.checks.models import activation_name, layers_of, set_seeded_weights
from labkit.checks.recurrent import padded, padding_share, reference_pad_batch, word_ids
from labkit.checks.values import (
    Namespace,
    as_numpy,
    describe,
    expect_shape,
    learner_function,
    learner_value,
    returned,
)

LAB = "06_rnn_slot_filling"
# Padding must not change a model's answer whatever its weights: probed with these seeds.
PADDING_PROBE_SEEDS = (1, 2)


# ----------------------------------------------------------------- q1: one step of a vanilla RNN
def _check_q1(ns: Namespace) -> str | None:
    import tensorflow as tf

    step, inputs = learner_function(ns, "rnn_step"), recurrent.rnn_inputs()
    what = "rnn_step(x_t, h_prev, W_xh, W_hh, b)"
    got = as_numpy(call_learner(step, *[tf.constant(a) for a in inputs]), what)
    expect(
        got.shape != (5, 3),
        f"{what} has shape (5, 3): that is (units, batch). Keep the batch first: "
        "x_t @ W_xh has shape (batch, units).",
    )
    expect_shape(got, (3, 5), what)
    right = recurrent.reference_rnn_step(*inputs)
    Answer(right, recurrent.rnn_mistakes(*inputs), atol=1e-4).judge(got, what)
    return "h_t = tanh(x_t W_xh + h_(t-1) W_hh + b): the same weights are used at every step."


# ----------------------------------------------------------------- q2: one step of an LSTM
def _check_q2(ns: Namespace) -> str | None:
    import tensorflow as tf

    step, inputs = learner_function(ns, "lstm_step"), recurrent.gate_inputs(4, seed=7, cell=True)
    what = "lstm_step(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias)"

    def h_and_c(out: Any) -> tuple[Any, Any]:
        return returned(
            out, 2, what, "tensors, `(h, c)`: the new hidden state and the new cell state"
        )

    h, c = h_and_c(call_learner(step, *[tf.constant(a) for a in inputs]))
    h = expect_finite(expect_shape(h, (2, 3), "h (the first value returned)"), "h")
    c = expect_finite(expect_shape(c, (2, 3), "c (the second value returned)"), "c")
    want_h, want_c = recurrent.reference_lstm_step(*inputs)
    name_the_mistake((h, c), recurrent.lstm_mistakes(*inputs), atol=1e-4)
    expect_close(c, want_c, "c (the new cell state)")
    expect_close(h, want_h, "h (the new hidden state)")
    # The same step must reproduce keras.layers.LSTM over a whole sequence, with its weights.
    c, keras_c = recurrent.keras_run("LSTM", step, expect_close, h_and_c)
    expect_close(c, keras_c, "the final c, against keras.layers.LSTM")
    return "your step reproduces keras.layers.LSTM exactly, with Keras' own weights."


# ----------------------------------------------------------------- q3: padding and the mask
Q3_SEQUENCES = [np.array([3, 7, 9, 4]), np.array([5, 2]), np.array([8, 6, 1, 2, 9, 3])]
X_AND_MASK = "arrays, `(x, mask)`"


def _check_q3(ns: Namespace) -> str | None:
    pad = learner_function(ns, "pad_batch")
    sequences = [s.copy() for s in Q3_SEQUENCES]
    x, mask = returned(call_learner(pad, sequences), 2, "pad_batch(sequences)", X_AND_MASK)
    want_x, want_mask = reference_pad_batch(Q3_SEQUENCES)
    x = expect_shape(x, (3, None), "x")
    expect(
        x.shape[1] == 6,
        f"x has {x.shape[1]} columns; pad to the longest sequence of the batch (here 6), no more, "
        "no less.",
    )
    integers = np.issubdtype(x.dtype, np.integer)
    expect(integers, f"x has dtype {x.dtype}; word ids are integers (use dtype=np.int32).")
    expect(
        x.dtype == np.int32, f"x has dtype {x.dtype}; the exercise asks for int32 (dtype=np.int32)."
    )
    expect(
        not np.array_equal(x[1], [0, 0, 0, 0, 5, 2]),
        "x is padded at the start; pad at the end, so that every sentence starts at position 0 "
        "with BOS (and the LSTM's fast cuDNN kernel, which needs right padding, can be used on a "
        "GPU).",
    )
    right_x = np.array_equal(x, want_x)
    kept = all(np.array_equal(x[r, : len(s)], s) for r, s in enumerate(Q3_SEQUENCES))
    expect(
        right_x or not kept,
        f"the padding of x is {x[1, 2:].tolist()}; pad with 0, the id that the Embedding layer's "
        "mask_zero=True treats as padding.",
    )
    expect(
        right_x,
        f"x[1] is {x[1].tolist()}; each row should hold its sequence's ids unchanged, from "
        "position 0, then zeros.",
    )
    mask = expect_shape(mask, (3, 6), "mask")
    boolean = mask.dtype == np.bool_
    expect(boolean, f"mask has dtype {mask.dtype}; make it boolean (for example `x != 0`).")
    expect(
        not np.array_equal(mask, ~want_mask),
        "mask is inverted: it should be True on the real words, False on the padding.",
    )
    expect(
        np.array_equal(mask, want_mask),
        "mask should be True exactly where x holds a word (x != 0).",
    )
    unchanged = all(np.array_equal(a, b) for a, b in zip(sequences, Q3_SEQUENCES, strict=True))
    expect(unchanged, "pad_batch changed the sequences it was given; work on a new array.")
    out = call_learner(pad, [np.array([4, 1, 7])])
    one, _ = returned(out, 2, "pad_batch([one sequence])", X_AND_MASK)
    expect(
        as_numpy(one, "x").shape == (1, 3),
        "pad_batch([one sequence of 3 ids]) should give x of shape (1, 3).",
    )
    return "x is padded with 0 at the end and the mask marks the real words."


# ----------------------------------------------------------------- q4 and q5: the models
def _check_q4(ns: Namespace) -> str | None:
    import keras

    sizes = recurrent.sizes(ns, "VOCAB_SIZE", "EMB_DIM", "UNITS", "N_SLOTS", "N_INTENTS")
    n_slots, n_intents, units = sizes["N_SLOTS"], sizes["N_INTENTS"], sizes["UNITS"]
    model = recurrent.built_model(ns, "build_joint_model")
    recurrent.check_embedding(model, sizes, mask_zero=True)
    x = word_ids(sizes["VOCAB_SIZE"], seed=9)
    set_seeded_weights(model, PADDING_PROBE_SEEDS[0])
    slots, intent = recurrent.joint_outputs(model, x)
    expect(
        slots.shape == (2, 7, n_slots),
        f"the slots output has shape {slots.shape}; expected (batch, time, N_SLOTS) = "
        f"(2, 7, {n_slots}): one distribution per word (return_sequences=True).",
    )
    expect(
        intent.shape == (2, n_intents),
        f"the intent output has shape {intent.shape}; expected (batch, N_INTENTS) = "
        f"(2, {n_intents}): one distribution per sentence.",
    )
    for name, probs in (("slots", slots), ("intent", intent)):
        recurrent.probabilities(
            probs,
            f"the {name} output does not sum to 1: give its Dense layer activation='softmax' "
            "(the losses below expect probabilities)",
        )
    wrappers = layers_of(model, keras.layers.Bidirectional)
    expect(wrappers, "read the sentence both ways: wrap the LSTM in layers.Bidirectional(...).")
    lstm = wrappers[0].forward_layer
    expect(
        isinstance(lstm, keras.layers.LSTM) and lstm.units == units,
        f"the Bidirectional layer should wrap an LSTM(UNITS) = LSTM({units}), not "
        f"{describe(lstm)} of {getattr(lstm, 'units', '?')} units.",
    )
    expect(
        lstm.return_sequences and lstm.return_state,
        "the LSTM needs return_sequences=True (a state per word, for the slots) and "
        "return_state=True (the final states, for the intent).",
    )
    recurrent.check_softmax_dense(model, "slots", n_slots, "N_SLOTS")
    recurrent.check_softmax_dense(model, "intent", n_intents, "N_INTENTS")
    reads = next(la for la in model.layers if la.name == "intent").kernel.shape[0]
    expect(
        reads != 2 * units,
        f"the intent reads {reads} features, the two final states only; add each feature's "
        "maximum over the words, `max_over_words(sequence, inputs)`, to the Concatenate.",
    )
    expect(
        reads == 4 * units,
        f"the intent reads {reads} features; expected 4 x UNITS = {4 * units}: the two final "
        f"states ({units} each) and `max_over_words(sequence, inputs)` ({2 * units}, one per "
        "feature of the sequence).",
    )
    recurrent.check_dropout(
        model, [0.3, 0.3], "put a Dropout(0.3) before each of the two Dense layers."
    )
    for seed in PADDING_PROBE_SEEDS:
        if seed != PADDING_PROBE_SEEDS[0]:  # the first one's outputs are those above
            set_seeded_weights(model, seed)
            slots, intent = recurrent.joint_outputs(model, x)
        slots_long, intent_long = recurrent.joint_outputs(model, padded(x, 3))
        expect(
            close(intent_long, intent, **recurrent.SAME),
            "more padding changes the intent: the intent should come from the LSTM's final "
            "states (return_state=True), which the mask stops at the last real word, and from "
            "`max_over_words(sequence, inputs)`, which leaves the padding out.",
        )
        expect(
            close(slots_long[0, :7], slots[0], **recurrent.SAME)
            and close(slots_long[1, :4], slots[1, :4], **recurrent.SAME),
            "more padding changes the slot predictions of the real words: the mask from the "
            "Embedding must reach the LSTM.",
        )
    return f"two outputs, padding ignored, {recurrent.small_enough(model):,} parameters."


def _check_q5(ns: Namespace) -> str | None:
    import keras

    sizes = recurrent.sizes(ns, "VOCAB_SIZE", "EMB_DIM", "N_INTENTS")
    model = recurrent.built_model(ns, "build_intent_cnn")
    x = word_ids(sizes["VOCAB_SIZE"], seed=10)
    set_seeded_weights(model, PADDING_PROBE_SEEDS[0])
    out = call_model(model, x, recurrent.WORD_IDS)
    expect(
        not isinstance(out, dict),
        "the model returns a dict; this one has a single output: `keras.Model(inputs, intent)`, "
        "with intent the softmax layer's output.",
    )
    intent = expect_shape(out, (2, sizes["N_INTENTS"]), "the output (batch, N_INTENTS)")
    expect_finite(intent, "the output")
    recurrent.probabilities(
        intent, "the output does not sum to 1: give the last Dense layer activation='softmax'"
    )
    expect(
        not layers_of(model, keras.layers.RNN, keras.layers.Bidirectional),
        "this model is a CNN: leave the LSTM out, the convolutions read the words.",
    )
    recurrent.check_embedding(model, sizes, mask_zero=False)
    convs = layers_of(model, keras.layers.Conv1D)
    widths = sorted(c.kernel_size[0] for c in convs)
    expect(
        widths == [1, 2, 3],
        f"the Conv1D widths are {widths}; use one Conv1D for each width in (1, 2, 3): detectors "
        "of single words, of word pairs and of triples.",
    )
    expect(
        all((c.filters, c.padding, activation_name(c)) == (128, "same", "relu") for c in convs),
        "each Conv1D should be Conv1D(128, width, padding='same', activation='relu'): same "
        "padding keeps one position per word, so that `words` can zero the padding.",
    )
    recurrent.check_dropout(model, [0.5], "use one Dropout(0.5) before the last Dense layer.")
    # Seeded random weights, then weights built to expose a leak (recurrent.expose_padding).
    for expose in (False, True):
        if expose:
            recurrent.expose_padding(model)
            intent = model_output(model, x, recurrent.WORD_IDS, "the output")
        alone = model_output(model, x[1:, :4], recurrent.WORD_IDS, "the output")
        longer = model_output(model, padded(x, 5), recurrent.WORD_IDS, "the output")
        expect(
            close(alone[0], intent[1], **recurrent.SAME)
            and close(longer, intent, **recurrent.SAME),
            "the padding changes the intent (a sentence alone and the same sentence padded in a "
            "batch get different probabilities): multiply the embeddings by `words` before the "
            "convolutions, and each convolution's output by `words` before the max.",
        )
    return f"n-gram detectors of widths (1, 2, 3), padding ignored, {recurrent.small_enough(model):,} parameters."


q1 = Exercise(
    "One step of a vanilla RNN",
    _check_q1,
    hints=[
        "The new state mixes the current input and the previous state, then squashes: "
        "tanh(x_t W_xh + h_prev W_hh + b).",
        "With a batch first, x_t has shape (batch, input_dim) and W_xh (input_dim, units), so "
        "`x_t @ W_xh` has shape (batch, units); `h_prev @ W_hh` too. Add b and apply `tf.tanh`.",
    ],
)
q2 = Exercise(
    "One step of an LSTM",
    _check_q2,
    hints=[
        "Compute all four pre-activations at once: `z = x_t @ kernel + h_prev @ recurrent_kernel + "
        "bias`, shape (batch, 4 * units), then split it into four (`tf.split(z, 4, axis=-1)`).",
        "Keras' order is i, f, c, o. The gates are sigmoids, the candidate a tanh: "
        "`c = f * c_prev + i * tanh(z_c)`, `h = o * tanh(c)`.",
    ],
)
q3 = Exercise(
    "Padding and the mask",
    _check_q3,
    hints=[
        "Make an array of zeros with one row per sequence and as many columns as the longest "
        "sequence, then copy each sequence into the start of its row.",
        "The longest length is the largest `len(s)`; an int32 array of zeros, one row per "
        "sequence, takes each sequence at the start of its row (`x[row, :len(s)] = s`). The mask "
        "is where x is not 0.",
    ],
)
q4 = Exercise(
    "The joint slot and intent model",
    _check_q4,
    hints=[
        "Input of word ids, shape (None,) -> Embedding(VOCAB_SIZE, EMB_DIM, mask_zero=True) -> "
        "Bidirectional(LSTM(UNITS, return_sequences=True, return_state=True)). The sequence "
        "feeds the slots, the final states and its maximum over the words the intent.",
        "A bidirectional LSTM with return_state=True returns five tensors: `seq, fwd_h, fwd_c, "
        "bwd_h, bwd_c`. `Dense(N_SLOTS, activation='softmax')` on `seq` gives the slots; "
        "`Concatenate()([fwd_h, bwd_h, max_over_words(seq, inputs)])` then "
        "`Dense(N_INTENTS, activation='softmax')` the intent.",
        "Return `keras.Model(inputs, {'slots': slots, 'intent': intent})`; add SpatialDropout1D "
        "after the Embedding and Dropout before each Dense to fight overfitting.",
    ],
)

q5 = Exercise(
    "An intent CNN",
    _check_q5,
    hints=[
        "Embedding -> SpatialDropout1D -> times `words`; then, for each width, "
        "Conv1D(128, width, padding='same', activation='relu') -> times `words` -> the maximum "
        "over the time axis; Concatenate the three, Dropout, Dense(N_INTENTS, softmax).",
        "`x = layers.SpatialDropout1D(0.25)(layers.Embedding(VOCAB_SIZE, EMB_DIM)(inputs)) * words`; "
        "then for each width: `detectors = layers.Conv1D(128, width, padding='same', "
        "activation='relu')(x)` and `pooled.append(keras.ops.max(detectors * words, axis=1))`.",
    ],
)


# ----------------------------------------------------------------- q6: bucket boundaries (a decision)
MAX_BOUNDARIES = 5
PADDING_BAR = 0.13  # the share of padded positions a design may leave
BUCKET_BATCH_SIZE = 32


def _boundaries(value: Any) -> list[int]:
    expect(
        isinstance(value, list | tuple) and 1 <= len(value) <= MAX_BOUNDARIES,
        f"`BUCKETS` is {describe(value)}; it should be a list of 1 to {MAX_BOUNDARIES} sentence "
        "lengths where a new bucket starts, e.g. [10, 20].",
    )
    expect(
        all(isinstance(b, numbers.Integral) and not isinstance(b, bool) for b in value),
        "the boundaries in `BUCKETS` should be whole numbers (sentence lengths).",
    )
    bounds = [int(b) for b in value]
    expect(
        all(2 <= b <= 100 for b in bounds),
        "the boundaries in `BUCKETS` are sentence lengths: from 2 to 100 words.",
    )
    increasing = all(later > earlier for earlier, later in zip(bounds, bounds[1:], strict=False))
    expect(increasing, f"`BUCKETS` = {bounds}: the boundaries must increase, each larger.")
    return bounds


def _check_q6(ns: Namespace) -> str | None:
    bounds = _boundaries(learner_value(ns, "BUCKETS"))
    split = learner_value(ns, "train")
    try:
        lengths = np.array([len(q) for q in split.queries], dtype=np.int64)
    except Exception:  # noqa: BLE001 - anything but the ATIS training split
        lengths = np.array([], dtype=np.int64)
    expect(
        lengths.size > 0 and lengths.min() >= 1,
        f"`train` is {describe(split)}; it should be ATIS's training split: run the cells of "
        "part 1 again.",
    )
    share = padding_share(lengths, bounds, BUCKET_BATCH_SIZE)
    random_share = padding_share(lengths, [], BUCKET_BATCH_SIZE)
    expect(
        share <= PADDING_BAR,
        f"with these boundaries {share:.1%} of the positions are padding (in batches of "
        f"{BUCKET_BATCH_SIZE}, all training sentences); the bar is {PADDING_BAR:.0%}. Look at the "
        "histogram of the lengths in part 1: put the boundaries where most sentences are.",
    )
    return (
        f"{share:.1%} of the positions are padding with your {len(bounds)} boundaries, "
        f"{random_share:.0%} in random batches."
    )


q6 = Exercise(
    "Your buckets: batches with little padding",
    _check_q6,
    hints=[
        "A batch is padded to its longest sentence: the closer the lengths inside a bucket, "
        "the less padding. Most sentences have 8 to 18 words (part 1).",
        "Put the boundaries close together where the sentences are many, and one or two "
        "farther out for the long tail.",
    ],
)

EXERCISES = (q1, q2, q3, q4, q5, q6)
