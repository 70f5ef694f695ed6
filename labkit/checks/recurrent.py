"""Recurrent networks and padding, for the checks of labs 06 and 10: the reference maths (an
RNN step, LSTM and GRU steps with Keras' weight layouts, padding and its mask, the padding share
of bucketed batches), the probes' inputs, the LSTM and GRU steps' classic mistakes, and what the
two ATIS models of lab 06 are checked with (their input, outputs, Embedding, Dropout rates,
named softmax layers)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import Mistake, close, expect, expect_finite
from labkit.checks.learner_code import call_learner, call_model
from labkit.checks.models import (
    activation_name,
    input_shape,
    layers_of,
    learner_model,
    set_seeded_weights,
)
from labkit.checks.reference import sigmoid
from labkit.checks.values import Namespace, as_numpy, describe, learner_function, learner_int

MAX_PARAMS = 3_000_000  # a model the learner can train on a CPU in minutes


# ----------------------------------------------------------------- references (NumPy, float64)
def _f64(*arrays: Any) -> list[np.ndarray]:
    return [np.asarray(a, np.float64) for a in arrays]


def reference_rnn_step(x_t, h_prev, w_xh, w_hh, b) -> np.ndarray:
    """h_t = tanh(x_t W_xh + h_(t-1) W_hh + b), batch first."""
    x_t, h_prev, w_xh, w_hh, b = _f64(x_t, h_prev, w_xh, w_hh, b)
    return np.tanh(x_t @ w_xh + h_prev @ w_hh + b)


def lstm_gates(x_t, h_prev, kernel, recurrent_kernel, bias) -> list[np.ndarray]:
    """The four pre-activations in Keras' order: input, forget, cell candidate, output."""
    x_t, h_prev, kernel, recurrent_kernel, bias = _f64(x_t, h_prev, kernel, recurrent_kernel, bias)
    return np.split(x_t @ kernel + h_prev @ recurrent_kernel + bias, 4, axis=-1)


def reference_lstm_step(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias):
    """One LSTM step with Keras' weight layout (gates i, f, c, o side by side); returns (h, c)."""
    zi, zf, zc, zo = lstm_gates(x_t, h_prev, kernel, recurrent_kernel, bias)
    c = sigmoid(zf) * np.asarray(c_prev, np.float64) + sigmoid(zi) * np.tanh(zc)
    return sigmoid(zo) * np.tanh(c), c


def gru_parts(x_t, h_prev, kernel, recurrent_kernel, bias) -> list[np.ndarray]:
    """Keras' GRU (reset_after=True): the input's and the state's sides of the update gate,
    the reset gate and the candidate, each with its bias row: (x_z, x_r, x_h, h_z, h_r, h_h)."""
    x_t, h_prev, kernel, recurrent_kernel, bias = _f64(x_t, h_prev, kernel, recurrent_kernel, bias)
    return [
        *np.split(x_t @ kernel + bias[0], 3, axis=-1),
        *np.split(h_prev @ recurrent_kernel + bias[1], 3, axis=-1),
    ]


def reference_gru_step(x_t, h_prev, kernel, recurrent_kernel, bias) -> np.ndarray:
    """One GRU step with Keras' weight layout (gates z, r, h; bias rows: input, state)."""
    x_z, x_r, x_h, h_z, h_r, h_h = gru_parts(x_t, h_prev, kernel, recurrent_kernel, bias)
    z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
    return z * np.asarray(h_prev, np.float64) + (1 - z) * np.tanh(x_h + r * h_h)


def reference_pad_batch(sequences) -> tuple[np.ndarray, np.ndarray]:
    """Zero-padded at the end to the longest sequence, and the mask of the real positions."""
    longest = max(len(s) for s in sequences)
    x = np.zeros((len(sequences), longest), np.int32)
    for row, s in enumerate(sequences):
        x[row, : len(s)] = s
    return x, x != 0


def padding_share(lengths: np.ndarray, boundaries: Any, batch_size: int, seed: int = 0) -> float:
    """The share of padded positions when sentences of these lengths are put into buckets by
    ``boundaries`` (as ``bucket_by_sequence_length`` does: bucket k holds the lengths from
    boundary k-1 up to, not including, boundary k), shuffled once within each bucket, and
    batched by ``batch_size``, each batch padded to its longest sentence."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    bucket = np.searchsorted(np.asarray(boundaries, dtype=np.int64), lengths, side="right")
    real = padded = 0
    for k in np.unique(bucket):
        shuffled = rng.permutation(lengths[bucket == k])
        for start in range(0, len(shuffled), batch_size):
            batch = shuffled[start : start + batch_size]
            real += int(batch.sum())
            padded += len(batch) * int(batch.max())
    return 1 - real / padded


# ----------------------------------------------------------------- the probes' inputs
def rnn_inputs(seed: int = 6) -> tuple[np.ndarray, ...]:
    """x_t (3, 4), h_prev (3, 5), W_xh, W_hh, b: float32."""
    rng = np.random.default_rng(seed)
    x_t = rng.normal(size=(3, 4))
    h_prev = rng.uniform(-1, 1, size=(3, 5))
    w_xh, w_hh = rng.normal(scale=0.5, size=(4, 5)), rng.normal(scale=0.5, size=(5, 5))
    b = rng.normal(scale=0.3, size=(5,))
    return tuple(a.astype(np.float32) for a in (x_t, h_prev, w_xh, w_hh, b))


def gate_inputs(gates: int, seed: int, cell: bool = False, bias_rows: tuple = ()) -> tuple:
    """An LSTM's (4 gates, a ``cell`` state) or a GRU's (3 gates, 2 bias rows) step probe, float32:
    x_t (2, 4), h_prev (2, 3) (and c_prev), kernel (4, gates * 3), recurrent kernel (3, gates * 3),
    bias (*bias_rows, gates * 3)."""
    rng = np.random.default_rng(seed)
    x_t = rng.normal(size=(2, 4))
    h_prev = rng.uniform(-0.9, 0.9, size=(2, 3))
    c_prev = [rng.normal(size=(2, 3))] if cell else []
    kernel = rng.normal(scale=0.6, size=(4, gates * 3))
    recurrent = rng.normal(scale=0.6, size=(3, gates * 3))
    bias = rng.normal(scale=0.5, size=(*bias_rows, gates * 3))
    return tuple(a.astype(np.float32) for a in (x_t, h_prev, *c_prev, kernel, recurrent, bias))


def word_ids(vocab: int, seed: int) -> np.ndarray:
    """Two sentences: 7 random word ids, and 4 words followed by 3 padding positions."""
    x = np.random.default_rng(seed).integers(1, vocab, size=(2, 7)).astype(np.int32)
    x[1, 4:] = 0
    return x


def padded(x: np.ndarray, more: int) -> np.ndarray:
    """``x`` with ``more`` padding positions at the end of every sentence."""
    return np.concatenate([x, np.zeros((len(x), more), np.int32)], axis=1)


# ----------------------------------------------------------------- the classic mistakes
def rnn_mistakes(x_t, h_prev, w_xh, w_hh, b) -> list[Mistake]:
    """The usual mistakes of an RNN step, with the h_t each computes."""
    x, h, w_xh, w_hh, b = _f64(x_t, h_prev, w_xh, w_hh, b)
    pre = x @ w_xh + h @ w_hh + b
    not_tanh = "a vanilla RNN uses tanh, which keeps h in (-1, 1)."
    return [
        Mistake("it returns the pre-activation: apply tanh to it (tf.tanh).", pre),
        Mistake(f"it applies a sigmoid; {not_tanh}", sigmoid(pre)),
        Mistake(f"it applies a ReLU; {not_tanh}", np.maximum(pre, 0)),
        Mistake(
            "the previous state is missing: add h_prev @ W_hh, the recurrence itself.",
            np.tanh(x @ w_xh + b),
        ),
        Mistake("the input is missing: add x_t @ W_xh.", np.tanh(h @ w_hh + b)),
        Mistake("the bias b is missing.", np.tanh(x @ w_xh + h @ w_hh)),
        Mistake(
            "W_hh is transposed: use h_prev @ W_hh (rows of W_hh are indexed by the previous "
            "state).",
            np.tanh(x @ w_xh + h @ w_hh.T + b),
        ),
    ]


def lstm_mistakes(x_t, h_prev, c_prev, kernel, recurrent, bias) -> list[Mistake]:
    """The usual mistakes, with the (h, c) each computes."""
    zi, zf, zc, zo = lstm_gates(x_t, h_prev, kernel, recurrent, bias)
    c_prev = np.asarray(c_prev, np.float64)
    i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zc), sigmoid(zo)
    c = f * c_prev + i * g
    c_swapped = sigmoid(zo) * c_prev + sigmoid(zi) * np.tanh(zf)
    c_ifoc = f * c_prev + i * np.tanh(zo)  # the order i, f, o, c
    c_sig = f * c_prev + i * sigmoid(zc)
    c_if = i * c_prev + f * g
    want_h, want_c = o * np.tanh(c), c
    order = "the gates are in the wrong order"
    return [
        Mistake("h and c are swapped: return `(h, c)`, the hidden state first.", (want_c, want_h)),
        Mistake(
            f"{order}: Keras stores them as input, forget, cell candidate, output (i, f, c, o), "
            "each `units` columns wide.",
            (sigmoid(zc) * np.tanh(c_ifoc), c_ifoc),
        ),
        Mistake(f"{order} (Keras: i, f, c, o).", (sigmoid(zf) * np.tanh(c_swapped), c_swapped)),
        Mistake("h_t = o_t * c_t is missing the tanh: h_t = o_t * tanh(c_t).", (o * c, c)),
        Mistake(
            "the cell candidate g_t uses tanh, not a sigmoid: gates are sigmoids (0 to 1), the "
            "candidate is a value (-1 to 1).",
            (o * np.tanh(c_sig), c_sig),
        ),
        Mistake(
            "the input and forget gates are swapped: c_t = f_t * c_(t-1) + i_t * g_t.",
            (o * np.tanh(c_if), c_if),
        ),
        Mistake(
            "the new cell state forgets nothing: multiply c_(t-1) by the forget gate f_t.",
            (o * np.tanh(c_prev + i * g), c_prev + i * g),
        ),
    ]


def gru_mistakes(x_t, h_prev, kernel, recurrent, bias) -> list[Mistake]:
    """The usual mistakes of a GRU step, with the h_t each computes."""
    x_z, x_r, x_h, h_z, h_r, h_h = gru_parts(x_t, h_prev, kernel, recurrent, bias)
    x, h = _f64(x_t, h_prev)
    w_h, u_h = (
        np.split(np.asarray(kernel, np.float64), 3, axis=-1)[2],
        np.split(np.asarray(recurrent, np.float64), 3, axis=-1)[2],
    )
    b = np.asarray(bias, np.float64)
    z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
    candidate = np.tanh(x_h + r * h_h)
    z_swapped, r_swapped = sigmoid(x_r + h_r), sigmoid(x_z + h_z)  # the order r, z, h
    before = np.tanh(x @ w_h + b[0, 2 * h.shape[1] :] + (r * h) @ u_h + b[1, 2 * h.shape[1] :])
    return [
        Mistake(
            "z and 1 - z are swapped: h_t = z * h_prev + (1 - z) * candidate (Keras' z keeps the "
            "old state).",
            (1 - z) * h + z * candidate,
        ),
        Mistake(
            "the gates are in the wrong order: Keras stores the update gate z, the reset gate r "
            "and the candidate, in that order, each `units` columns wide.",
            z_swapped * h + (1 - z_swapped) * np.tanh(x_h + r_swapped * h_h),
        ),
        Mistake(
            "the reset gate is applied before the recurrent kernel (reset_after=False); Keras' "
            "default multiplies r with h_prev @ U_h + its bias: tanh(x_h + r * h_h).",
            z * h + (1 - z) * before,
        ),
        Mistake(
            "the reset gate is missing: the candidate is tanh(x_h + r * h_h).",
            z * h + (1 - z) * np.tanh(x_h + h_h),
        ),
        Mistake(
            "the candidate uses a sigmoid; it is a value from -1 to 1: tanh.",
            z * h + (1 - z) * sigmoid(x_h + r * h_h),
        ),
        Mistake("it returns the candidate: mix it with h_prev through z.", candidate),
    ]


# The Keras layer a learner's step is run against: units, the sequence's shape, the seed.
KERAS_RUNS = {"LSTM": (6, (2, 5, 4), 8), "GRU": (5, (2, 4, 3), 12)}


def keras_run(kind: str, step: Any, judge: Any, pair: Any = None) -> Any:
    """The learner's ``step`` against keras.layers.LSTM or GRU (``kind``) with seeded weights,
    over a sequence: ``judge(h, keras_h, what)`` after each step. With ``pair`` (the LSTM),
    ``step`` takes and ``pair(out)`` reads (h, c); the result is then (the learner's final c,
    Keras' final c)."""
    import keras
    import tensorflow as tf

    units, shape, seed = KERAS_RUNS[kind]
    xs = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    layer = getattr(keras.layers, kind)(units, return_sequences=True, return_state=pair is not None)
    layer.build(xs.shape)
    set_seeded_weights(layer, seed=seed)
    out = layer(xs)
    sequence = out[0] if pair else out
    kernel, recurrent, bias = (w.numpy() for w in layer.weights)
    h = c = tf.zeros((shape[0], units))
    for t in range(shape[1]):
        state = (h, c) if pair else (h,)
        got = call_learner(step, tf.constant(xs[:, t]), *state, kernel, recurrent, bias)
        h, c = pair(got) if pair else (got, c)
        judge(h, sequence[:, t], f"h after step {t + 1}, against keras.layers.{kind}")
    return (c, out[2]) if pair else None


def expose_padding(model: Any) -> None:
    """Weights under which a padding leak must move the pooled features, whatever the random
    initialisation would have done: every word embeds to ones, every convolution subtracts
    half its input sum from a bias of 1. An empty (padded) position then scores 1, above any
    real word, so an unmasked max sees it; and a window that reaches past the last word scores
    higher over zeros than over a padding id's embedding, so unmasked embeddings show too."""
    import keras

    for layer in layers_of(model, keras.layers.Embedding):
        layer.embeddings.assign(np.ones(tuple(layer.embeddings.shape), "float32"))
    for layer in layers_of(model, keras.layers.Conv1D):
        width, channels, _ = layer.kernel.shape
        layer.kernel.assign(
            np.full(tuple(layer.kernel.shape), -0.5 / (width * channels), "float32")
        )
        if layer.use_bias:
            layer.bias.assign(np.ones(tuple(layer.bias.shape), "float32"))


# ----------------------------------------------------------------- the ATIS models
# A model's answer with more padding: the same, within float32 arithmetic done in another order.
SAME = {"rtol": 1e-5, "atol": 1e-4}
WORD_IDS = "calling the model on a batch of word ids"


def sizes(ns: Namespace, *names: str) -> dict[str, int]:
    """The notebook's sizes, checked before a model is built with them."""
    return {name: learner_int(ns, name, minimum=2) for name in names}


def built_model(ns: Namespace, builder: str) -> Any:
    """The model the learner's ``builder()`` returns, whose input takes word ids of any length."""
    model = learner_model(call_learner(learner_function(ns, builder)), f"{builder}()")
    shape = input_shape(model, "the model")
    dtype = str(getattr(model.inputs[0], "dtype", ""))
    expect(
        len(shape) == 2 and shape[1] is None and "int" in dtype,
        f"the model's input has shape {shape} and dtype {dtype}; sentences are word ids of any "
        "length: keras.Input(shape=(None,), dtype='int32').",
    )
    return model


def small_enough(model: Any) -> int:
    """The number of parameters, when few enough to train on a CPU in minutes."""
    params = model.count_params()
    expect(
        params <= MAX_PARAMS,
        f"the model has {params:,} parameters: too many to train on a CPU in minutes.",
    )
    return params


def probabilities(probs: np.ndarray, advice: str) -> None:
    """Incorrect, saying ``advice``, unless each distribution along the last axis is
    non-negative and sums to 1."""
    ones = np.ones(probs.shape[:-1])
    sums_to_one = (probs >= 0).all() and close(probs.sum(-1), ones, rtol=1e-5, atol=1e-3)
    expect(sums_to_one, f"{advice}.")


def joint_outputs(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The joint model's (slots, intent) on ``x``: a dict of those two, finite numbers."""
    out = call_model(model, x, WORD_IDS)
    expect(
        not isinstance(out, list | tuple),
        f"the model returns a {type(out).__name__}; return a dict, "
        '`keras.Model(inputs, {"slots": slot_probs, "intent": intent_probs})`, so that the '
        "losses can be given by name.",
    )
    keys = sorted(map(str, out)) if isinstance(out, dict) else describe(out)
    expect(
        isinstance(out, dict) and set(out) == {"slots", "intent"},
        f'the model should return a dict with the keys "slots" and "intent", not {keys}.',
    )
    return tuple(  # type: ignore[return-value]
        expect_finite(as_numpy(out[k], f"the {k} output"), f"the {k} output")
        for k in ("slots", "intent")
    )


def check_embedding(model: Any, sizes: dict[str, int], mask_zero: bool) -> None:
    """One Embedding(VOCAB_SIZE, EMB_DIM), masking the padding or not, then SpatialDropout1D(0.25)."""
    import keras

    embeddings = layers_of(model, keras.layers.Embedding)
    expect(
        len(embeddings) == 1,
        f"the model has {len(embeddings)} Embedding layers; it needs one: the words come in "
        "as ids.",
    )
    layer, vocab, dim = embeddings[0], sizes["VOCAB_SIZE"], sizes["EMB_DIM"]
    expect(
        (layer.input_dim, layer.output_dim) == (vocab, dim),
        f"the Embedding is Embedding({layer.input_dim}, {layer.output_dim}); use "
        f"Embedding(VOCAB_SIZE, EMB_DIM) = Embedding({vocab}, {dim}).",
    )
    expect(
        layer.mask_zero or not mask_zero,
        "the Embedding does not mask the padding: use layers.Embedding(..., mask_zero=True).",
    )
    expect(
        mask_zero or not layer.mask_zero,
        "the Embedding has mask_zero=True, but convolutions ignore masks: leave it out and "
        "multiply by `words`, as the exercise does.",
    )
    spatial = layers_of(model, keras.layers.SpatialDropout1D)
    expect(
        len(spatial) == 1 and abs(spatial[0].rate - 0.25) <= 1e-9,
        "put one SpatialDropout1D(0.25) after the Embedding.",
    )


def check_dropout(model: Any, rates: list[float], advice: str) -> None:
    """The model's plain Dropout layers have exactly these ``rates`` (sorted)."""
    import keras

    found = layers_of(model, keras.layers.Dropout)
    got = sorted(round(d.rate, 6) for d in found if type(d) is keras.layers.Dropout)
    expect(got == rates, f"the model's Dropout rates are {got}; {advice}")


def check_softmax_dense(model: Any, name: str, units: int, size_name: str) -> None:
    """The model has a Dense(units, activation="softmax") layer called ``name``."""
    import keras

    layer = next((la for la in model.layers if la.name == name), None)
    expect(
        isinstance(layer, keras.layers.Dense),
        f'the model has no Dense layer named "{name}": '
        f'layers.Dense({size_name}, activation="softmax", name="{name}").',
    )
    expect(
        layer.units == units and activation_name(layer) == "softmax",
        f'the Dense layer "{name}" has {layer.units} units and the activation '
        f'{activation_name(layer)}; use Dense({size_name}, activation="softmax") ({units} units).',
    )
