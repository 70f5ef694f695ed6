"""Lab 03 (multi-layer perceptron): the notebook runs in fast mode and its checks work."""

from __future__ import annotations

import numpy as np
import pytest
from notebook_helpers import run_lab

from labkit.checks import Status, lab03

LAB = "03_multilayer_perceptron"
pytestmark = pytest.mark.notebook


def test_solution_runs_in_fast_mode_and_reports_sane_metrics():
    run = run_lab(LAB)
    assert not run.errors
    assert 0.5 < run.metrics["test_accuracy"] <= 1.0
    assert 0 < run.metrics["train_seconds"] < 120
    assert 1 <= run.metrics["epochs"] <= 2
    assert run.metrics["fast_mode"] is True


# --- wrong answers, one namespace per exercise ---------------------------------------------


def _status(q, ns):
    result = q.result(ns)
    return result.status, result.message


def _todo(*args, **kwargs):
    raise NotImplementedError


def test_q1_accepts_the_reference_and_explains_mistakes():
    import tensorflow as tf

    def good(x, W1, b1, W2, b2):
        return tf.nn.relu(x @ W1 + b1) @ W2 + b2

    def linear(x, W1, b1, W2, b2):
        return (x @ W1 + b1) @ W2 + b2

    def softmax(x, W1, b1, W2, b2):
        return tf.nn.softmax(good(x, W1, b1, W2, b2))

    def relu_out(x, W1, b1, W2, b2):
        return tf.nn.relu(good(x, W1, b1, W2, b2))

    def hidden_only(x, W1, b1, W2, b2):
        return tf.nn.relu(x @ W1 + b1)

    def no_b2(x, W1, b1, W2, b2):
        return tf.nn.relu(x @ W1 + b1) @ W2

    assert _status(lab03.q1, {"mlp_forward": good})[0] is Status.CORRECT
    cases = [(linear, "ReLU"), (softmax, "softmax"), (relu_out, "last layer"),
             (hidden_only, "hidden"), (no_b2, "wrong values")]  # fmt: skip
    for f, words in cases:
        status, message = _status(lab03.q1, {"mlp_forward": f})
        assert status is Status.INCORRECT and words in message, (f.__name__, message)
    assert _status(lab03.q1, {"mlp_forward": _todo})[0] is Status.NOT_ATTEMPTED
    assert _status(lab03.q1, {})[0] is Status.NOT_ATTEMPTED


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


def test_q2_accepts_the_reference_and_explains_mistakes():
    assert _status(lab03.q2, {"mlp_backward": _backward})[0] is Status.CORRECT
    n = lab03.reference_batch()["x"].shape[0]
    cases = [
        (lambda *a: _backward(*a, relu_grad=False), "ReLU derivative"),
        (lambda *a: _backward(*a, scale=n), "batch size"),
        (lambda *a: _backward(*a, sign=-1.0), "sign"),
        (lambda *a: _backward(*a, transpose=True), "transposed"),
        (lambda *a: _backward(*a)[:2], "four gradients"),
    ]
    for f, words in cases:
        status, message = _status(lab03.q2, {"mlp_backward": f})
        assert status is Status.INCORRECT and words in message, message
    assert _status(lab03.q2, {"mlp_backward": _todo})[0] is Status.NOT_ATTEMPTED


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


def test_q3_accepts_the_reference_and_explains_mistakes():
    import tensorflow as tf

    def leaky(z, alpha=0.1):
        return tf.where(z >= 0, z, alpha * z)

    def swish(z):
        return z * tf.sigmoid(z)

    ok = {"leaky_relu": leaky, "swish": swish}
    assert _status(lab03.q3, ok)[0] is Status.CORRECT
    cases = [
        ({**ok, "leaky_relu": lambda z, alpha=0.1: tf.nn.leaky_relu(z, 0.01)}, "alpha"),
        ({**ok, "leaky_relu": lambda z, alpha=0.1: tf.nn.relu(z)}, "z < 0"),
        ({**ok, "swish": tf.sigmoid}, "sigmoid itself"),
        ({**ok, "swish": lambda z: z * tf.tanh(z)}, "swish"),
    ]
    for ns, words in cases:
        status, message = _status(lab03.q3, ns)
        assert status is Status.INCORRECT and words in message, message
    assert _status(lab03.q3, {"leaky_relu": _todo, "swish": swish})[0] is Status.NOT_ATTEMPTED


def _mlp(
    hidden=(64, 64), dropout=0.2, outputs=10, out_activation=None, activation="relu", norm=True
):
    import keras
    from keras import layers

    inputs = keras.Input((784,))
    x = inputs
    for units in hidden:
        x = layers.Dense(units, use_bias=not norm)(x)
        if norm:
            x = layers.BatchNormalization()(x)
        if activation:
            x = layers.Activation(activation)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, layers.Dense(outputs, activation=out_activation)(x))


def test_q4_accepts_the_reference_and_explains_mistakes():
    assert _status(lab03.q4, {"build_mlp": _mlp})[0] is Status.CORRECT
    cases = [
        (lambda: _mlp(outputs=5), "10 classes"),
        (lambda: _mlp(dropout=0), "Dropout"),
        (lambda: _mlp(norm=False), "BatchNormalization"),
        (lambda: _mlp(dropout=0.9), "between 0.1 and 0.5"),
        (lambda: _mlp(out_activation="softmax"), "from_logits"),
        (lambda: _mlp(hidden=(64,)), "two"),
        (lambda: _mlp(activation=None), "no activation"),
        (lambda: _mlp(hidden=(2048, 2048)), "parameters"),
        (lambda: "a model", "keras Model"),
    ]
    for build, words in cases:
        status, message = _status(lab03.q4, {"build_mlp": build})
        assert status is Status.INCORRECT and words in message, message
    assert _status(lab03.q4, {"build_mlp": _todo})[0] is Status.NOT_ATTEMPTED
