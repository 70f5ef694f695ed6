"""Checks for lab 06: recurrent networks (an RNN step, an LSTM step, padding and masking,
a joint slot-filling and intent model on ATIS, an intent CNN)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import (
    Answer,
    Mistake,
    expect_close,
    expect_finite,
    name_the_mistake,
)
from labkit.checks.exercise import Exercise, Incorrect
from labkit.checks.learner_code import call_learner, call_model, model_output
from labkit.checks.models import (
    activation_name,
    input_shape,
    layers_of,
    learner_model,
    set_seeded_weights,
)
from labkit.checks.reference import sigmoid
from labkit.checks.values import (
    Namespace,
    as_numpy,
    describe,
    expect_shape,
    learner_function,
    learner_int,
    learner_value,
)

LAB = "06_rnn_slot_filling"
MAX_PARAMS = 3_000_000
# Padding must not change a model's answer whatever its weights: probed with these seeds.
PADDING_PROBE_SEEDS = (1, 2)


# ----------------------------------------------------------------- references (NumPy, float64)
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
    c = sigmoid(zf) * np.asarray(c_prev, np.float64) + sigmoid(zi) * np.tanh(zc)
    return sigmoid(zo) * np.tanh(c), c


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


def _check_q1(ns: Namespace) -> str | None:
    import tensorflow as tf

    step = learner_function(ns, "rnn_step")
    inputs = _rnn_inputs()
    out = call_learner(step, *[tf.constant(a) for a in inputs])
    what = "rnn_step(x_t, h_prev, W_xh, W_hh, b)"
    got = as_numpy(out, what)
    if got.shape == (5, 3):
        raise Incorrect(
            f"{what} has shape (5, 3): that is (units, batch). Keep the batch first: "
            "x_t @ W_xh has shape (batch, units)."
        )
    expect_shape(got, (3, 5), what)
    x, h, w_xh, w_hh, b = (np.asarray(a, np.float64) for a in inputs)
    pre = x @ w_xh + h @ w_hh + b
    not_tanh = "a vanilla RNN uses tanh, which keeps h in (-1, 1)."
    Answer(
        reference_rnn_step(x, h, w_xh, w_hh, b),
        [
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
        ],
        atol=1e-4,
    ).judge(got, what)
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


def _lstm_mistakes(x_t, h_prev, c_prev, kernel, recurrent, bias) -> list[Mistake]:
    """The usual mistakes, with the (h, c) each computes."""
    zi, zf, zc, zo = _lstm_gates(x_t, h_prev, kernel, recurrent, bias)
    c_prev = np.asarray(c_prev, np.float64)
    i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zc), sigmoid(zo)
    c = f * c_prev + i * g
    c_swapped = sigmoid(zo) * c_prev + sigmoid(zi) * np.tanh(zf)
    c_ifoc = f * c_prev + i * np.tanh(zo)  # the order i, f, o, c
    c_sig = f * c_prev + i * sigmoid(zc)
    c_if = i * c_prev + f * g
    order = "the gates are in the wrong order"
    return [
        Mistake(
            f"{order}: Keras stores them as input, forget, cell candidate, output (i, f, c, o), "
            "each `units` columns wide.",
            (sigmoid(zc) * np.tanh(c_ifoc), c_ifoc),
        ),
        Mistake(
            f"{order} (Keras: i, f, c, o).",
            (sigmoid(zf) * np.tanh(c_swapped), c_swapped),
        ),
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


def _h_and_c(out: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise Incorrect(
            f"{what} returns {describe(out)}; it should return two tensors, `(h, c)`: the new "
            "hidden state and the new cell state."
        )
    return out[0], out[1]


def _check_q2(ns: Namespace) -> str | None:
    import keras
    import tensorflow as tf

    step = learner_function(ns, "lstm_step")
    inputs = _lstm_inputs()
    what = "lstm_step(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias)"
    h, c = _h_and_c(call_learner(step, *[tf.constant(a) for a in inputs]), what)
    h = expect_finite(expect_shape(h, (2, 3), "h (the first value returned)"), "h")
    c = expect_finite(expect_shape(c, (2, 3), "c (the second value returned)"), "c")
    want_h, want_c = reference_lstm_step(*inputs)
    swapped = Mistake(
        "h and c are swapped: return `(h, c)`, the hidden state first.",
        (want_c, want_h),
    )
    name_the_mistake((h, c), [swapped, *_lstm_mistakes(*inputs)], atol=1e-4)
    expect_close(c, want_c, "c (the new cell state)", rtol=1e-4, atol=1e-5)
    expect_close(h, want_h, "h (the new hidden state)", rtol=1e-4, atol=1e-5)
    # The same step must reproduce keras.layers.LSTM over a whole sequence, with its weights.
    xs = np.random.default_rng(8).normal(size=(2, 5, 4)).astype(np.float32)
    lstm = keras.layers.LSTM(6, return_sequences=True, return_state=True)
    lstm.build(xs.shape)
    set_seeded_weights(lstm, seed=8)
    sequence, _, keras_c = lstm(xs)
    kernel, recurrent, bias = (w.numpy() for w in lstm.weights)
    h = c = tf.zeros((2, 6))
    for t in range(xs.shape[1]):
        out = call_learner(step, tf.constant(xs[:, t]), h, c, kernel, recurrent, bias)
        h, c = _h_and_c(out, what)
        what_t = f"h after step {t + 1}, against keras.layers.LSTM"
        expect_close(h, sequence[:, t], what_t, rtol=1e-4, atol=1e-5)
    expect_close(c, keras_c, "the final c, against keras.layers.LSTM", rtol=1e-4, atol=1e-5)
    return "your step reproduces keras.layers.LSTM exactly, with Keras' own weights."


# ----------------------------------------------------------------- q3: padding and the mask
Q3_SEQUENCES = [np.array([3, 7, 9, 4]), np.array([5, 2]), np.array([8, 6, 1, 2, 9, 3])]


def _x_and_mask(out: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise Incorrect(
            f"{what} returns {describe(out)}; it should return two arrays, `(x, mask)`."
        )
    return out[0], out[1]


def _check_q3(ns: Namespace) -> str | None:
    pad = learner_function(ns, "pad_batch")
    sequences = [s.copy() for s in Q3_SEQUENCES]
    x, mask = _x_and_mask(call_learner(pad, sequences), "pad_batch(sequences)")
    want_x, want_mask = reference_pad_batch(Q3_SEQUENCES)
    x = expect_shape(x, (3, None), "x")
    if x.shape[1] != 6:
        raise Incorrect(
            f"x has {x.shape[1]} columns; pad to the longest sequence of the batch (here 6), "
            "no more, no less."
        )
    if not np.issubdtype(x.dtype, np.integer):
        raise Incorrect(f"x has dtype {x.dtype}; word ids are integers (use dtype=np.int32).")
    if x.dtype != np.int32:
        raise Incorrect(f"x has dtype {x.dtype}; the exercise asks for int32 (dtype=np.int32).")
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
    mask = expect_shape(mask, (3, 6), "mask")
    if mask.dtype != np.bool_:
        raise Incorrect(f"mask has dtype {mask.dtype}; make it boolean (for example `x != 0`).")
    if np.array_equal(mask, ~want_mask):
        raise Incorrect(
            "mask is inverted: it should be True on the real words, False on the padding."
        )
    if not np.array_equal(mask, want_mask):
        raise Incorrect("mask should be True exactly where x holds a word (x != 0).")
    if any(not np.array_equal(a, b) for a, b in zip(sequences, Q3_SEQUENCES, strict=True)):
        raise Incorrect("pad_batch changed the sequences it was given; work on a new array.")
    one, _ = _x_and_mask(call_learner(pad, [np.array([4, 1, 7])]), "pad_batch([one sequence])")
    if as_numpy(one, "x").shape != (1, 3):
        raise Incorrect("pad_batch([one sequence of 3 ids]) should give x of shape (1, 3).")
    return "x is padded with 0 at the end and the mask marks the real words."


# ----------------------------------------------------------------- q4 and q5: the models
def _constants(ns: Namespace, *names: str) -> dict[str, int]:
    """The notebook's sizes, checked before a model is built with them."""
    return {name: learner_int(ns, name, minimum=2) for name in names}


def _built_model(ns: Namespace, builder: str) -> Any:
    """The model the learner's ``builder()`` returns, whose input takes word ids of any length."""
    model = learner_model(call_learner(learner_function(ns, builder)), f"{builder}()")
    shape = input_shape(model, "the model")
    dtype = str(getattr(model.inputs[0], "dtype", ""))
    if len(shape) != 2 or shape[1] is not None or "int" not in dtype:
        raise Incorrect(
            f"the model's input has shape {shape} and dtype {dtype}; sentences are word ids of "
            "any length: keras.Input(shape=(None,), dtype='int32')."
        )
    return model


def _word_ids(vocab: int, seed: int) -> np.ndarray:
    """Two sentences: 7 random word ids, and 4 words followed by 3 padding positions."""
    x = np.random.default_rng(seed).integers(1, vocab, size=(2, 7)).astype(np.int32)
    x[1, 4:] = 0
    return x


def _padded(x: np.ndarray, more: int) -> np.ndarray:
    return np.concatenate([x, np.zeros((len(x), more), np.int32)], axis=1)


def _small_enough(model: Any) -> int:
    """The number of parameters, when few enough to train on a CPU in minutes."""
    params = model.count_params()
    if params > MAX_PARAMS:
        raise Incorrect(
            f"the model has {params:,} parameters: too many to train on a CPU in minutes."
        )
    return params


def _embedding(model: Any, sizes: dict[str, int], mask_zero: bool) -> None:
    """One Embedding(VOCAB_SIZE, EMB_DIM), masking the padding or not, then SpatialDropout1D(0.25)."""
    import keras

    embeddings = layers_of(model, keras.layers.Embedding)
    if len(embeddings) != 1:
        raise Incorrect(
            f"the model has {len(embeddings)} Embedding layers; it needs one: the words come in "
            "as ids."
        )
    layer = embeddings[0]
    if (layer.input_dim, layer.output_dim) != (sizes["VOCAB_SIZE"], sizes["EMB_DIM"]):
        raise Incorrect(
            f"the Embedding is Embedding({layer.input_dim}, {layer.output_dim}); use "
            f"Embedding(VOCAB_SIZE, EMB_DIM) = Embedding({sizes['VOCAB_SIZE']}, "
            f"{sizes['EMB_DIM']})."
        )
    if mask_zero and not layer.mask_zero:
        raise Incorrect(
            "the Embedding does not mask the padding: use layers.Embedding(..., mask_zero=True)."
        )
    if not mask_zero and layer.mask_zero:
        raise Incorrect(
            "the Embedding has mask_zero=True, but convolutions ignore masks: leave it out and "
            "multiply by `words`, as the exercise does."
        )
    spatial = layers_of(model, keras.layers.SpatialDropout1D)
    if len(spatial) != 1 or abs(spatial[0].rate - 0.25) > 1e-9:
        raise Incorrect("put one SpatialDropout1D(0.25) after the Embedding.")


def _dropout_rates(model: Any) -> list[float]:
    import keras

    found = layers_of(model, keras.layers.Dropout)
    return sorted(round(d.rate, 6) for d in found if type(d) is keras.layers.Dropout)


def _softmax_dense(model: Any, name: str, units: int, size_name: str) -> None:
    import keras

    layer = next((la for la in model.layers if la.name == name), None)
    if not isinstance(layer, keras.layers.Dense):
        raise Incorrect(
            f'the model has no Dense layer named "{name}": '
            f'layers.Dense({size_name}, activation="softmax", name="{name}").'
        )
    if layer.units != units or activation_name(layer) != "softmax":
        raise Incorrect(
            f'the Dense layer "{name}" has {layer.units} units and the activation '
            f'{activation_name(layer)}; use Dense({size_name}, activation="softmax") '
            f"({units} units)."
        )


def _outputs(out: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(out, list | tuple):
        raise Incorrect(
            f"{what} returns a {type(out).__name__}; return a dict, "
            '`keras.Model(inputs, {"slots": slot_probs, "intent": intent_probs})`, so that the '
            "losses can be given by name."
        )
    if not isinstance(out, dict) or set(out) != {"slots", "intent"}:
        keys = sorted(map(str, out)) if isinstance(out, dict) else describe(out)
        raise Incorrect(
            f'{what} should return a dict with the keys "slots" and "intent", not {keys}.'
        )
    slots = expect_finite(as_numpy(out["slots"], "the slots output"), "the slots output")
    intent = expect_finite(as_numpy(out["intent"], "the intent output"), "the intent output")
    return slots, intent


def _joint_outputs(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _outputs(call_model(model, x, "calling the model on a batch of word ids"), "the model")


def _check_q4(ns: Namespace) -> str | None:
    import keras

    sizes = _constants(ns, "VOCAB_SIZE", "EMB_DIM", "UNITS", "N_SLOTS", "N_INTENTS")
    n_slots, n_intents = sizes["N_SLOTS"], sizes["N_INTENTS"]
    model = _built_model(ns, "build_joint_model")
    _embedding(model, sizes, mask_zero=True)
    x = _word_ids(sizes["VOCAB_SIZE"], seed=9)
    set_seeded_weights(model, PADDING_PROBE_SEEDS[0])
    slots, intent = _joint_outputs(model, x)
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
    wrappers = layers_of(model, keras.layers.Bidirectional)
    if not wrappers:
        raise Incorrect("read the sentence both ways: wrap the LSTM in layers.Bidirectional(...).")
    lstm = wrappers[0].forward_layer
    if not isinstance(lstm, keras.layers.LSTM) or lstm.units != sizes["UNITS"]:
        raise Incorrect(
            f"the Bidirectional layer should wrap an LSTM(UNITS) = LSTM({sizes['UNITS']}), not "
            f"{describe(lstm)} of {getattr(lstm, 'units', '?')} units."
        )
    if not (lstm.return_sequences and lstm.return_state):
        raise Incorrect(
            "the LSTM needs return_sequences=True (a state per word, for the slots) and "
            "return_state=True (the final states, for the intent)."
        )
    _softmax_dense(model, "slots", n_slots, "N_SLOTS")
    _softmax_dense(model, "intent", n_intents, "N_INTENTS")
    if _dropout_rates(model) != [0.3, 0.3]:
        raise Incorrect(
            f"the model's Dropout rates are {_dropout_rates(model)}; put a Dropout(0.3) before "
            "each of the two Dense layers."
        )
    for seed in PADDING_PROBE_SEEDS:
        if seed != PADDING_PROBE_SEEDS[0]:  # the first one's outputs are those above
            set_seeded_weights(model, seed)
            slots, intent = _joint_outputs(model, x)
        slots_long, intent_long = _joint_outputs(model, _padded(x, 3))
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


def _expose_padding(model: Any) -> None:
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


def _check_q5(ns: Namespace) -> str | None:
    import keras

    sizes = _constants(ns, "VOCAB_SIZE", "EMB_DIM", "N_INTENTS")
    n_intents = sizes["N_INTENTS"]
    model = _built_model(ns, "build_intent_cnn")
    x = _word_ids(sizes["VOCAB_SIZE"], seed=10)
    what = "calling the model on a batch of word ids"
    set_seeded_weights(model, PADDING_PROBE_SEEDS[0])
    out = call_model(model, x, what)
    if isinstance(out, dict):
        raise Incorrect(
            "the model returns a dict; this one has a single output: "
            "`keras.Model(inputs, intent)`, with intent the softmax layer's output."
        )
    intent = expect_shape(out, (2, n_intents), "the output (batch, N_INTENTS)")
    expect_finite(intent, "the output")
    if (intent < 0).any() or not np.allclose(intent.sum(-1), 1.0, atol=1e-3):
        raise Incorrect(
            "the output does not sum to 1: give the last Dense layer activation='softmax'."
        )
    if layers_of(model, keras.layers.RNN, keras.layers.Bidirectional):
        raise Incorrect("this model is a CNN: leave the LSTM out, the convolutions read the words.")
    _embedding(model, sizes, mask_zero=False)
    convs = layers_of(model, keras.layers.Conv1D)
    widths = sorted(c.kernel_size[0] for c in convs)
    if widths != [1, 2, 3]:
        raise Incorrect(
            f"the Conv1D widths are {widths}; use one Conv1D for each width in (1, 2, 3): "
            "detectors of single words, of word pairs and of triples."
        )
    if any((c.filters, c.padding, activation_name(c)) != (128, "same", "relu") for c in convs):
        raise Incorrect(
            "each Conv1D should be Conv1D(128, width, padding='same', activation='relu'): same "
            "padding keeps one position per word, so that `words` can zero the padding."
        )
    if _dropout_rates(model) != [0.5]:
        raise Incorrect(
            f"the model's Dropout rates are {_dropout_rates(model)}; use one Dropout(0.5) "
            "before the last Dense layer."
        )
    # Seeded random weights, then weights built to expose a leak (_expose_padding).
    alone_x = x[1:, :4]
    for expose in (False, True):
        if expose:
            _expose_padding(model)
            intent = model_output(model, x, what, "the output")
        alone = model_output(model, alone_x, what, "the output")
        padded = model_output(model, _padded(x, 5), what, "the output")
        same = np.allclose(alone[0], intent[1], atol=1e-4) and np.allclose(
            padded, intent, atol=1e-4
        )
        if not same:
            raise Incorrect(
                "the padding changes the intent (a sentence alone and the same sentence padded "
                "in a batch get different probabilities): multiply the embeddings by `words` "
                "before the convolutions, and each convolution's output by `words` before the max."
            )
    params = _small_enough(model)
    return f"n-gram detectors of widths (1, 2, 3), padding ignored, {params:,} parameters."


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
        "feeds the slots, the final states the intent.",
        "A bidirectional LSTM with return_state=True returns five tensors: `seq, fwd_h, fwd_c, "
        "bwd_h, bwd_c`. `Dense(N_SLOTS, activation='softmax')` on `seq` gives the slots; "
        "`Concatenate()([fwd_h, bwd_h])` then `Dense(N_INTENTS, activation='softmax')` the intent.",
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


def _boundaries(value: Any) -> list[int]:
    import numbers

    if not isinstance(value, list | tuple) or not 1 <= len(value) <= MAX_BOUNDARIES:
        raise Incorrect(
            f"`BUCKETS` is {describe(value)}; it should be a list of 1 to {MAX_BOUNDARIES} "
            "sentence lengths where a new bucket starts, e.g. [10, 20]."
        )
    if not all(isinstance(b, numbers.Integral) and not isinstance(b, bool) for b in value):
        raise Incorrect("the boundaries in `BUCKETS` should be whole numbers (sentence lengths).")
    bounds = [int(b) for b in value]
    if any(b < 2 or b > 100 for b in bounds):
        raise Incorrect("the boundaries in `BUCKETS` are sentence lengths: from 2 to 100 words.")
    if any(later <= earlier for earlier, later in zip(bounds, bounds[1:], strict=False)):
        raise Incorrect(f"`BUCKETS` = {bounds}: the boundaries must increase, each larger.")
    return bounds


def _check_q6(ns: Namespace) -> str | None:
    bounds = _boundaries(learner_value(ns, "BUCKETS"))
    split = learner_value(ns, "train")
    try:
        lengths = np.array([len(q) for q in split.queries], dtype=np.int64)
    except Exception:  # noqa: BLE001 - anything but the ATIS training split
        lengths = np.array([], dtype=np.int64)
    if lengths.size == 0 or lengths.min() < 1:
        raise Incorrect(
            f"`train` is {describe(split)}; it should be ATIS's training split: run the cells "
            "of part 1 again."
        )
    share = padding_share(lengths, bounds, BUCKET_BATCH_SIZE)
    random_share = padding_share(lengths, [], BUCKET_BATCH_SIZE)
    if share > PADDING_BAR:
        raise Incorrect(
            f"with these boundaries {share:.1%} of the positions are padding (in batches of "
            f"{BUCKET_BATCH_SIZE}, all training sentences); the bar is {PADDING_BAR:.0%}. Look "
            "at the histogram of the lengths in part 1: put the boundaries where most sentences "
            "are."
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
