"""Lab 04 (convolutional networks): the notebook runs in fast mode and its checks work."""

from __future__ import annotations

import numpy as np
import pytest
from notebook_helpers import run_lab

from labkit.checks import Status, lab04

LAB = "04_convolutional_networks"
pytestmark = pytest.mark.notebook


def test_solution_runs_in_fast_mode_and_reports_sane_metrics():
    run = run_lab(LAB)
    assert not run.errors
    # 16 steps in fast mode: the test accuracy is low (0.4-0.55 seen) but far above chance (0.1).
    assert 0.3 < run.metrics["test_accuracy"] <= 1.0
    assert 0 < run.metrics["train_seconds"] < 120
    assert 10_000 < run.metrics["params"] < 2_000_000
    assert run.metrics["fast_mode"] is True


# --- wrong answers, one namespace per exercise ---------------------------------------------


def _q1_namespace() -> dict:
    return {"x_image": lab04.reference_x_image(), **lab04.reference_filters()}


def _status(q, ns):
    result = q.result(ns)
    return result.status, result.message


def test_q1_accepts_the_reference_and_explains_mistakes():
    assert _status(lab04.q1, _q1_namespace())[0] is Status.CORRECT
    ns = _q1_namespace()
    ns["x_image"] = -np.ones((9, 9))
    for i in range(9):  # the X drawn over the whole 9x9, border included
        ns["x_image"][i, i] = ns["x_image"][i, 8 - i] = 1
    status, message = _status(lab04.q1, ns)
    assert status is Status.INCORRECT and "border" in message
    ns = _q1_namespace()
    ns["diag"] = ns["anti_diag"]
    status, message = _status(lab04.q1, ns)
    assert status is Status.INCORRECT and "mirrored" in message
    ns = _q1_namespace()
    ns["small_x"] = np.zeros((2, 2))
    status, message = _status(lab04.q1, ns)
    assert status is Status.INCORRECT and "shape" in message
    assert _status(lab04.q1, {"x_image": ...})[0] is Status.NOT_ATTEMPTED


def test_q2_explains_mistakes():
    import tensorflow as tf

    def good(images, filters, strides=1):
        k = filters.shape
        return tf.nn.conv2d(images, filters, strides, "VALID") / (k[0] * k[1] * k[2])

    def sums(images, filters, strides=1):
        return tf.nn.conv2d(images, filters, strides, "VALID")

    def same(images, filters, strides=1):
        return tf.nn.conv2d(images, filters, strides, "SAME") / 9

    def nine(images, filters, strides=1):
        return tf.nn.conv2d(images, filters, strides, "VALID") / 9

    def no_strides(images, filters, strides=1):
        return good(images, filters)

    def todo(images, filters, strides=1):
        raise NotImplementedError

    assert _status(lab04.q2, {"mean_conv": good})[0] is Status.CORRECT
    for f, words in [
        (sums, "9 times"),
        (same, "VALID"),
        (nine, "channels"),
        (no_strides, "strides"),
    ]:
        status, message = _status(lab04.q2, {"mean_conv": f})
        assert status is Status.INCORRECT and words in message, (f.__name__, message)
    assert _status(lab04.q2, {"mean_conv": todo})[0] is Status.NOT_ATTEMPTED


def test_q3_explains_mistakes():
    import tensorflow as tf

    def good(m):
        return tf.nn.max_pool2d(m, 2, 2, "SAME")

    def valid(m):
        return tf.nn.max_pool2d(m, 2, 2, "VALID")

    def stride1(m):
        return tf.nn.max_pool2d(m, 2, 1, "VALID")

    def average(m):
        return tf.nn.avg_pool2d(m, 2, 2, "SAME")

    assert _status(lab04.q3, {"max_pool_s2": good})[0] is Status.CORRECT
    for f, words in [(valid, "SAME"), (stride1, "2 pixels"), (average, "averages")]:
        status, message = _status(lab04.q3, {"max_pool_s2": f})
        assert status is Status.INCORRECT and words in message, (f.__name__, message)
    assert _status(lab04.q3, {})[0] is Status.NOT_ATTEMPTED


def _cnn(outputs=10, batchnorm=True, dropout=True, pool=True):
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    x = inputs
    for filters in (8, 16):
        x = layers.Conv2D(filters, 3, padding="same")(x)
        if batchnorm:
            x = layers.BatchNormalization()(x)
        if pool:
            x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    if dropout:
        x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(outputs)(x))


def test_q4_explains_mistakes():
    assert _status(lab04.q4, {"build_cnn": _cnn})[0] is Status.CORRECT
    cases = [
        (lambda: _cnn(outputs=5), "10 classes"),
        (lambda: _cnn(batchnorm=False), "BatchNormalization"),
        (lambda: _cnn(dropout=False), "Dropout"),
        (lambda: _cnn(pool=False), "MaxPooling2D"),
        (lambda: "a model", "keras Model"),
    ]
    for build, words in cases:
        status, message = _status(lab04.q4, {"build_cnn": build})
        assert status is Status.INCORRECT and words in message, message


def test_q5_explains_mistakes():
    import keras
    from keras import layers

    model = _cnn()
    convs = [la for la in model.layers if isinstance(la, layers.Conv2D)]
    good = keras.Model(model.inputs, [la.output for la in convs])
    assert _status(lab04.q5, {"model": model, "feature_model": good})[0] is Status.CORRECT
    first_only = keras.Model(model.inputs, convs[0].output)
    status, message = _status(lab04.q5, {"model": model, "feature_model": first_only})
    assert status is Status.INCORRECT and "one output per convolution" in message
    bn_outputs = keras.Model(
        model.inputs, [la.output for la in model.layers if isinstance(la, layers.MaxPooling2D)]
    )
    status, message = _status(lab04.q5, {"model": model, "feature_model": bn_outputs})
    assert status is Status.INCORRECT
    assert _status(lab04.q5, {"model": model, "feature_model": ...})[0] is Status.NOT_ATTEMPTED
