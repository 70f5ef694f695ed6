"""Lab 03 (multi-layer perceptron): the notebook runs in fast mode and its checks work."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from check_catalogue import Case, verdict_tests
from notebook_helpers import run_lab

from labkit.checks import Status, lab03

LAB = "03_multilayer_perceptron"
NOT_ATTEMPTED, INCORRECT = Status.NOT_ATTEMPTED, Status.INCORRECT


@pytest.mark.notebook
def test_solution_runs_in_fast_mode_and_reports_sane_metrics():
    run = run_lab(LAB)
    assert not run.errors
    assert 0.5 < run.metrics["test_accuracy"] <= 1.0
    assert 0 < run.metrics["train_seconds"] < 120
    assert 1 <= run.metrics["epochs"] <= 2
    assert run.metrics["fast_mode"] is True


# ------------------------------------------------------------- right answers
def _forward(x, W1, b1, W2, b2):
    import tensorflow as tf

    return tf.nn.relu(x @ W1 + b1) @ W2 + b2


def _backward(x, y, W1, b1, W2, b2, relu_grad=True, scale=1.0, sign=1.0, transpose=False):
    import tensorflow as tf

    n = tf.cast(tf.shape(x)[0], x.dtype)
    z1 = x @ W1 + b1
    h = tf.nn.relu(z1)
    dlogits = sign * (tf.nn.softmax(h @ W2 + b2) - y) / n * scale
    dW2 = tf.transpose(h) @ dlogits
    dh = dlogits @ tf.transpose(W2)
    dz1 = dh * tf.cast(z1 > 0, dh.dtype) if relu_grad else dh
    dW1 = tf.transpose(x) @ dz1
    if transpose:
        dW2 = tf.transpose(dW2)
    return dW1, tf.reduce_sum(dz1, 0), dW2, tf.reduce_sum(dlogits, 0)


def _leaky(z, alpha=0.1):
    import tensorflow as tf

    return tf.where(z >= 0, z, alpha * z)


def _swish(z):
    import tensorflow as tf

    return z * tf.sigmoid(z)


HIDDEN, DROPOUT = 64, 0.2


@functools.cache  # the checks call the builder often: build each model once
def _mlp(
    hidden=(HIDDEN, HIDDEN),
    dropout=DROPOUT,
    outputs=10,
    out_activation=None,
    activation="relu",
    norm=True,
    bias=False,
    dense_activation=None,
):
    import keras
    from keras import layers

    inputs = keras.Input((784,))
    x = inputs
    for units in hidden:
        x = layers.Dense(units, use_bias=bias, activation=dense_activation)(x)
        if norm:
            x = layers.BatchNormalization()(x)
        if activation:
            x = layers.Activation(activation)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, layers.Dense(outputs, activation=out_activation)(x))


def answers() -> dict[str, dict]:
    """A right answer to every exercise: the namespace its check reads."""
    return {
        "q1": {"mlp_forward": _forward},
        "q2": {"mlp_backward": _backward},
        "q3": {"leaky_relu": _leaky, "swish": _swish},
        "q4": {"build_mlp": _mlp, "HIDDEN": HIDDEN, "DROPOUT": DROPOUT},
    }


# ------------------------------------------------------------- wrong answers
def _todo(*args, **kwargs):
    raise NotImplementedError


def _q1_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    def with_numpy(x, W1, b1, W2, b2):  # right values, but GradientTape cannot follow it
        h = np.maximum(x.numpy() @ W1.numpy() + b1.numpy(), 0)
        return h @ W2.numpy() + b2.numpy()

    return [
        Case({"mlp_forward": lambda x, W1, b1, W2, b2: (x @ W1 + b1) @ W2 + b2}, INCORRECT, "ReLU"),
        Case({"mlp_forward": lambda *a: tf.nn.softmax(_forward(*a))}, INCORRECT, "softmax"),
        Case({"mlp_forward": lambda *a: tf.nn.relu(_forward(*a))}, INCORRECT, "last layer"),
        Case(
            {"mlp_forward": lambda x, W1, b1, W2, b2: tf.nn.relu(x @ W1 + b1)},
            INCORRECT,
            "hidden",
        ),
        Case(
            {"mlp_forward": lambda x, W1, b1, W2, b2: tf.nn.relu(x @ W1 + b1) @ W2},
            INCORRECT,
            "wrong values",
        ),
        Case({"mlp_forward": with_numpy}, INCORRECT, "GradientTape cannot follow"),
        Case({"mlp_forward": _todo}, NOT_ATTEMPTED, "NotImplementedError"),
        Case({}, NOT_ATTEMPTED, "not defined yet"),
    ]


def _with_tape(x, y, W1, b1, W2, b2):
    import tensorflow as tf

    params = [W1, b1, W2, b2]
    with tf.GradientTape() as tape:
        tape.watch(params)
        logits = _forward(x, *params)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(y, logits))
    return tuple(tape.gradient(loss, params))


def _q2_cases(right: dict) -> list[Case]:
    n = lab03.reference_batch()["x"].shape[0]
    return [
        Case({"mlp_backward": lambda *a: _backward(*a, relu_grad=False)}, INCORRECT, "derivative"),
        Case({"mlp_backward": lambda *a: _backward(*a, scale=n)}, INCORRECT, "batch size"),
        Case({"mlp_backward": lambda *a: _backward(*a, sign=-1.0)}, INCORRECT, "sign"),
        Case({"mlp_backward": lambda *a: _backward(*a, transpose=True)}, INCORRECT, "transposed"),
        Case({"mlp_backward": lambda *a: _backward(*a)[:2]}, INCORRECT, "four gradients"),
        Case({"mlp_backward": _with_tape}, INCORRECT, "by hand"),
        Case({"mlp_backward": _todo}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q3_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    return [
        Case({**right, "leaky_relu": lambda z, alpha=0.1: _leaky(z, 0.01)}, INCORRECT, "alpha"),
        Case({**right, "leaky_relu": lambda z, alpha=0.1: tf.nn.relu(z)}, INCORRECT, "z < 0"),
        Case(
            {**right, "leaky_relu": lambda z, alpha=0.1: tf.nn.leaky_relu(z, alpha)},
            INCORRECT,
            "write it",
        ),
        Case({**right, "swish": tf.sigmoid}, INCORRECT, "sigmoid itself"),
        Case({**right, "swish": lambda z: z * tf.tanh(z)}, INCORRECT, "swish"),
        Case({**right, "swish": tf.nn.silu}, INCORRECT, "write"),
        Case({**right, "leaky_relu": _todo}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q4_cases(right: dict) -> list[Case]:
    def build(**kwargs):
        return {**right, "build_mlp": lambda: _mlp(**kwargs)}

    return [
        Case(build(outputs=5), INCORRECT, "10 classes"),
        Case(build(dropout=0), INCORRECT, "Dropout"),
        Case(build(norm=False), INCORRECT, "BatchNormalization"),
        Case(build(dropout=0.5), INCORRECT, "DROPOUT (0.2)"),
        Case(build(out_activation="softmax"), INCORRECT, "from_logits"),
        Case(build(hidden=(HIDDEN,)), INCORRECT, "two"),
        Case(build(hidden=(HIDDEN,) * 3), INCORRECT, "two"),
        Case(build(hidden=(32, 32)), INCORRECT, f"HIDDEN ({HIDDEN})"),
        Case(build(bias=True), INCORRECT, "use_bias=False"),
        Case(build(activation=None), INCORRECT, "no activation"),
        Case(build(activation=None, dense_activation="relu"), INCORRECT, "after the batch"),
        Case(
            {**right, "HIDDEN": 4096, "build_mlp": lambda: _mlp(hidden=(4096,) * 2)},
            INCORRECT,
            "too many",
        ),
        Case({**right, "build_mlp": lambda: "a model"}, INCORRECT, "Keras model"),
        Case({**right, "build_mlp": _todo}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def wrong_answers() -> dict[str, list[Case]]:
    """Wrong answers to every exercise, with the status and words each must get."""
    right = answers()
    cases = {"q1": _q1_cases, "q2": _q2_cases, "q3": _q3_cases, "q4": _q4_cases}
    return {q: make(right[q]) for q, make in cases.items()}


test_the_right_answer_is_correct, test_wrong_answers_are_incorrect_with_a_useful_reason = (
    verdict_tests(lab03, answers, wrong_answers)
)


def test_the_order_dense_batchnorm_relu_dropout_is_checked() -> None:
    import keras
    from keras import layers

    def relu_before_norm():
        inputs = keras.Input((784,))
        x = inputs
        for _ in range(2):
            x = layers.Dense(HIDDEN, use_bias=False)(x)
            x = layers.ReLU()(x)
            x = layers.BatchNormalization()(x)
            x = layers.Dropout(DROPOUT)(x)
        return keras.Model(inputs, layers.Dense(10)(x))

    result = lab03.q4.result({**answers()["q4"], "build_mlp": relu_before_norm})
    assert result.status is INCORRECT and "Dense -> BatchNormalization -> ReLU" in result.message


def test_q2_reference_gradients_match_a_finite_difference():
    batch = {k: v.astype(np.float64) for k, v in lab03.reference_batch().items()}
    dW1 = lab03.reference_gradients(batch)[0]

    def loss(W1):
        z = np.maximum(batch["x"] @ W1 + batch["b1"], 0) @ batch["W2"] + batch["b2"]
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -(batch["y"] * logp).sum(1).mean()

    e = np.zeros_like(batch["W1"])
    e[2, 3] = 1e-6
    numeric = (loss(batch["W1"] + e) - loss(batch["W1"] - e)) / 2e-6
    assert abs(numeric - dW1[2, 3]) < 1e-6
