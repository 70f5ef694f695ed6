"""Lab 06 (RNN slot filling on ATIS): the solution runs on the real data, the checks judge well."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
import pytest
from check_catalogue import Case, verdict_tests
from conftest import dataset_or_skip
from notebook_helpers import run_lab

from labkit.checks import Status, lab06
from labkit.lab.slot_filling import max_over_words

LAB = "06_rnn_slot_filling"
NOT_ATTEMPTED, INCORRECT = Status.NOT_ATTEMPTED, Status.INCORRECT


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


# ------------------------------------------------------------------ right answers
# Small sizes keep the models tiny; the checks read them from the namespace, as in a notebook.
SIZES = {"VOCAB_SIZE": 50, "EMB_DIM": 8, "UNITS": 6, "N_SLOTS": 7, "N_INTENTS": 5}


def _rnn_step(x, h, w_xh, w_hh, b):
    import tensorflow as tf

    return tf.tanh(x @ w_xh + h @ w_hh + b)


def _lstm(order="ifco", h_tanh=True, swap_out=False):
    import tensorflow as tf

    def step(x, h_prev, c_prev, kernel, recurrent, bias):
        gates = tf.split(x @ kernel + h_prev @ recurrent + bias, 4, axis=-1)
        z = dict(zip(order, gates, strict=True))
        c = tf.sigmoid(z["f"]) * c_prev + tf.sigmoid(z["i"]) * tf.tanh(z["c"])
        h = tf.sigmoid(z["o"]) * (tf.tanh(c) if h_tanh else c)
        return (c, h) if swap_out else (h, c)

    return step


def _pad_batch(sequences):
    import keras

    x = keras.utils.pad_sequences(sequences, padding="post", value=0)
    return x, x != 0


def _joint(
    bidirectional=True,
    mask_zero=True,
    as_dict=True,
    length=None,
    names=("slots", "intent"),
    units=SIZES["UNITS"],
    dropout=0.3,
    intent_from_sequence=False,
    spatial=0.25,
    pool="masked",
):
    import keras
    from keras import layers

    def build():
        inputs = keras.Input(shape=(length,), dtype="int32")
        x = layers.Embedding(SIZES["VOCAB_SIZE"], SIZES["EMB_DIM"], mask_zero=mask_zero)(inputs)
        x = layers.SpatialDropout1D(spatial)(x) if spatial else x
        rnn = layers.LSTM(units, return_sequences=True, return_state=True)
        if bidirectional:
            seq, fh, _, bh, _ = layers.Bidirectional(rnn)(x)
            parts = [fh, bh]
        else:
            seq, last, _ = rnn(x)
            parts = [last]
        if intent_from_sequence:  # the last position, padding or not
            parts = [seq[:, -1]]
        if pool == "masked":
            parts.append(max_over_words(seq, inputs))
        elif pool == "unmasked":  # the padding's zeros take part in the maximum
            parts.append(keras.ops.max(seq, axis=1))
        last = layers.Concatenate()(parts) if len(parts) > 1 else parts[0]
        slots = layers.Dense(SIZES["N_SLOTS"], activation="softmax", name=names[0])(
            layers.Dropout(dropout)(seq)
        )
        intent = layers.Dense(SIZES["N_INTENTS"], activation="softmax", name=names[1])(
            layers.Dropout(dropout)(last)
        )
        outputs = {"slots": slots, "intent": intent} if as_dict else [slots, intent]
        return keras.Model(inputs, outputs)

    return functools.cache(build)  # the checks call it often: build each model once


def _cnn(
    widths=(1, 2, 3),
    mask_inputs=True,
    mask_outputs=True,
    softmax=True,
    lstm=False,
    filters=128,
    mask_zero=False,
    dropout=0.5,
):
    import keras
    from keras import layers, ops

    def build():
        inputs = keras.Input(shape=(None,), dtype="int32")
        words = ops.expand_dims(ops.cast(ops.not_equal(inputs, 0), "float32"), -1)
        x = layers.Embedding(SIZES["VOCAB_SIZE"], SIZES["EMB_DIM"], mask_zero=mask_zero)(inputs)
        x = layers.SpatialDropout1D(0.25)(x)
        x = x * words if mask_inputs else x
        if lstm:
            x = layers.LSTM(8, return_sequences=True)(x)
        pooled = []
        for width in widths:
            detectors = layers.Conv1D(filters, width, padding="same", activation="relu")(x)
            pooled.append(ops.max(detectors * words if mask_outputs else detectors, axis=1))
        sentence = layers.Dropout(dropout)(layers.Concatenate()(pooled))
        intent = layers.Dense(SIZES["N_INTENTS"], activation="softmax" if softmax else None)
        return keras.Model(inputs, intent(sentence))

    return functools.cache(build)  # the checks call it often: build each model once


def answers() -> dict[str, dict]:
    """A right answer to every exercise: the namespace its check reads."""
    return {
        "q1": {"rnn_step": _rnn_step},
        "q2": {"lstm_step": _lstm()},
        "q3": {"pad_batch": _pad_batch},
        "q4": {**SIZES, "build_joint_model": _joint()},
        "q5": {**SIZES, "build_intent_cnn": _cnn()},
        "q6": {"BUCKETS": [8, 12, 16, 20, 26], "train": _TRAIN},
    }


class _Split:
    """A stand-in for an ATIS split: sentences of ATIS-like lengths (only the lengths count)."""

    def __init__(self, lengths):
        self.queries = [np.ones(n, np.int32) for n in lengths]


_TRAIN = _Split(np.clip(np.random.default_rng(6).gamma(7.0, 1.8, size=2000), 3, 46).astype(int))


# ------------------------------------------------------------------ wrong answers
def _placeholder(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code.")


def _q1_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    wrong = {
        "tanh": lambda x, h, w_xh, w_hh, b: x @ w_xh + h @ w_hh + b,
        "sigmoid": lambda x, h, w_xh, w_hh, b: tf.sigmoid(x @ w_xh + h @ w_hh + b),
        "previous state": lambda x, h, w_xh, w_hh, b: tf.tanh(x @ w_xh + b),
        "bias": lambda x, h, w_xh, w_hh, b: tf.tanh(x @ w_xh + h @ w_hh),
        "transposed": lambda x, h, w_xh, w_hh, b: tf.tanh(x @ w_xh + h @ tf.transpose(w_hh) + b),
        "(units, batch)": lambda *args: tf.transpose(_rnn_step(*args)),
    }
    return [
        *[Case({"rnn_step": step}, INCORRECT, word) for word, step in wrong.items()],
        Case({}, NOT_ATTEMPTED, "not defined yet"),
        Case({"rnn_step": _placeholder}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q2_cases(right: dict) -> list[Case]:
    return [
        Case({"lstm_step": _lstm(order="ifoc")}, INCORRECT, "order"),
        Case({"lstm_step": _lstm(h_tanh=False)}, INCORRECT, "tanh"),
        Case({"lstm_step": _lstm(swap_out=True)}, INCORRECT, "swapped"),
        Case({"lstm_step": lambda *a: _lstm()(*a)[0]}, INCORRECT, "(h, c)"),
        Case({"lstm_step": _placeholder}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q3_cases(right: dict) -> list[Case]:
    import keras

    def pre(sequences):
        x = keras.utils.pad_sequences(sequences, padding="pre", value=0)
        return x, x != 0

    def too_long(sequences):
        x = keras.utils.pad_sequences(sequences, maxlen=10, padding="post")
        return x, x != 0

    def pad(f):
        return {"pad_batch": f}

    return [
        Case(pad(pre), INCORRECT, "at the start"),
        Case(pad(lambda s: (_pad_batch(s)[0], ~_pad_batch(s)[1])), INCORRECT, "inverted"),
        Case(pad(lambda s: (_pad_batch(s)[0].astype(float), _pad_batch(s)[1])), INCORRECT, "dtype"),
        Case(
            pad(lambda s: (_pad_batch(s)[0].astype(np.int64), _pad_batch(s)[1])), INCORRECT, "int32"
        ),
        Case(pad(lambda s: (_pad_batch(s)[0], _pad_batch(s)[1].astype(int))), INCORRECT, "boolean"),
        Case(pad(too_long), INCORRECT, "longest"),
        Case(pad(_placeholder), NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q4_cases(right: dict) -> list[Case]:
    def build(**kwargs):
        return {**right, "build_joint_model": _joint(**kwargs)}

    return [
        Case(build(bidirectional=False), INCORRECT, "Bidirectional"),
        Case(build(mask_zero=False), INCORRECT, "mask_zero"),
        Case(build(as_dict=False), INCORRECT, "dict"),
        Case(build(length=7), INCORRECT, "any length"),
        Case(build(names=("dense_a", "dense_b")), INCORRECT, 'named "slots"'),
        Case(build(units=4), INCORRECT, "LSTM(UNITS)"),
        Case(build(dropout=0.5), INCORRECT, "Dropout(0.3)"),
        Case(build(intent_from_sequence=True), INCORRECT, "more padding changes the intent"),
        Case(build(pool=None), INCORRECT, "the two final states only"),
        Case(build(pool="unmasked"), INCORRECT, "more padding changes the intent"),
        Case(build(spatial=0), INCORRECT, "SpatialDropout1D(0.25)"),
        Case({**right, "VOCAB_SIZE": 60}, INCORRECT, "Embedding(VOCAB_SIZE, EMB_DIM)"),
        Case({**right, "N_SLOTS": 9}, INCORRECT, "N_SLOTS"),
        Case({**right, "N_INTENTS": None}, INCORRECT, "whole number"),
        Case({**right, "build_joint_model": _placeholder}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q5_cases(right: dict) -> list[Case]:
    def build(**kwargs):
        return {**right, "build_intent_cnn": _cnn(**kwargs)}

    return [
        Case(build(widths=(3,)), INCORRECT, "(1, 2, 3)"),
        Case(build(mask_inputs=False), INCORRECT, "padding changes the intent"),
        Case(build(mask_outputs=False), INCORRECT, "padding changes the intent"),
        Case(build(softmax=False), INCORRECT, "softmax"),
        Case(build(lstm=True), INCORRECT, "LSTM"),
        Case(build(filters=16), INCORRECT, "Conv1D(128"),
        Case(build(mask_zero=True), INCORRECT, "mask_zero"),
        Case(build(dropout=0.3), INCORRECT, "Dropout(0.5)"),
        Case({**right, "build_intent_cnn": _joint()}, INCORRECT, "dict"),
        Case({**right, "build_intent_cnn": _placeholder}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q6_cases(right: dict) -> list[Case]:
    def buckets(value, **changes):
        return {**right, "BUCKETS": value, **changes}

    return [
        Case(buckets([10, 20]), INCORRECT, "the bar is 13%"),
        Case(buckets([40]), INCORRECT, "the bar is 13%"),
        Case(buckets([8, 12, 16, 20, 26, 30]), INCORRECT, "1 to 5"),
        Case(buckets([]), INCORRECT, "1 to 5"),
        Case(buckets([16, 12, 8]), INCORRECT, "must increase"),
        Case(buckets([8.5, 12]), INCORRECT, "whole numbers"),
        Case(buckets([1, 12]), INCORRECT, "from 2 to 100"),
        Case(buckets(12), INCORRECT, "a list of 1 to 5"),
        Case(buckets([8, 12], train="the training set"), INCORRECT, "training split"),
        Case(
            buckets([8, 12], train=SimpleNamespace(queries=[[]] * 40)), INCORRECT, "training split"
        ),
        Case(buckets(...), NOT_ATTEMPTED, "not defined yet"),
    ]


def test_q6_padding_share_is_what_bucketed_batches_get() -> None:
    lengths = np.array([5, 5, 9, 10, 20, 20])
    # no boundary: one batch of 6 padded to 20; boundaries [8, 15]: {5, 5}, {9, 10}, {20, 20}
    assert lab06.padding_share(lengths, [], 32) == pytest.approx(1 - 69 / 120)
    assert lab06.padding_share(lengths, [8, 15], 32) == pytest.approx(1 - 69 / 70)


def wrong_answers() -> dict[str, list[Case]]:
    """Wrong answers to every exercise, with the status and words each must get."""
    right = answers()
    cases = {
        "q1": _q1_cases,
        "q2": _q2_cases,
        "q3": _q3_cases,
        "q4": _q4_cases,
        "q5": _q5_cases,
        "q6": _q6_cases,
    }
    return {q: make(right[q]) for q, make in cases.items()}


test_the_right_answer_is_correct, test_wrong_answers_are_incorrect_with_a_useful_reason = (
    verdict_tests(lab06, answers, wrong_answers)
)


def test_padding_by_hand_is_accepted() -> None:
    def right(sequences):
        return lab06.reference_pad_batch(sequences)

    assert lab06.q3.result({"pad_batch": right}).status is Status.CORRECT


def test_reference_padding_keeps_sequences_at_the_start() -> None:
    x, mask = lab06.reference_pad_batch([np.array([3, 4]), np.array([5])])
    np.testing.assert_array_equal(x, [[3, 4], [5, 0]])
    np.testing.assert_array_equal(mask, [[True, True], [True, False]])


def test_padding_leaks_are_caught_whatever_the_probe_weights(monkeypatch) -> None:
    """The verdicts do not hinge on the seeds the checks happen to use for the weights."""
    q4_leaks = [{**SIZES, "build_joint_model": _joint(intent_from_sequence=True)}]
    q4_leaks.append({**SIZES, "build_joint_model": _joint(pool="unmasked")})
    q5_leaks = [{**SIZES, "build_intent_cnn": _cnn(mask_inputs=False)}]
    q5_leaks.append({**SIZES, "build_intent_cnn": _cnn(mask_outputs=False)})
    for seed in range(10):
        monkeypatch.setattr(lab06, "PADDING_PROBE_SEEDS", (100 + seed, 200 + seed))
        for namespace in q4_leaks:
            assert "more padding changes the intent" in lab06.q4.result(namespace).message
        for namespace in q5_leaks:
            assert "the padding changes the intent" in lab06.q5.result(namespace).message
