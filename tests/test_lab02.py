"""Lab 02 (logistic regression): the notebook runs in fast mode and its checks work."""

from __future__ import annotations

import pytest
from notebook_helpers import run_lab

from labkit.checks import Status, lab02

LAB = "02_logistic_regression"
pytestmark = pytest.mark.notebook


def test_solution_runs_in_fast_mode_and_reports_sane_metrics():
    run = run_lab(LAB)
    assert not run.errors
    assert 0.5 < run.metrics["test_accuracy"] <= 1.0
    assert 0.4 < run.metrics["handwritten_test_accuracy"] <= 1.0
    assert 0 < run.metrics["train_seconds"] < 120
    assert run.metrics["fast_mode"] is True


# --- wrong answers, one namespace per exercise ---------------------------------------------


def _status(q, ns):
    result = q.result(ns)
    return result.status, result.message


def _sigmoid(z):
    import tensorflow as tf

    return 1 / (1 + tf.exp(-z))


def _softmax(z):
    import tensorflow as tf

    e = tf.exp(z - tf.reduce_max(z, axis=-1, keepdims=True))
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def _cross_entropy(y, probs):
    import tensorflow as tf

    return -tf.reduce_mean(tf.math.log(tf.gather(probs, y, axis=1, batch_dims=1)))


def _train_step(W, b, x, y, learning_rate, sign=1.0, update_b=True, use_lr=True):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = _cross_entropy(y, _softmax(x @ W + b))
    grad_W, grad_b = tape.gradient(loss, [W, b])
    lr = learning_rate if use_lr else 1.0
    W.assign_sub(sign * lr * grad_W)
    if update_b:
        b.assign_sub(sign * lr * grad_b)
    return loss


def test_q1_accepts_the_reference_and_explains_mistakes():
    import tensorflow as tf

    def naive(z):
        e = tf.exp(z)
        return e / tf.reduce_sum(e, axis=-1, keepdims=True)

    def columns(z):
        e = tf.exp(z - tf.reduce_max(z, axis=0, keepdims=True))
        return e / tf.reduce_sum(e, axis=0, keepdims=True)

    def flipped_sigmoid(z):
        return 1 / (1 + tf.exp(z))

    def todo(z):
        raise NotImplementedError

    ns = {"sigmoid": _sigmoid, "softmax": _softmax}
    assert _status(lab02.q1, ns)[0] is Status.CORRECT
    cases = [
        ({"softmax": naive}, "Subtract"),
        ({"softmax": columns}, "columns"),
        ({"sigmoid": flipped_sigmoid}, "exp(-z)"),
    ]
    for change, words in cases:
        status, message = _status(lab02.q1, {**ns, **change})
        assert status is Status.INCORRECT and words in message, message
    assert _status(lab02.q1, {**ns, "softmax": todo})[0] is Status.NOT_ATTEMPTED
    assert _status(lab02.q1, {"sigmoid": _sigmoid})[0] is Status.NOT_ATTEMPTED


def test_q2_explains_mistakes():
    import tensorflow as tf

    def summed(y, probs):
        return -tf.reduce_sum(tf.math.log(tf.gather(probs, y, axis=1, batch_dims=1)))

    def positive(y, probs):
        return -_cross_entropy(y, probs)

    def per_image(y, probs):
        return -tf.math.log(tf.gather(probs, y, axis=1, batch_dims=1))

    def every_class(y, probs):
        return -tf.reduce_mean(tf.reduce_sum(tf.math.log(probs), axis=1))

    assert _status(lab02.q2, {"cross_entropy": _cross_entropy})[0] is Status.CORRECT
    cases = [(summed, "mean"), (positive, "minus"), (per_image, "one number"),
             (every_class, "true class")]  # fmt: skip
    for f, words in cases:
        status, message = _status(lab02.q2, {"cross_entropy": f})
        assert status is Status.INCORRECT and words in message, (f.__name__, message)
    assert _status(lab02.q2, {"cross_entropy": ...})[0] is Status.NOT_ATTEMPTED


def test_q3_explains_mistakes():
    base = {"softmax": _softmax, "cross_entropy": _cross_entropy}

    def with_(**kwargs):
        return lambda W, b, x, y, lr: _train_step(W, b, x, y, lr, **kwargs)

    def no_update(W, b, x, y, lr):
        return _cross_entropy(y, _softmax(x @ W + b))

    def no_return(W, b, x, y, lr):
        _train_step(W, b, x, y, lr)

    assert _status(lab02.q3, {**base, "train_step": _train_step})[0] is Status.CORRECT
    cases = [
        (with_(sign=-1.0), "subtract"),
        (with_(update_b=False), "b did not"),
        (with_(use_lr=False), "learning rate"),
        (no_update, "did not change"),
        (no_return, "return the loss"),
    ]
    for f, words in cases:
        status, message = _status(lab02.q3, {**base, "train_step": f})
        assert status is Status.INCORRECT and words in message, message
    assert _status(lab02.q3, base)[0] is Status.NOT_ATTEMPTED


def _model(units=10, activation=None, normalize=False, hidden=False):
    import keras
    import numpy as np
    from keras import layers

    stack = [keras.Input((28, 28)), layers.Flatten()]
    if normalize:  # a learner's own extra step: allowed
        normalizer = layers.Normalization()
        normalizer.adapt(np.random.default_rng(0).uniform(size=(64, 784)).astype("float32"))
        stack.append(normalizer)
    stack += [layers.Dense(32)] if hidden else []
    return keras.Sequential([*stack, layers.Dense(units, activation=activation)])


def test_q4_explains_mistakes():
    assert _status(lab02.q4, {"model": _model()})[0] is Status.CORRECT
    assert _status(lab02.q4, {"model": _model(normalize=True)})[0] is Status.CORRECT
    cases = [
        (_model(units=5), "10 classes"),
        (_model(activation="softmax"), "from_logits"),
        (_model(hidden=True), "single linear layer"),
        ("a model", "keras Model"),
    ]
    for model, words in cases:
        status, message = _status(lab02.q4, {"model": model})
        assert status is Status.INCORRECT and words in message, message
    assert _status(lab02.q4, {"model": ...})[0] is Status.NOT_ATTEMPTED
