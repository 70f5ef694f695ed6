"""Lab 05 (autoencoders): the solution runs in fast mode, and every check judges answers well."""

from __future__ import annotations

import numpy as np
import pytest
from notebook_helpers import run_lab

from labkit.checks import Status, lab05

LAB = "05_autoencoders"


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


# ------------------------------------------------------------------ wrong answers
def _keras():
    import keras

    return keras, keras.layers


def _placeholder(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code.")


def _result(q, **ns):
    return q.result(ns)


def _assert_incorrect(result, *words: str) -> None:
    assert result.status is Status.INCORRECT, result
    for word in words:
        assert word in result.message, result.message


def _dense_ae(code_activation="relu", out_activation="sigmoid", reshape=True, extra=False):
    keras, layers = _keras()

    def make(code_size):
        enc = [keras.Input((28, 28, 1)), layers.Flatten()]
        if extra:
            enc.append(layers.Dense(128, activation="relu"))
        enc.append(layers.Dense(code_size, activation=code_activation))
        dec = [keras.Input((code_size,)), layers.Dense(784, activation=out_activation)]
        if reshape:
            dec.append(layers.Reshape((28, 28, 1)))
        return keras.Sequential(enc), keras.Sequential(dec)

    return make


def test_q1_right_and_wrong_dense_autoencoders() -> None:
    assert _result(lab05.q1, make_dense_autoencoder=_dense_ae()).status is Status.CORRECT
    _assert_incorrect(_result(lab05.q1, make_dense_autoencoder=_dense_ae(out_activation=None)),
                      "sigmoid")  # fmt: skip
    _assert_incorrect(_result(lab05.q1, make_dense_autoencoder=_dense_ae(reshape=False)), "Reshape")
    _assert_incorrect(_result(lab05.q1, make_dense_autoencoder=_dense_ae(code_activation=None)),
                      "ReLU")  # fmt: skip
    _assert_incorrect(_result(lab05.q1, make_dense_autoencoder=_dense_ae(extra=True)), "parameters")
    fixed = _dense_ae()
    _assert_incorrect(_result(lab05.q1, make_dense_autoencoder=lambda code_size: fixed(64)),
                      "code_size")  # fmt: skip
    keras, _ = _keras()
    _assert_incorrect(_result(lab05.q1, make_dense_autoencoder=lambda n: fixed(n)[0]), "two models")
    assert _result(lab05.q1).status is Status.NOT_ATTEMPTED
    assert _result(lab05.q1, make_dense_autoencoder=_placeholder).status is Status.NOT_ATTEMPTED


def _conv_encoder():
    keras, layers = _keras()
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(16),
    ])  # fmt: skip


def _conv_decoder(upsamplings=2, transpose=True, activation="sigmoid"):
    keras, layers = _keras()

    def make():
        up = [
            layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")
            if transpose
            else layers.UpSampling2D()
            for _ in range(upsamplings)
        ]
        return keras.Sequential([
            keras.Input((16,)), layers.Dense(7 * 7 * 8, activation="relu"),
            layers.Reshape((7, 7, 8)), *up,
            layers.Conv2D(1, 3, padding="same", activation=activation),
        ])  # fmt: skip

    return make


def test_q2_right_and_wrong_conv_decoders() -> None:
    enc = _conv_encoder()
    ok = _result(lab05.q2, conv_encoder=enc, make_conv_decoder=_conv_decoder())
    assert ok.status is Status.CORRECT, ok
    _assert_incorrect(_result(lab05.q2, conv_encoder=enc, make_conv_decoder=_conv_decoder(1)),
                      "(28, 28, 1)", "strides=2")  # fmt: skip
    _assert_incorrect(
        _result(lab05.q2, conv_encoder=enc, make_conv_decoder=_conv_decoder(transpose=False)),
        "Conv2DTranspose",
    )
    _assert_incorrect(
        _result(lab05.q2, conv_encoder=enc, make_conv_decoder=_conv_decoder(activation=None)),
        "sigmoid",
    )
    wrong_input = _result(lab05.q2, conv_encoder=enc, make_conv_decoder=lambda: _conv_encoder())
    assert wrong_input.status is Status.INCORRECT
    assert (
        _result(lab05.q2, conv_encoder=enc, make_conv_decoder=_placeholder).status
        is Status.NOT_ATTEMPTED
    )


def test_q3_right_and_wrong_noise() -> None:
    import tensorflow as tf

    def right(images, stddev=0.3):
        return tf.clip_by_value(images + tf.random.normal(tf.shape(images), stddev=stddev), 0, 1)

    assert _result(lab05.q3, add_noise=right).status is Status.CORRECT
    _assert_incorrect(_result(lab05.q3, add_noise=lambda x, s=0.3: x), "unchanged")
    _assert_incorrect(
        _result(lab05.q3, add_noise=lambda x, s=0.3: x + tf.random.normal(tf.shape(x), stddev=s)),
        "clip",
    )
    _assert_incorrect(
        _result(lab05.q3, add_noise=lambda x, s=0.3: right(x, 0.3)), "standard deviation"
    )
    _assert_incorrect(
        _result(lab05.q3, add_noise=lambda x, s=0.3: tf.clip_by_value(
            x + tf.random.uniform(tf.shape(x), 0, 2 * s), 0, 1)),
        "mean",
    )  # fmt: skip
    _assert_incorrect(
        _result(lab05.q3, add_noise=lambda x, s=0.3: tf.clip_by_value(
            x + tf.random.normal((28, 28, 1), stddev=s), 0, 1)),
        "same noise",
    )  # fmt: skip
    assert _result(lab05.q3, add_noise=_placeholder).status is Status.NOT_ATTEMPTED


def test_q4_right_and_wrong_scores() -> None:
    def errors(model, images):
        return (images - model.predict(images, verbose=0)) ** 2

    right = lambda m, x: np.mean(errors(m, x), axis=(1, 2, 3))  # noqa: E731
    assert _result(lab05.q4, reconstruction_error=right).status is Status.CORRECT
    _assert_incorrect(
        _result(lab05.q4, reconstruction_error=lambda m, x: np.mean(errors(m, x))), "one number"
    )
    _assert_incorrect(
        _result(lab05.q4, reconstruction_error=lambda m, x: np.sum(errors(m, x), axis=(1, 2, 3))),
        "784 times",
    )
    _assert_incorrect(
        _result(lab05.q4, reconstruction_error=lambda m, x: np.mean(errors(m, x), axis=-1)),
        "one value per pixel",
    )
    _assert_incorrect(
        _result(lab05.q4, reconstruction_error=lambda m, x: np.sqrt(right(m, x))), "root"
    )
    assert _result(lab05.q4, reconstruction_error=_placeholder).status is Status.NOT_ATTEMPTED


def test_synthetic_digits_are_images_in_range() -> None:
    from labkit.datasets.synthetic_digits import synthetic_digits

    digits = synthetic_digits(20, seed=1)
    assert digits.shape == (20, 28, 28, 1) and digits.dtype == np.float32
    assert 0 <= digits.min() and digits.max() <= 1 and 0.05 < digits.mean() < 0.4
    np.testing.assert_array_equal(digits, synthetic_digits(20, seed=1))
