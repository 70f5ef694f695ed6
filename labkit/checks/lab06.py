"""Checks for lab 06: recurrent networks (an RNN step, an LSTM step, padding and masking,
a joint slot-filling and intent model on ATIS, an intent CNN)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.exercise import (
    Exercise,
    Incorrect,
    Namespace,
    all_layers,
    as_numpy,
    call_learner,
    expect_close,
    expect_shape,
    learner_value,
)

LAB = "06_rnn_slot_filling"
MAX_PARAMS = 3_000_000


# ----------------------------------------------------------------- references (NumPy, float64)
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def reference_rnn_step(x_t, h_prev, w_xh, w_hh, b) -> np.ndarray:
    """h_t = tanh(x_t W_xh + h_(t-1) W_hh + b), batch first."""
    x_t, h_prev, w_xh, w_hh, b = (np.asarray(a, np.float64) for a in (x_t, h_prev, w_xh, w_hh, b))
    return np.tanh(x_t @ w_xh + h_prev @ w_hh + b)


def _lstm_gates(x_t, h_prev, kernel, recurrent_kernel, bias) -> list[np.ndarray]:
    """The four pre-activations in Keras' order: input, forget, cell candidate, output."""
    x_t, h_prev, kernel, recurrent_kernel, bias = (
        np.asarray(a, np.float64) for a in (x_t, h_prev, kernel, recurrent_kernel, bias)
    )
    return np.split(x_t @ kernel + h_prev @ recurrent_kernel + bias, 4, axis=-1)


def reference_lstm_step(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias):
    """One LSTM step with Keras' weight layout (gates i, f, c, o side by side); returns (h, c)."""
    zi, zf, zc, zo = _lstm_gates(x_t, h_prev, kernel, recurrent_kernel, bias)
    c = _sigmoid(zf) * np.asarray(c_prev, np.float64) + _sigmoid(zi) * np.tanh(zc)
    return _sigmoid(zo) * np.tanh(c), c


def reference_pad_batch(sequences) -> tuple[np.ndarray, np.ndarray]:
    """Zero-padded at the end to the longest sequence, and the mask of the real positions."""
    longest = max(len(s) for s in sequences)
    x = np.zeros((len(sequences), longest), np.int32)
    for row, s in enumerate(sequences):
        x[row, : len(s)] = s
    return x, x != 0


# ----------------------------------------------------------------- q1: one step of a vanilla RNN
def _rnn_inputs(seed: int = 6):
    rng = np.random.default_rng(seed)
    x_t = rng.normal(size=(3, 4)).astype(np.float32)
    h_prev = rng.uniform(-1, 1, size=(3, 5)).astype(np.float32)
    w_xh = rng.normal(scale=0.5, size=(4, 5)).astype(np.float32)
    w_hh = rng.normal(scale=0.5, size=(5, 5)).astype(np.float32)
    b = rng.normal(scale=0.3, size=(5,)).astype(np.float32)
    return x_t, h_prev, w_xh, w_hh, b


def _close(a: np.ndarray, b: np.ndarray, atol: float = 1e-4) -> bool:
    return a.shape == b.shape and np.allclose(a, b, atol=atol)


def _check_q1(ns: Namespace) -> str | None:
    import tensorflow as tf

    step = learner_value(ns, "rnn_step")
    x_t, h_prev, w_xh, w_hh, b = _rnn_inputs()
    args = [tf.constant(a) for a in (x_t, h_prev, w_xh, w_hh, b)]
    out = call_learner(step, *args)
    what = "rnn_step(x_t, h_prev, W_xh, W_hh, b)"
    got = as_numpy(out, what)
    if got.shape == (5, 3):
        raise Incorrect(
            f"{what} has shape (5, 3): that is (units, batch). Keep the batch first: "
            "x_t @ W_xh has shape (batch, units)."
        )
    expect_shape(got, (3, 5), what)
    x64 = [np.asarray(a, np.float64) for a in (x_t, h_prev, w_xh, w_hh, b)]
    pre = x64[0] @ x64[2] + x64[1] @ x64[3] + x64[4]
    if _close(got, pre):
        raise Incorrect(f"{what} returns the pre-activation: apply tanh to it (tf.tanh).")
    for name, wrong in [("a sigmoid", _sigmoid(pre)), ("a ReLU", np.maximum(pre, 0))]:
        if _close(got, wrong):
            raise Incorrect(f"{what} applies {name}; a vanilla RNN uses tanh, which keeps h in (-1, 1).")  # fmt: skip
    mistakes = {
        "the previous state is missing: add h_prev @ W_hh, the recurrence itself.":
            np.tanh(x64[0] @ x64[2] + x64[4]),
        "the input is missing: add x_t @ W_xh.": np.tanh(x64[1] @ x64[3] + x64[4]),
        "the bias b is missing.": np.tanh(x64[0] @ x64[2] + x64[1] @ x64[3]),
        "W_hh is transposed: use h_prev @ W_hh (rows of W_hh are indexed by the previous state).":
            np.tanh(x64[0] @ x64[2] + x64[1] @ x64[3].T + x64[4]),
    }  # fmt: skip
    for message, wrong in mistakes.items():
        if _close(got, wrong):
            raise Incorrect(f"{what}: {message}")
    expect_close(got, reference_rnn_step(*x64), what, rtol=1e-4, atol=1e-5)
    return "h_t = tanh(x_t W_xh + h_(t-1) W_hh + b): the same weights are used at every step."


# ----------------------------------------------------------------- q2: one step of an LSTM
def _lstm_inputs(seed: int = 7, units: int = 3):
    rng = np.random.default_rng(seed)
    x_t = rng.normal(size=(2, 4)).astype(np.float32)
    h_prev = rng.uniform(-0.9, 0.9, size=(2, units)).astype(np.float32)
    c_prev = rng.normal(size=(2, units)).astype(np.float32)
    kernel = rng.normal(scale=0.6, size=(4, 4 * units)).astype(np.float32)
    recurrent = rng.normal(scale=0.6, size=(units, 4 * units)).astype(np.float32)
    bias = rng.normal(scale=0.5, size=(4 * units,)).astype(np.float32)
    return x_t, h_prev, c_prev, kernel, recurrent, bias


def _lstm_mistakes(x_t, h_prev, c_prev, kernel, recurrent, bias) -> dict[str, tuple]:
    """(h, c) of the usual mistakes, each with the message that explains it."""
    zi, zf, zc, zo = _lstm_gates(x_t, h_prev, kernel, recurrent, bias)
    c_prev = np.asarray(c_prev, np.float64)
    i, f, g, o = _sigmoid(zi), _sigmoid(zf), np.tanh(zc), _sigmoid(zo)
    c = f * c_prev + i * g
    c_swapped = _sigmoid(zo) * c_prev + _sigmoid(zi) * np.tanh(zf)
    c_ifoc = f * c_prev + i * np.tanh(zo)  # the order i, f, o, c
    c_sig = f * c_prev + i * _sigmoid(zc)
    c_if = i * c_prev + f * g
    return {
        "the gates are in the wrong order: Keras stores them as input, forget, cell candidate, "
        "output (i, f, c, o), each `units` columns wide.": (_sigmoid(zc) * np.tanh(c_ifoc), c_ifoc),
        "the gates are in the wrong order (Keras: i, f, c, o).": (_sigmoid(zf) * np.tanh(c_swapped), c_swapped),
        "h_t = o_t * c_t is missing the tanh: h_t = o_t * tanh(c_t).": (o * c, c),
        "the cell candidate g_t uses tanh, not a sigmoid: gates are sigmoids (0 to 1), the "
        "candidate is a value (-1 to 1).": (o * np.tanh(c_sig), c_sig),
        "the input and forget gates are swapped: c_t = f_t * c_(t-1) + i_t * g_t.": (o * np.tanh(c_if), c_if),
        "the new cell state forgets nothing: multiply c_(t-1) by the forget gate f_t.":
            (o * np.tanh(c_prev + i * g), c_prev + i * g),
    }  # fmt: skip


def _check_q2(ns: Namespace) -> str | None:
    import tensorflow as tf

    step = learner_value(ns, "lstm_step")
    inputs = _lstm_inputs()
    out = call_learner(step, *[tf.constant(a) for a in inputs])
    what = "lstm_step(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias)"
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Incorrect(f"{what} should return two tensors, `(h, c)`: the new hidden state and the new cell state.")  # fmt: skip
    h = expect_shape(out[0], (2, 3), "h (the first value returned)")
    c = expect_shape(out[1], (2, 3), "c (the second value returned)")
    want_h, want_c = reference_lstm_step(*inputs)
    if _close(h, want_c) and _close(c, want_h):
        raise Incorrect("h and c are swapped: return `(h, c)`, the hidden state first.")
    for message, (wrong_h, wrong_c) in _lstm_mistakes(*inputs).items():
        if _close(h, wrong_h) and _close(c, wrong_c):
            raise Incorrect(message)
    expect_close(c, want_c, "c (the new cell state)", rtol=1e-4, atol=1e-5)
    expect_close(h, want_h, "h (the new hidden state)", rtol=1e-4, atol=1e-5)
    # The same step must reproduce keras.layers.LSTM over a whole sequence, with its weights.
    import keras

    rng = np.random.default_rng(8)
    xs = rng.normal(size=(2, 5, 4)).astype(np.float32)
    lstm = keras.layers.LSTM(6, return_sequences=True, return_state=True)
    sequence, _, keras_c = lstm(xs)
    kernel, recurrent, bias = (w.numpy() for w in lstm.weights)
    h = c = tf.zeros((2, 6))
    for t in range(xs.shape[1]):
        h, c = call_learner(step, tf.constant(xs[:, t]), h, c, kernel, recurrent, bias)
        expect_close(h, sequence[:, t], f"h after step {t + 1}, against keras.layers.LSTM",
                     rtol=1e-4, atol=1e-5)  # fmt: skip
    expect_close(c, keras_c, "the final c, against keras.layers.LSTM", rtol=1e-4, atol=1e-5)
    return "your step reproduces keras.layers.LSTM exactly, with Keras' own weights."


# ----------------------------------------------------------------- q3: padding and the mask
Q3_SEQUENCES = [np.array([3, 7, 9, 4]), np.array([5, 2]), np.array([8, 6, 1, 2, 9, 3])]


def _check_q3(ns: Namespace) -> str | None:
    pad = learner_value(ns, "pad_batch")
    sequences = [s.copy() for s in Q3_SEQUENCES]
    out = call_learner(pad, sequences)
    what = "pad_batch(sequences)"
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Incorrect(f"{what} should return two arrays, `(x, mask)`.")
    want_x, want_mask = reference_pad_batch(Q3_SEQUENCES)
    x = expect_shape(out[0], (3, None), "x")
    if x.shape[1] != 6:
        raise Incorrect(
            f"x has {x.shape[1]} columns; pad to the longest sequence of the batch (here 6), "
            "no more, no less."
        )
    if not np.issubdtype(x.dtype, np.integer):
        raise Incorrect(f"x has dtype {x.dtype}; word ids are integers (use dtype=np.int32).")
    if np.array_equal(x[1], [0, 0, 0, 0, 5, 2]):
        raise Incorrect(
            "x is padded at the start; pad at the end, so that every sentence starts at "
            "position 0 with BOS (and the LSTM's fast cuDNN kernel, which needs right padding, "
            "can be used on a GPU)."
        )
    if not np.array_equal(x, want_x):
        if all(np.array_equal(x[r, : len(s)], s) for r, s in enumerate(Q3_SEQUENCES)):
            raise Incorrect(
                f"the padding of x is {x[1, 2:].tolist()}; pad with 0, the id that the "
                "Embedding layer's mask_zero=True treats as padding."
            )
        raise Incorrect(
            f"x[1] is {x[1].tolist()}; each row should hold its sequence's ids unchanged, from "
            "position 0, then zeros."
        )
    mask = expect_shape(out[1], (3, 6), "mask")
    if mask.dtype != np.bool_:
        raise Incorrect(f"mask has dtype {mask.dtype}; make it boolean (for example `x != 0`).")
    if np.array_equal(mask, ~want_mask):
        raise Incorrect("mask is inverted: it should be True on the real words, False on the padding.")  # fmt: skip
    if not np.array_equal(mask, want_mask):
        raise Incorrect("mask should be True exactly where x holds a word (x != 0).")
    if any(not np.array_equal(a, b) for a, b in zip(sequences, Q3_SEQUENCES, strict=True)):
        raise Incorrect("pad_batch changed the sequences it was given; work on a new array.")
    one = call_learner(pad, [np.array([4, 1, 7])])
    if not isinstance(one, (tuple, list)) or as_numpy(one[0], "x").shape != (1, 3):
        raise Incorrect("pad_batch([one sequence of 3 ids]) should give x of shape (1, 3).")
    return "x is padded with 0 at the end and the mask marks the real words."


# ----------------------------------------------------------------- q4: the joint model
def _built_model(ns: Namespace, builder: str, seed: int) -> tuple[Any, np.ndarray]:
    """The model the learner's `builder()` returns, and a batch of two sentences to feed it:
    7 random word ids, and 4 words followed by 3 padding positions."""
    import keras

    model = call_learner(learner_value(ns, builder))
    if not isinstance(model, keras.Model):
        raise Incorrect(f"{builder}() should return a keras Model, not a {type(model).__name__}.")
    vocab = int(learner_value(ns, "VOCAB_SIZE"))
    x = np.random.default_rng(seed).integers(1, vocab, size=(2, 7)).astype(np.int32)
    x[1, 4:] = 0
    return model, x


def _small_enough(model: Any) -> int:
    """The number of parameters, when few enough to train on a CPU in minutes."""
    params = model.count_params()
    if params > MAX_PARAMS:
        raise Incorrect(f"the model has {params:,} parameters: too many to train on a CPU in minutes.")  # fmt: skip
    return params


def _outputs(out: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(out, (list, tuple)):
        raise Incorrect(
            f"{what} returns a {type(out).__name__}; return a dict, "
            '`keras.Model(inputs, {"slots": slot_probs, "intent": intent_probs})`, so that the '
            "losses can be given by name."
        )
    if not isinstance(out, dict) or set(out) != {"slots", "intent"}:
        keys = sorted(out) if isinstance(out, dict) else type(out).__name__
        raise Incorrect(f'{what} should return a dict with the keys "slots" and "intent", not {keys}.')  # fmt: skip
    return as_numpy(out["slots"], "slots"), as_numpy(out["intent"], "intent")


def _check_q4(ns: Namespace) -> str | None:
    import keras

    n_slots, n_intents = (int(learner_value(ns, name)) for name in ("N_SLOTS", "N_INTENTS"))
    model, x = _built_model(ns, "build_joint_model", seed=9)
    slots, intent = _outputs(call_learner(model, x, training=False), "the model")
    if slots.shape != (2, 7, n_slots):
        raise Incorrect(
            f"the slots output has shape {slots.shape}; expected (batch, time, N_SLOTS) = "
            f"(2, 7, {n_slots}): one distribution per word (return_sequences=True)."
        )
    if intent.shape != (2, n_intents):
        raise Incorrect(
            f"the intent output has shape {intent.shape}; expected (batch, N_INTENTS) = "
            f"(2, {n_intents}): one distribution per sentence."
        )
    for name, probs in (("slots", slots), ("intent", intent)):
        if (probs < 0).any() or not np.allclose(probs.sum(-1), 1.0, atol=1e-3):
            raise Incorrect(
                f"the {name} output does not sum to 1: give its Dense layer activation='softmax' "
                "(the losses below expect probabilities)."
            )
    everything = all_layers(model)
    embeddings = [la for la in everything if isinstance(la, keras.layers.Embedding)]
    if not embeddings:
        raise Incorrect("the model has no Embedding layer: the words come in as ids.")
    if not any(la.mask_zero for la in embeddings):
        raise Incorrect(
            "the Embedding does not mask the padding: use layers.Embedding(..., mask_zero=True)."
        )
    if not any(isinstance(la, keras.layers.Bidirectional) for la in everything):
        raise Incorrect("read the sentence both ways: wrap the LSTM in layers.Bidirectional(...).")
    longer = np.concatenate([x, np.zeros((2, 3), np.int32)], axis=1)
    slots_long, intent_long = _outputs(model(longer, training=False), "the model")
    if not np.allclose(intent_long, intent, atol=1e-4):
        raise Incorrect(
            "more padding changes the intent: the intent should come from the LSTM's final "
            "states (return_state=True), which the mask stops at the last real word."
        )
    if not np.allclose(slots_long[0, :7], slots[0], atol=1e-4) or not np.allclose(
        slots_long[1, :4], slots[1, :4], atol=1e-4
    ):
        raise Incorrect(
            "more padding changes the slot predictions of the real words: the mask from the "
            "Embedding must reach the LSTM."
        )
    return f"two outputs, padding ignored, {_small_enough(model):,} parameters."


# ----------------------------------------------------------------- q5: an intent CNN
def _expose_padding(model: Any) -> None:
    """Weights under which a padding leak must move the pooled features, whatever the random
    initialisation would have done: every word embeds to ones, every convolution subtracts
    half its input sum from a bias of 1. An empty (padded) position then scores 1, above any
    real word, so an unmasked max sees it; and a window that reaches past the last word scores
    higher over zeros than over a padding id's embedding, so unmasked embeddings show too."""
    import keras

    for layer in all_layers(model):
        if isinstance(layer, keras.layers.Embedding):
            layer.embeddings.assign(np.ones(tuple(layer.embeddings.shape), "float32"))
        elif isinstance(layer, keras.layers.Conv1D):
            width, channels, _ = layer.kernel.shape
            layer.kernel.assign(
                np.full(tuple(layer.kernel.shape), -0.5 / (width * channels), "float32")
            )
            if layer.use_bias:
                layer.bias.assign(np.ones(tuple(layer.bias.shape), "float32"))


def _check_q5(ns: Namespace) -> str | None:
    import keras

    n_intents = int(learner_value(ns, "N_INTENTS"))
    model, x = _built_model(ns, "build_intent_cnn", seed=10)
    _expose_padding(model)
    out = call_learner(model, x, training=False)
    if isinstance(out, dict):
        raise Incorrect(
            "the model returns a dict; this one has a single output: "
            "`keras.Model(inputs, intent)`, with intent the softmax layer's output."
        )
    intent = expect_shape(out, (2, n_intents), "the output (batch, N_INTENTS)")
    if (intent < 0).any() or not np.allclose(intent.sum(-1), 1.0, atol=1e-3):
        raise Incorrect(
            "the output does not sum to 1: give the last Dense layer activation='softmax'."
        )
    everything = all_layers(model)
    if any(isinstance(la, keras.layers.RNN | keras.layers.Bidirectional) for la in everything):
        raise Incorrect("this model is a CNN: leave the LSTM out, the convolutions read the words.")
    widths = sorted(la.kernel_size[0] for la in everything if isinstance(la, keras.layers.Conv1D))
    if not {1, 2, 3} <= set(widths):
        raise Incorrect(
            f"the Conv1D widths are {widths}; use one Conv1D for each width in (1, 2, 3): "
            "detectors of single words, of word pairs and of triples."
        )
    alone = as_numpy(call_learner(model, x[1:, :4], training=False), "the output")
    longer = np.concatenate([x, np.zeros((2, 5), np.int32)], axis=1)
    padded = as_numpy(call_learner(model, longer, training=False), "the output")
    if not (np.allclose(alone[0], intent[1], atol=1e-4) and np.allclose(padded, intent, atol=1e-4)):
        raise Incorrect(
            "the padding changes the intent (a sentence alone and the same sentence padded in a "
            "batch get different probabilities): multiply the embeddings by `words` before the "
            "convolutions, and each convolution's output by `words` before the max."
        )
    params = _small_enough(model)
    return (
        f"n-gram detectors of widths {sorted(set(widths))}, padding ignored, {params:,} parameters."
    )


q1 = Exercise(
    LAB, "q1", "One step of a vanilla RNN", _check_q1,
    hints=[
        "The new state mixes the current input and the previous state, then squashes: "
        "tanh(x_t W_xh + h_prev W_hh + b).",
        "With a batch first, x_t has shape (batch, input_dim) and W_xh (input_dim, units), so "
        "`x_t @ W_xh` has shape (batch, units); `h_prev @ W_hh` too. Add b and apply `tf.tanh`.",
        "`return tf.tanh(x_t @ W_xh + h_prev @ W_hh + b)`",
    ],
)  # fmt: skip
q2 = Exercise(
    LAB, "q2", "One step of an LSTM", _check_q2,
    hints=[
        "Compute all four pre-activations at once: `z = x_t @ kernel + h_prev @ recurrent_kernel + "
        "bias`, shape (batch, 4 * units), then split it into four (`tf.split(z, 4, axis=-1)`).",
        "Keras' order is i, f, c, o. The gates are sigmoids, the candidate a tanh: "
        "`c = f * c_prev + i * tanh(z_c)`, `h = o * tanh(c)`.",
        "`zi, zf, zc, zo = tf.split(z, 4, axis=-1)`; `i, f, o = tf.sigmoid(zi), tf.sigmoid(zf), "
        "tf.sigmoid(zo)`; `c = f * c_prev + i * tf.tanh(zc)`; `h = o * tf.tanh(c)`; `return h, c`.",
    ],
)  # fmt: skip
q3 = Exercise(
    LAB, "q3", "Padding and the mask", _check_q3,
    hints=[
        "Make an array of zeros with one row per sequence and as many columns as the longest "
        "sequence, then copy each sequence into the start of its row.",
        "`longest = max(len(s) for s in sequences)`, `x = np.zeros((len(sequences), longest), "
        "dtype=np.int32)`, and `x[row, :len(s)] = s` for each sequence. The mask is `x != 0`.",
        "Or with Keras: `x = keras.utils.pad_sequences(sequences, padding='post', value=0)` "
        "(post: at the end), then `return x, x != 0`.",
    ],
)  # fmt: skip
q4 = Exercise(
    LAB, "q4", "The joint slot and intent model", _check_q4,
    hints=[
        "Input of word ids, shape (None,) -> Embedding(VOCAB_SIZE, EMB_DIM, mask_zero=True) -> "
        "Bidirectional(LSTM(UNITS, return_sequences=True, return_state=True)). The sequence "
        "feeds the slots, the final states the intent.",
        "A bidirectional LSTM with return_state=True returns five tensors: `seq, fwd_h, fwd_c, "
        "bwd_h, bwd_c`. `Dense(N_SLOTS, activation='softmax')` on `seq` gives the slots; "
        "`Concatenate()([fwd_h, bwd_h])` then `Dense(N_INTENTS, activation='softmax')` the intent.",
        "Return `keras.Model(inputs, {'slots': slots, 'intent': intent})`; add SpatialDropout1D "
        "after the Embedding and Dropout before each Dense to fight overfitting.",
    ],
)  # fmt: skip

q5 = Exercise(
    LAB, "q5", "An intent CNN", _check_q5,
    hints=[
        "Embedding -> SpatialDropout1D -> times `words`; then, for each width, "
        "Conv1D(128, width, padding='same', activation='relu') -> times `words` -> the maximum "
        "over the time axis; Concatenate the three, Dropout, Dense(N_INTENTS, softmax).",
        "`x = layers.SpatialDropout1D(0.25)(layers.Embedding(VOCAB_SIZE, EMB_DIM)(inputs)) * words`; "
        "then for each width: `detectors = layers.Conv1D(128, width, padding='same', "
        "activation='relu')(x)` and `pooled.append(keras.ops.max(detectors * words, axis=1))`.",
        "`sentence = layers.Dropout(0.5)(layers.Concatenate()(pooled))`, then `intent = "
        "layers.Dense(N_INTENTS, activation='softmax')(sentence)` and `return "
        "keras.Model(inputs, intent)`.",
    ],
)  # fmt: skip

EXERCISES = (q1, q2, q3, q4, q5)
