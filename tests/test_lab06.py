"""Lab 06 (RNN slot filling on ATIS): the solution runs on the real data, the checks judge well."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dataset_or_skip
from notebook_helpers import run_lab

from labkit.checks import Status, lab06

LAB = "06_rnn_slot_filling"


# ------------------------------------------------------------------ the notebooks (fast mode)
@pytest.mark.notebook
def test_solution_runs_in_fast_mode_and_reports_sane_metrics() -> None:
    dataset_or_skip("atis")
    run = run_lab(LAB)
    assert not run.errors
    m = run.metrics
    assert m["fast_mode"]
    # 1,000 training sentences and 4 epochs (0.45 slot F1 seen): far from the target, far above
    # a model that only says 'O' (slot F1 0) or always 'flight' (intent accuracy about 0.71).
    assert 0.25 < m["slot_f1"] <= 1.0, m
    assert 0.6 < m["intent_accuracy"] <= 1.0, m
    assert 0 < m["train_seconds"] < 120


# ------------------------------------------------------------------ wrong answers
def _placeholder(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code.")


def _assert_incorrect(result, *words: str) -> None:
    assert result.status is Status.INCORRECT, result
    for word in words:
        assert word in result.message, result.message


def test_q1_rnn_step() -> None:
    import tensorflow as tf

    def right(x, h, w_xh, w_hh, b):
        return tf.tanh(x @ w_xh + h @ w_hh + b)

    assert lab06.q1.result({"rnn_step": right}).status is Status.CORRECT
    wrong = {
        "tanh": lambda x, h, w_xh, w_hh, b: x @ w_xh + h @ w_hh + b,
        "sigmoid": lambda x, h, w_xh, w_hh, b: tf.sigmoid(x @ w_xh + h @ w_hh + b),
        "previous state": lambda x, h, w_xh, w_hh, b: tf.tanh(x @ w_xh + b),
        "bias": lambda x, h, w_xh, w_hh, b: tf.tanh(x @ w_xh + h @ w_hh),
        "transposed": lambda x, h, w_xh, w_hh, b: tf.tanh(x @ w_xh + h @ tf.transpose(w_hh) + b),
        "(units, batch)": lambda x, h, w_xh, w_hh, b: tf.transpose(right(x, h, w_xh, w_hh, b)),
    }
    for word, step in wrong.items():
        _assert_incorrect(lab06.q1.result({"rnn_step": step}), word)
    assert lab06.q1.result({}).status is Status.NOT_ATTEMPTED
    assert lab06.q1.result({"rnn_step": _placeholder}).status is Status.NOT_ATTEMPTED


def _lstm(order="ifco", h_tanh=True, swap_out=False):
    import tensorflow as tf

    def step(x, h_prev, c_prev, kernel, recurrent, bias):
        z = dict(
            zip(order, tf.split(x @ kernel + h_prev @ recurrent + bias, 4, axis=-1), strict=True)
        )
        c = tf.sigmoid(z["f"]) * c_prev + tf.sigmoid(z["i"]) * tf.tanh(z["c"])
        h = tf.sigmoid(z["o"]) * (tf.tanh(c) if h_tanh else c)
        return (c, h) if swap_out else (h, c)

    return step


def test_q2_lstm_step() -> None:
    assert lab06.q2.result({"lstm_step": _lstm()}).status is Status.CORRECT
    _assert_incorrect(lab06.q2.result({"lstm_step": _lstm(order="ifoc")}), "order")
    _assert_incorrect(lab06.q2.result({"lstm_step": _lstm(h_tanh=False)}), "tanh")
    _assert_incorrect(lab06.q2.result({"lstm_step": _lstm(swap_out=True)}), "swapped")
    _assert_incorrect(lab06.q2.result({"lstm_step": lambda *a: _lstm()(*a)[0]}), "(h, c)")
    assert lab06.q2.result({"lstm_step": _placeholder}).status is Status.NOT_ATTEMPTED


def test_q3_pad_batch() -> None:
    def right(sequences):
        x, mask = lab06.reference_pad_batch(sequences)
        return x, mask

    assert lab06.q3.result({"pad_batch": right}).status is Status.CORRECT
    import keras

    def with_keras(sequences):
        x = keras.utils.pad_sequences(sequences, padding="post", value=0)
        return x, x != 0

    assert lab06.q3.result({"pad_batch": with_keras}).status is Status.CORRECT

    def pre(sequences):
        x = keras.utils.pad_sequences(sequences, padding="pre", value=0)
        return x, x != 0

    _assert_incorrect(lab06.q3.result({"pad_batch": pre}), "at the start")
    _assert_incorrect(
        lab06.q3.result({"pad_batch": lambda s: (right(s)[0], ~right(s)[1])}), "inverted"
    )
    _assert_incorrect(
        lab06.q3.result({"pad_batch": lambda s: (right(s)[0].astype(float), right(s)[1])}),
        "dtype",
    )
    _assert_incorrect(
        lab06.q3.result({"pad_batch": lambda s: (right(s)[0], right(s)[1].astype(int))}),
        "boolean",
    )

    def too_long(sequences):
        x = keras.utils.pad_sequences(sequences, maxlen=10, padding="post")
        return x, x != 0

    _assert_incorrect(lab06.q3.result({"pad_batch": too_long}), "longest")
    assert lab06.q3.result({"pad_batch": _placeholder}).status is Status.NOT_ATTEMPTED


def _joint(bidirectional=True, mask_zero=True, as_dict=True):
    import keras
    from keras import layers

    def build():
        inputs = keras.Input(shape=(None,), dtype="int32")
        x = layers.Embedding(50, 8, mask_zero=mask_zero)(inputs)
        rnn = layers.LSTM(6, return_sequences=True, return_state=True)
        if bidirectional:
            seq, fh, _, bh, _ = layers.Bidirectional(rnn)(x)
            last = layers.Concatenate()([fh, bh])
        else:
            seq, last, _ = rnn(x)
        slots = layers.Dense(7, activation="softmax", name="slots")(seq)
        intent = layers.Dense(5, activation="softmax", name="intent")(last)
        return keras.Model(
            inputs, {"slots": slots, "intent": intent} if as_dict else [slots, intent]
        )

    return build


def _q4(build) -> object:
    return lab06.q4.result(
        {"build_joint_model": build, "VOCAB_SIZE": 50, "N_SLOTS": 7, "N_INTENTS": 5}
    )


def test_q4_joint_model() -> None:
    assert _q4(_joint()).status is Status.CORRECT
    _assert_incorrect(_q4(_joint(bidirectional=False)), "Bidirectional")
    _assert_incorrect(_q4(_joint(mask_zero=False)), "mask_zero")
    _assert_incorrect(_q4(_joint(as_dict=False)), "dict")
    assert _q4(_placeholder).status is Status.NOT_ATTEMPTED


def test_reference_padding_keeps_sequences_at_the_start() -> None:
    x, mask = lab06.reference_pad_batch([np.array([3, 4]), np.array([5])])
    np.testing.assert_array_equal(x, [[3, 4], [5, 0]])
    np.testing.assert_array_equal(mask, [[True, True], [True, False]])


def _cnn(widths=(1, 2, 3), mask_inputs=True, mask_outputs=True, softmax=True, lstm=False):
    import keras
    from keras import layers, ops

    def build():
        inputs = keras.Input(shape=(None,), dtype="int32")
        words = ops.expand_dims(ops.cast(ops.not_equal(inputs, 0), "float32"), -1)
        x = layers.Embedding(50, 8)(inputs)
        x = x * words if mask_inputs else x
        if lstm:
            x = layers.LSTM(8, return_sequences=True)(x)
        pooled = []
        for width in widths:
            detectors = layers.Conv1D(6, width, padding="same", activation="relu")(x)
            pooled.append(ops.max(detectors * words if mask_outputs else detectors, axis=1))
        intent = layers.Dense(5, activation="softmax" if softmax else None)(
            layers.Concatenate()(pooled)
        )
        return keras.Model(inputs, intent)

    return build


def _q5(build) -> object:
    return lab06.q5.result({"build_intent_cnn": build, "VOCAB_SIZE": 50, "N_INTENTS": 5})


def test_q5_intent_cnn() -> None:
    assert _q5(_cnn()).status is Status.CORRECT
    _assert_incorrect(_q5(_cnn(widths=(3,))), "(1, 2, 3)")
    _assert_incorrect(_q5(_cnn(mask_inputs=False)), "padding changes the intent")
    _assert_incorrect(_q5(_cnn(mask_outputs=False)), "padding changes the intent")
    _assert_incorrect(_q5(_cnn(softmax=False)), "softmax")
    _assert_incorrect(_q5(_cnn(lstm=True)), "LSTM")
    _assert_incorrect(_q5(_joint()), "dict")
    assert _q5(_placeholder).status is Status.NOT_ATTEMPTED
