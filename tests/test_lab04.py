"""Lab 04 (convolutional networks): the notebook runs in fast mode and its checks work."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from check_catalogue import Case, verdict_tests
from notebook_helpers import run_lab

from labkit.checks import Status, lab04

LAB = "04_convolutional_networks"
NOT_ATTEMPTED, INCORRECT = Status.NOT_ATTEMPTED, Status.INCORRECT


@pytest.mark.notebook
def test_solution_runs_in_fast_mode_and_reports_sane_metrics():
    run = run_lab(LAB)
    assert not run.errors
    # 16 steps in fast mode: the test accuracy is low (0.4-0.55 seen) but far above chance (0.1).
    assert 0.3 < run.metrics["test_accuracy"] <= 1.0
    assert 0 < run.metrics["train_seconds"] < 120
    assert 10_000 < run.metrics["params"] < 2_000_000
    assert run.metrics["fast_mode"] is True


# ------------------------------------------------------------- right answers
def _mean_conv(images, filters, strides=1):
    import tensorflow as tf

    k = filters.shape
    return tf.nn.conv2d(images, filters, strides, "VALID") / (k[0] * k[1] * k[2])


def _max_pool(maps):
    import tensorflow as tf

    return tf.nn.max_pool2d(maps, 2, 2, "SAME")


@functools.cache  # the checks call the builder often: build each model once
def _cnn(
    outputs=10,
    filters=(32, 64),
    batchnorm=True,
    rates=(0.1, 0.3),
    pool=True,
    augment=True,
    hidden=128,
    bias=False,
    out_activation=None,
):
    """The exercise's CNN, its conv blocks kept small: 3x3 convolutions and 2x2 pooling."""
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    x = keras.Sequential([layers.RandomFlip("horizontal")])(inputs) if augment else inputs
    for i, n in enumerate(filters):
        x = layers.Conv2D(n, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x) if pool else x
        x = layers.Dropout(rates[0])(x) if i == 1 else x
    x = layers.Flatten()(x)
    x = layers.Dense(hidden, use_bias=bias)(x)
    x = layers.BatchNormalization()(x) if batchnorm else x
    x = layers.ReLU()(x)
    x = layers.Dropout(rates[1])(x)
    return keras.Model(inputs, layers.Dense(outputs, activation=out_activation)(x))


def _feature_model(model):
    import keras

    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    return keras.Model(model.input, [la.output for la in convs])


def answers() -> dict[str, dict]:
    """A right answer to every exercise: the namespace its check reads."""
    model = _cnn()
    return {
        "q1": {"x_image": lab04.reference_x_image(), **lab04.reference_filters()},
        "q2": {"mean_conv": _mean_conv},
        "q3": {"max_pool_s2": _max_pool},
        "q4": {"build_cnn": _cnn},
        "q5": {"model": model, "feature_model": _feature_model(model)},
    }


# ------------------------------------------------------------- wrong answers
def _todo(*args, **kwargs):
    raise NotImplementedError


def _q1_cases(right: dict) -> list[Case]:
    whole = -np.ones((9, 9), np.float32)
    for i in range(9):  # the X drawn over the whole 9x9, border included
        whole[i, i] = whole[i, 8 - i] = 1
    return [
        Case({**right, "x_image": whole}, INCORRECT, "border"),
        Case({**right, "diag": right["anti_diag"]}, INCORRECT, "mirrored"),
        Case({**right, "small_x": np.zeros((2, 2))}, INCORRECT, "shape"),
        Case({**right, "x_image": right["x_image"].astype(int)}, INCORRECT, "float"),
        Case({**right, "x_image": ...}, NOT_ATTEMPTED, "not defined yet"),
    ]


def _q2_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    def sums(images, filters, strides=1):
        return tf.nn.conv2d(images, filters, strides, "VALID")

    def same(images, filters, strides=1):
        return tf.nn.conv2d(images, filters, strides, "SAME") / 9

    def nine(images, filters, strides=1):
        return tf.nn.conv2d(images, filters, strides, "VALID") / 9

    def no_strides(images, filters, strides=1):
        return _mean_conv(images, filters)

    return [
        Case({"mean_conv": sums}, INCORRECT, "9 times"),
        Case({"mean_conv": same}, INCORRECT, "VALID"),
        Case({"mean_conv": nine}, INCORRECT, "channels"),
        Case({"mean_conv": no_strides}, INCORRECT, "strides"),
        Case({"mean_conv": _todo}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q3_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    return [
        Case({"max_pool_s2": lambda m: tf.nn.max_pool2d(m, 2, 2, "VALID")}, INCORRECT, "SAME"),
        Case({"max_pool_s2": lambda m: tf.nn.max_pool2d(m, 2, 1, "VALID")}, INCORRECT, "2 pixels"),
        Case({"max_pool_s2": lambda m: tf.nn.avg_pool2d(m, 2, 2, "SAME")}, INCORRECT, "averages"),
        Case({}, NOT_ATTEMPTED, "not defined yet"),
    ]


def _q4_cases(right: dict) -> list[Case]:
    def build(**kwargs):
        return {"build_cnn": lambda: _cnn(**kwargs)}

    return [
        Case(build(outputs=5), INCORRECT, "10 classes"),
        Case(build(batchnorm=False), INCORRECT, "BatchNormalization"),
        Case(build(rates=(0.1, 0.5)), INCORRECT, "dropout rates"),
        Case(build(pool=False), INCORRECT, "MaxPooling2D"),
        Case(build(augment=False), INCORRECT, "augment"),
        Case(build(filters=(16, 32)), INCORRECT, "32 then 64"),
        Case(build(hidden=64), INCORRECT, "Dense(128)"),
        Case(build(bias=True), INCORRECT, "no bias"),
        Case(build(out_activation="softmax"), INCORRECT, "from_logits"),
        Case({"build_cnn": lambda: "a model"}, INCORRECT, "Keras model"),
        Case({"build_cnn": _todo}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q5_cases(right: dict) -> list[Case]:
    import keras
    from keras import layers

    model = right["model"]
    convs = [la for la in model.layers if isinstance(la, layers.Conv2D)]
    pools = [la for la in model.layers if isinstance(la, layers.MaxPooling2D)]
    other = _feature_model(_cnn.__wrapped__())  # the same shapes, another model's convolutions
    return [
        Case(
            {**right, "feature_model": keras.Model(model.input, convs[0].output)},
            INCORRECT,
            "one output per convolution",
        ),
        Case(
            {**right, "feature_model": keras.Model(model.input, [la.output for la in pools])},
            INCORRECT,
            "is not the output",
        ),
        Case({**right, "feature_model": other}, INCORRECT, "is not the output"),
        Case({**right, "model": "overwritten"}, INCORRECT, "Keras model"),
        Case({**right, "feature_model": ...}, NOT_ATTEMPTED, "not defined yet"),
    ]


def wrong_answers() -> dict[str, list[Case]]:
    """Wrong answers to every exercise, with the status and words each must get."""
    right = answers()
    cases = {"q1": _q1_cases, "q2": _q2_cases, "q3": _q3_cases, "q4": _q4_cases, "q5": _q5_cases}
    return {q: make(right[q]) for q, make in cases.items()}


test_the_right_answer_is_correct, test_wrong_answers_are_incorrect_with_a_useful_reason = (
    verdict_tests(lab04, answers, wrong_answers)
)
