"""Lab 05 (autoencoders): the solution runs in fast mode, and every check judges answers well."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from check_catalogue import Case, verdict_tests
from notebook_helpers import run_lab

from labkit.checks import Status, lab05

LAB = "05_autoencoders"
NOT_ATTEMPTED, INCORRECT = Status.NOT_ATTEMPTED, Status.INCORRECT


# ------------------------------------------------------------------ the notebooks (fast mode)
@pytest.mark.notebook
def test_solution_runs_in_fast_mode_and_reports_sane_metrics() -> None:
    run = run_lab(LAB)
    assert not run.errors
    m = run.metrics
    assert m["fast_mode"]
    # 2,000 images and one epoch: the models have learnt something but not much (an untrained
    # sigmoid output of 0.5 everywhere scores about 0.17).
    assert 0.005 < m["dense_mse"] < 0.15
    assert 0.005 < m["conv_mse"] < 0.15
    assert m["mse_ratio"] == pytest.approx(m["conv_mse"] / m["dense_mse"], rel=1e-6)
    assert 0.005 < m["denoise_mse"] < 0.15
    assert 0 < m["train_seconds"] < 120


# ------------------------------------------------------------------ right answers
def _dense_ae(code_activation="relu", out_activation="sigmoid", reshape=True, extra=False):
    import keras
    from keras import layers

    def make(code_size):
        enc = [keras.Input((28, 28, 1)), layers.Flatten()]
        if extra:
            enc.append(layers.Dense(128, activation="relu"))
        enc.append(layers.Dense(code_size, activation=code_activation))
        dec = [keras.Input((code_size,)), layers.Dense(784, activation=out_activation)]
        if reshape:
            dec.append(layers.Reshape((28, 28, 1)))
        return keras.Sequential(enc), keras.Sequential(dec)

    return functools.cache(make)  # the checks call it often: build each model once


CODE = 16


def _conv_encoder():
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(CODE),
        ]
    )


def _conv_decoder(
    filters=16,
    kernel=4,
    ups=2,
    transpose=True,
    last="sigmoid",
    code=CODE,
    channels=32,
    dense="relu",
):
    """The exercise's decoder; the arguments make the usual mistakes."""
    import keras
    from keras import layers

    def make():
        stack = [
            keras.Input((code,)),
            layers.Dense(7 * 7 * channels, activation=dense),
            layers.Reshape((7, 7, channels)),
        ]
        for i in range(ups):
            n, activation = (1, last) if i == ups - 1 else (filters, "relu")
            if transpose:
                stack.append(
                    layers.Conv2DTranspose(
                        n, kernel, strides=2, padding="same", activation=activation
                    )
                )
            else:
                stack += [
                    layers.UpSampling2D(),
                    layers.Conv2D(n, 3, padding="same", activation=activation),
                ]
        return keras.Sequential(stack)

    return functools.cache(make)  # the checks call it often: build each model once


def _noise(images, stddev=0.3):
    import tensorflow as tf

    return tf.clip_by_value(images + tf.random.normal(tf.shape(images), stddev=stddev), 0, 1)


def _errors(model, images):
    return (images - model.predict(images, verbose=0)) ** 2


def _score(model, images):
    return np.mean(_errors(model, images), axis=(1, 2, 3))


def answers() -> dict[str, dict]:
    """A right answer to every exercise: the namespace its check reads."""
    return {
        "q1": {"make_dense_autoencoder": _dense_ae()},
        "q2": {"conv_encoder": _conv_encoder(), "make_conv_decoder": _conv_decoder()},
        "q3": {"add_noise": _noise},
        "q4": {"reconstruction_error": _score},
        "q5": _threshold_namespace(np.percentile(_HELD_OUT, 98)),
    }


# q5: 500 held-out errors and 200 digits' errors, spread so that the threshold matters
_HELD_OUT = np.random.default_rng(5).gamma(4.0, 0.005, size=500)
_DIGITS = np.random.default_rng(6).gamma(4.0, 0.008, size=200)


def _threshold_namespace(threshold) -> dict:
    return {
        "my_threshold": threshold,
        "held_out_errors": _HELD_OUT,
        "scores": {"Fashion-MNIST test": _HELD_OUT[:100], "digits": _DIGITS},
    }


# ------------------------------------------------------------------ wrong answers
def _placeholder(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code.")


def _q1_cases(right: dict) -> list[Case]:
    import keras

    fixed = _dense_ae()

    def functional(code_size):
        inputs = keras.Input((28, 28, 1))
        code = keras.layers.Dense(code_size, activation="relu")(keras.layers.Flatten()(inputs))
        return keras.Model(inputs, code), fixed(code_size)[1]

    def make(f):
        return {"make_dense_autoencoder": f}

    return [
        Case(make(_dense_ae(out_activation=None)), INCORRECT, "sigmoid"),
        Case(make(_dense_ae(reshape=False)), INCORRECT, "Reshape"),
        Case(make(_dense_ae(code_activation=None)), INCORRECT, "ReLU"),
        Case(make(_dense_ae(extra=True)), INCORRECT, "parameters"),
        Case(make(lambda code_size: fixed(64)), INCORRECT, "code_size"),
        Case(make(lambda n: fixed(n)[0]), INCORRECT, "two models"),
        Case(make(functional), INCORRECT, "keras.Sequential"),
        Case(
            make(lambda n: (keras.Sequential([keras.layers.Flatten()]), fixed(n)[1])),
            INCORRECT,
            "keras.Input",
        ),
        Case({}, NOT_ATTEMPTED, "not defined yet"),
        Case(make(_placeholder), NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q2_cases(right: dict) -> list[Case]:
    def make(f):
        return {**right, "make_conv_decoder": f}

    return [
        Case(make(_conv_decoder(ups=1)), INCORRECT, "strides=2"),
        Case(make(_conv_decoder(transpose=False)), INCORRECT, "Conv2DTranspose"),
        Case(make(_conv_decoder(last=None)), INCORRECT, "sigmoid"),
        Case(make(_conv_decoder(kernel=3)), INCORRECT, "4x4 kernels"),
        Case(make(_conv_decoder(filters=8)), INCORRECT, "16 filters"),
        Case(make(_conv_decoder(code=8)), INCORRECT, "CODE_SIZE"),
        Case(make(_conv_decoder(channels=64)), INCORRECT, "32 channels"),
        Case(make(_conv_decoder(dense=None)), INCORRECT, "Dense(7 * 7 * 32, activation='relu')"),
        Case(make(_conv_encoder), INCORRECT, "input shape"),
        Case(make(_placeholder), NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q3_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    def uniform(x, s=0.3):
        return tf.clip_by_value(x + tf.random.uniform(tf.shape(x), 0, 2 * s), 0, 1)

    def one_per_image(x, s=0.3):
        noise = tf.random.normal((tf.shape(x)[0], 1, 1, 1), stddev=s)
        return tf.clip_by_value(x + noise, 0, 1)

    def with_numpy(x, s=0.3):  # fine eagerly; inside tf.data the noise would be drawn once
        noise = np.random.default_rng().normal(scale=s, size=x.shape).astype("float32")
        return tf.clip_by_value(x + noise, 0, 1)

    def fixed_numpy(x, s=0.3):  # traces as a graph, with the noise drawn once: a constant
        noise = np.random.normal(scale=s, size=(64, 28, 28, 1)).astype("float32")
        return tf.clip_by_value(x + noise, 0, 1)

    return [
        Case({"add_noise": fixed_numpy}, INCORRECT, "drawn once"),
        Case({"add_noise": lambda x, s=0.3: x}, INCORRECT, "unchanged"),
        Case(
            {"add_noise": lambda x, s=0.3: x + tf.random.normal(tf.shape(x), stddev=s)},
            INCORRECT,
            "clip",
        ),
        Case({"add_noise": lambda x, s=0.3: _noise(x, 0.3)}, INCORRECT, "standard deviation"),
        Case({"add_noise": uniform}, INCORRECT, "mean"),
        Case(
            {
                "add_noise": lambda x, s=0.3: tf.clip_by_value(
                    x + tf.random.normal((28, 28, 1), stddev=s), 0, 1
                )
            },
            INCORRECT,
            "same noise",
        ),
        Case({"add_noise": one_per_image}, INCORRECT, "every pixel"),
        Case({"add_noise": with_numpy}, INCORRECT, "Use tf.random.normal"),
        Case({"add_noise": _placeholder}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q4_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    return [
        Case(
            {"reconstruction_error": lambda m, x: np.mean(_errors(m, x))}, INCORRECT, "one number"
        ),
        Case(
            {"reconstruction_error": lambda m, x: np.sum(_errors(m, x), axis=(1, 2, 3))},
            INCORRECT,
            "784 times",
        ),
        Case(
            {"reconstruction_error": lambda m, x: np.mean(_errors(m, x), axis=-1)},
            INCORRECT,
            "one value per pixel",
        ),
        Case({"reconstruction_error": lambda m, x: np.sqrt(_score(m, x))}, INCORRECT, "root"),
        Case(
            {"reconstruction_error": lambda m, x: tf.constant(_score(m, x))},
            INCORRECT,
            "NumPy array",
        ),
        Case({"reconstruction_error": _placeholder}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q5_cases(right: dict) -> list[Case]:
    def ns(threshold, **changes):
        return {**_threshold_namespace(threshold), **changes}

    return [
        Case(ns(np.percentile(_HELD_OUT, 95)), INCORRECT, "the budget is 2%"),
        Case(ns(np.percentile(_HELD_OUT, 99.5)), INCORRECT, "Lower it"),
        Case(ns(np.percentile(_HELD_OUT, 99)), INCORRECT, "spend the false alarms"),
        Case(ns(float(_HELD_OUT.max()) + 1), INCORRECT, "Lower it"),
        Case(ns(np.array([0.1, 0.2])), INCORRECT, "one number"),
        Case(ns("0.02"), INCORRECT, "one number"),
        Case(ns(float("nan")), INCORRECT, "one number"),
        Case(ns(0.03, held_out_errors=np.ones((3, 2))), INCORRECT, "one error per image"),
        Case(ns(0.03, scores={"noise": _DIGITS}), INCORRECT, "'digits'"),
        Case(ns(...), NOT_ATTEMPTED, "not defined yet"),
    ]


def test_q5_accepts_every_threshold_that_keeps_to_the_budget_and_catches_as_much() -> None:
    best = lab05.best_threshold(_HELD_OUT)
    assert np.mean(_HELD_OUT > best) <= lab05.FALSE_ALARM_BUDGET
    assert np.mean(_HELD_OUT > np.nextafter(best, 0)) > lab05.FALSE_ALARM_BUDGET
    result = lab05.q5.result(_threshold_namespace(best))
    assert result.status is Status.CORRECT, result


def wrong_answers() -> dict[str, list[Case]]:
    """Wrong answers to every exercise, with the status and words each must get."""
    right = answers()
    cases = {"q1": _q1_cases, "q2": _q2_cases, "q3": _q3_cases, "q4": _q4_cases, "q5": _q5_cases}
    return {q: make(right[q]) for q, make in cases.items()}


test_the_right_answer_is_correct, test_wrong_answers_are_incorrect_with_a_useful_reason = (
    verdict_tests(lab05, answers, wrong_answers)
)


def test_synthetic_digits_are_images_in_range() -> None:
    from labkit.datasets.synthetic_digits import synthetic_digits

    digits = synthetic_digits(20, seed=1)
    assert digits.shape == (20, 28, 28, 1) and digits.dtype == np.float32
    assert 0 <= digits.min() and digits.max() <= 1 and 0.05 < digits.mean() < 0.4
    np.testing.assert_array_equal(digits, synthetic_digits(20, seed=1))


def test_show_reconstructions_puts_inputs_above_their_reconstructions() -> None:
    import matplotlib

    matplotlib.use("agg")
    from labkit.lab import plots

    images = np.random.default_rng(0).uniform(size=(10, 28, 28, 1))
    fig = plots.show_reconstructions(images, 1 - images, n=4, title="Dense")
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 8 and "Dense" in fig._suptitle.get_text()
    np.testing.assert_allclose(shown[4], 1 - images[0, ..., 0])
