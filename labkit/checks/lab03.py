"""Checks for lab 03: the multi-layer perceptron (and a self-normalising deep network).

q1-q3 judge the learner's functions on a small seeded batch against NumPy's (``Answer``), naming
the classic mistakes (a linear hidden layer, a softmax at the end, a gradient without the ReLU's
derivative, ...) by what they compute; q4 and q5 read the choices and the layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labkit.checks.answers import Answer, Mistake, close, expect, expect_finite, name_the_mistake
from labkit.checks.exercise import Exercise, Incorrect
from labkit.checks.learner_code import call_learner, run_learner_code, traced_op_types
from labkit.checks.mlp import (
    DEEP_LAYERS,
    backward_mistakes,
    deep_statistics,
    forward_answer,
    reference_batch,
    reference_gradients,
    tensors,
)
from labkit.checks.models import (
    activation_name,
    input_shape,
    layers_of,
    learner_model,
    output_shape,
)
from labkit.checks.reference import sigmoid
from labkit.checks.values import (
    Namespace,
    as_numpy,
    describe,
    expect_shape,
    learner_float,
    learner_function,
    learner_int,
    learner_value,
    returned,
)

LAB = "03_multilayer_perceptron"


def _check_q1(ns: Namespace) -> str | None:
    import tensorflow as tf

    f = learner_function(ns, "mlp_forward")
    b = reference_batch()
    t = tensors(b)
    what = "mlpforward(x, W1, b1, W2, b2) on 6 inputs"
    out = expect_shape(call_learner(f, t["x"], t["W1"], t["b1"], t["W2"], t["b2"]), (6, None), what)
    expect(
        out.shape[1] != 7,
        "the output has 7 columns, the size of the hidden layer: multiply the hidden "
        "activations by W2 and add b2 to get one score per class (10).",
    )
    forward_answer(b).judge(out, what)
    shifted = {**b, "b1": b["b1"] + np.float32(1), "b2": b["b2"] - np.float32(1)}
    t2 = tensors(shifted)
    out = call_learner(f, t2["x"], t2["W1"], t2["b1"], t2["W2"], t2["b2"])
    forward_answer(shifted).judge(out, "mlp_forward with other biases (are both b1 and b2 added?)")
    # The notebook then trains through it with GradientTape: the tape must see every step.
    W1 = tf.Variable(t["W1"])

    def gradient() -> object:
        with tf.GradientTape() as tape:
            logits = f(t["x"], W1, t["b1"], t["W2"], t["b2"])
        return tape.gradient(logits, W1) if tf.is_tensor(logits) else None

    expect(
        run_learner_code("mlp_forward under a GradientTape", gradient) is not None,
        "GradientTape cannot follow mlp_forward (the gradient with respect to W1 is None): "
        "use TensorFlow operations (@, tf.nn.relu), not NumPy or .numpy().",
    )
    return "x -> ReLU(x W1 + b1) -> (.) W2 + b2: ten scores per image."


_NAMES = ("dW1", "db1", "dW2", "db2")
CHAIN_RULE = (
    ". Start from dlogits = (softmax(logits) - y) / batch size; then dW2 = h^T dlogits (h: the "
    "hidden activations after ReLU) and db2 = the column sums of dlogits."
)


def _check_q2(ns: Namespace) -> str | None:
    f = learner_function(ns, "mlp_backward")
    b = reference_batch()
    t = tensors(b)
    args = [t[name] for name in ("x", "y", "W1", "b1", "W2", "b2")]
    out = call_learner(f, *args)
    out = returned(out, 4, "mlp_backward", "gradients: dW1, db1, dW2, db2 (a tuple)")
    got = tuple(as_numpy(g, name) for g, name in zip(out, _NAMES, strict=True))
    want = reference_gradients(b)
    for g, w, name in zip(got, want, _NAMES, strict=True):
        transposed = " (transposed?)" if g.shape == w.shape[::-1] else ""
        expect(
            g.shape == w.shape,
            f"{name} has shape {g.shape}{transposed}; it must have the shape of {name[1:]}, "
            f"{w.shape}.",
        )
        expect_finite(g, name)
    if not close(got, want, rtol=1e-3):
        name_the_mistake(got, backward_mistakes(b, want), rtol=1e-3)
    for i, off in (
        (2, CHAIN_RULE),
        (3, CHAIN_RULE),
        (0, " (dW2 and db2 are right): dh = dlogits W2^T, dz1 = dh * (z1 > 0), dW1 = x^T dz1."),
        (1, " (dW1 is right): it is the column sums of dz1."),
    ):
        expect(close(got[i], want[i], rtol=1e-3), f"{_NAMES[i]} is off{off}")
    expect(
        not any(
            op.startswith("gradient:") for op in _op_types_if_traceable(f, args, "mlp_backward")
        ),
        "mlp_backward asks TensorFlow for the gradients (GradientTape or tf.gradients): the "
        "exercise is to compute them by hand with the chain rule.",
    )
    return "your gradients match GradientTape's: that is all backpropagation is."


def _op_types_if_traceable(func: Any, args: Sequence[Any], name: str) -> set[str]:
    """The operations ``func`` runs (see traced_op_types); none when it cannot run as a graph,
    which this lab does not ask for."""
    try:
        return traced_op_types(func, *args, what=f"`{name}`")
    except Incorrect:
        return set()


def _check_q3(ns: Namespace) -> str | None:
    import tensorflow as tf

    zs = np.linspace(-4, 4, 17, dtype=np.float32)
    z = tf.constant(zs)
    leaky = learner_function(ns, "leaky_relu")
    out = expect_shape(call_learner(leaky, z), (17,), "leaky_relu(z) on 17 values")
    Answer(zs[zs >= 0]).judge(out[zs >= 0], "leaky_relu(z) for z >= 0 (it should be z itself)")
    ignored = Mistake(
        "leaky_relu ignores its `alpha` argument (default 0.1): use it for z < 0.",
        np.where(zs >= 0, zs, 0.01 * zs),
    )
    what = "leaky_relu(z) for z < 0 (slope alpha=0.1)"
    Answer(np.where(zs >= 0, zs, 0.1 * zs), [ignored]).judge(out, what)
    out = call_learner(leaky, z, alpha=0.3)
    Answer(np.where(zs >= 0, zs, 0.3 * zs)).judge(out, "leaky_relu(z, alpha=0.3)")
    expect(
        "LeakyRelu" not in _op_types_if_traceable(leaky, (z,), "leaky_relu"),
        "leaky_relu calls tf.nn.leaky_relu (or keras'): the exercise is to write it, with "
        "tf.where.",
    )
    swish = learner_function(ns, "swish")
    out = expect_shape(call_learner(swish, z), (17,), "swish(z) on 17 values")
    itself = Mistake("that is the sigmoid itself: swish multiplies it by z.", sigmoid(zs))
    Answer(zs * sigmoid(zs), [itself]).judge(out, "swish(z) = z * sigmoid(z)")
    # tf.nn.silu (= tf.nn.swish, keras' silu) has a custom gradient: an IdentityN operation.
    expect(
        "IdentityN" not in _op_types_if_traceable(swish, (z,), "swish"),
        "swish calls tf.nn.silu (or tf.nn.swish, or keras' silu): the exercise is to write it, "
        "z * tf.sigmoid(z).",
    )
    return "both keep a gradient for negative inputs, unlike ReLU."


def _kind(layer) -> str:
    """A layer's role in the exercise's block: ReLU for layers.ReLU and Activation("relu")."""
    import keras

    if isinstance(layer, keras.layers.ReLU) or (
        isinstance(layer, keras.layers.Activation) and activation_name(layer) == "relu"
    ):
        return "ReLU"
    return type(layer).__name__


# ----------------------------------------------------------------- q4: a self-normalising choice
# the activations of the last layer must keep about mean 0 and standard deviation 1
MEAN_BAR, STD_RANGE = 0.2, (0.8, 1.25)


def _keras_name(ns: Namespace, name: str, kind: str, example: str) -> str:
    """The learner's ``name``: a string Keras knows as an activation or an initializer."""
    import keras

    value = learner_value(ns, name)
    if not isinstance(value, str):
        raise Incorrect(
            f"`{name}` is {describe(value)}; it should be the name of {kind}, e.g. {example!r}."
        )
    getter = keras.activations.get if kind == "an activation" else keras.initializers.get
    try:
        getter(value)
    except (ValueError, TypeError):
        raise Incorrect(
            f"`{name}` = {value!r} is not the name of {kind} that Keras knows."
        ) from None
    return value


def _check_q4(ns: Namespace) -> str | None:
    import keras

    activation = _keras_name(ns, "DEEP_ACTIVATION", "an activation", "tanh")
    initializer = _keras_name(ns, "DEEP_INITIALIZER", "a weight initializer", "glorot_normal")
    probe = np.array([[-2.0, -0.5, 0.5, 2.0]], np.float32)
    what = f"the activation {activation!r}"
    out = run_learner_code(what, lambda: np.asarray(keras.activations.get(activation)(probe)))
    if close(out, probe):
        raise Incorrect(
            f"{activation!r} is linear: twenty linear layers are one linear map. Choose a "
            "non-linear activation that still keeps the statistics steady."
        )
    stats = run_learner_code(
        f"a {DEEP_LAYERS}-layer MLP with {activation} and {initializer}",
        lambda: deep_statistics(activation, initializer),
    )
    mean, std = stats[-1]
    result = (
        f"after {DEEP_LAYERS} layers of {activation} with {initializer} weights the activations "
        f"have mean {mean:.2f} and standard deviation {std:.2f}"
    )
    if not (np.isfinite(mean) and np.isfinite(std)):
        raise Incorrect(f"{result}: they overflowed. Choose a smaller initial scale.")
    if abs(mean) > MEAN_BAR:
        raise Incorrect(
            f"{result}: the mean should stay within {MEAN_BAR} of 0. An activation that is never "
            "negative cannot do that, nor can weights that make every layer's output larger."
        )
    low, high = STD_RANGE
    if not low <= std <= high:
        way = "shrinks" if std < low else "grows"
        raise Incorrect(
            f"{result}: the standard deviation {way} from layer to layer; it should stay between "
            f"{low} and {high}. Look at the plot above: which pair keeps it at 1?"
        )
    return f"{result}: the network normalises itself."


BLOCK = ["Dense", "BatchNormalization", "ReLU", "Dropout"]


def _check_q5(ns: Namespace) -> str | None:
    import keras

    hidden_units = learner_int(ns, "HIDDEN")
    rate = learner_float(ns, "DROPOUT", 0.0, 0.9)
    model = learner_model(call_learner(learner_function(ns, "build_mlp")), "build_mlp()")
    shape = input_shape(model, "the model")
    if shape != (None, 784):
        raise Incorrect(
            f"the model's input shape is {shape}; the flattened images are (None, 784): start "
            "with keras.Input(shape=(784,))."
        )
    shape = output_shape(model, "the model")
    if shape != (None, 10):
        raise Incorrect(f"the model's output has shape {shape}; there are 10 classes.")
    dense = layers_of(model, keras.layers.Dense)
    hidden = dense[:-1]
    last = model.layers[-1]
    if not dense or activation_name(dense[-1]) != "linear" or _kind(last) != "Dense":
        raise Incorrect(
            "the model ends in a softmax (or another activation), but the loss of this lab takes "
            "logits (from_logits=True): end with Dense(10) and no activation."
        )
    if len(hidden) != 2:
        raise Incorrect(
            f"the model has {len(hidden)} hidden Dense layer(s) before the output: use two."
        )
    if any(activation_name(la) != "linear" for la in hidden):
        raise Incorrect(
            "a hidden Dense layer has its own activation: the ReLU comes after the batch "
            "normalization, as a layer: Dense(HIDDEN, use_bias=False), BatchNormalization(), "
            "ReLU(), Dropout(DROPOUT)."
        )
    if any(la.units != hidden_units for la in hidden):
        units = ", ".join(str(la.units) for la in hidden)
        raise Incorrect(f"the hidden Dense layers have {units} units; use HIDDEN ({hidden_units}).")
    if any(la.use_bias for la in hidden):
        raise Incorrect(
            "the hidden Dense layers have a bias, which the BatchNormalization right after "
            "cancels (it subtracts the mean): use Dense(HIDDEN, use_bias=False)."
        )
    norms = layers_of(model, keras.layers.BatchNormalization)
    if len(norms) < len(hidden):
        raise Incorrect(
            f"the model has {len(hidden)} hidden Dense layers but {len(norms)} "
            "BatchNormalization layer(s): put one after each hidden Dense layer, before its ReLU."
        )
    kinds = [_kind(la) for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    if "ReLU" not in kinds:
        raise Incorrect(
            "the hidden layers have no activation: without one, stacked layers are one linear "
            "map. Add layers.ReLU() after each BatchNormalization."
        )
    drops = layers_of(model, keras.layers.Dropout)
    if not drops:
        raise Incorrect("the model has no Dropout layer: add one after each hidden layer.")
    if any(abs(d.rate - rate) > 1e-9 for d in drops):
        rates = ", ".join(f"{d.rate:g}" for d in drops)
        raise Incorrect(f"the dropout rate(s) are {rates}; use DROPOUT ({rate:g}).")
    if kinds != BLOCK * 2 + ["Dense"]:
        raise Incorrect(
            f"the layers are {', '.join(kinds)}; the exercise asks for, twice, "
            f"{' -> '.join(BLOCK)}, then Dense(10)."
        )
    params = model.count_params()
    if params > 3_000_000:
        raise Incorrect(
            f"the model has {params:,} parameters: too many to train in about a minute on a "
            "CPU. Use hidden layers of a few hundred units."
        )
    return f"two hidden blocks with batch normalization and dropout, {params:,} parameters."


q1 = Exercise(
    "Forward pass of a 2-layer MLP",
    _check_q1,
    hints=[
        "Two steps: the hidden layer h = ReLU(x W1 + b1), then the output layer h W2 + b2.",
        "`x @ W1` multiplies a (batch, 784) matrix by a (784, hidden) one; adding `b1` broadcasts "
        "over the batch. `tf.nn.relu` is the ReLU. Return the logits, with no softmax.",
    ],
)
q2 = Exercise(
    "Backpropagation by hand",
    _check_q2,
    hints=[
        "Redo the forward pass keeping z1 (before ReLU), h (after) and the logits; then go backwards "
        "with the chain rule, one layer at a time.",
        "For the mean softmax cross-entropy, dlogits = (softmax(logits) - y) / batch size. A layer "
        "out = in @ W + b gives dW = in^T dout, db = the sum of dout over the batch, din = dout W^T. "
        "Through ReLU: dz1 = dh * (z1 > 0).",
    ],
)
q3 = Exercise(
    "Leaky ReLU and swish",
    _check_q3,
    hints=[
        "Leaky ReLU is z for z >= 0 and alpha * z for z < 0. Swish is z times the sigmoid of z.",
        "`tf.where(condition, a, b)` picks from a where the condition holds, from b elsewhere; "
        "`tf.sigmoid(z)` is the sigmoid.",
    ],
)
q4 = Exercise(
    "Choose a self-normalising activation and initializer",
    _check_q4,
    hints=[
        "Look at the plot above: which pair keeps the mean at 0 and the standard deviation at 1 "
        "through all 20 layers?",
        "ReLU's outputs are never negative, so their mean cannot be 0; tanh and sigmoid shrink the "
        "spread. One activation was designed, with its own initializer, to keep both steady.",
        'DEEP_ACTIVATION = "selu" and DEEP_INITIALIZER = "lecun_normal".',
    ],
)
q5 = Exercise(
    "The MLP in Keras, with batch normalization and dropout",
    _check_q5,
    hints=[
        "keras.Input(shape=(784,)); then, twice, a Dense layer, BatchNormalization, ReLU and "
        "Dropout; and a Dense(10) output with no activation (the loss takes logits).",
        "Use the functional API, one layer per line, each applied to x: a Dense layer of HIDDEN "
        "units without bias, BatchNormalization, ReLU, Dropout(DROPOUT); then a Dense layer of "
        "10 outputs.",
    ],
)

EXERCISES = (q1, q2, q3, q4, q5)
