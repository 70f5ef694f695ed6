"""Lab 01 (TensorFlow operations): the solution runs, its checks pass, wrong answers get a reason."""

from __future__ import annotations

import pytest
from notebook_helpers import run_lab

from labkit.checks import Status, lab01

LAB = "01_tensorflow_operations"
pytestmark = pytest.mark.notebook


def test_solution_runs_in_fast_mode_and_reports_sane_metrics() -> None:
    run = run_lab(LAB)
    assert not run.errors
    assert run.metrics["dense_forward_max_error"] < 1e-5  # our layer == keras.layers.Dense
    assert run.metrics["grad_max_error"] < 1e-6  # the tape == the chain rule by hand
    assert run.metrics["tf_function_speedup"] > 0.8  # noisy on a shared CPU; usually 2-4x
    assert run.metrics["fast_mode"]


# ------------------------------------------------------------- wrong answers, one by one
def _tf():
    import tensorflow as tf

    return tf


def _col_row():
    tf = _tf()
    col = tf.reshape(tf.range(3, dtype=tf.float32), (3, 1))
    row = tf.reshape(tf.range(4, dtype=tf.float32), (1, 4))
    return col, row


def _dense(x, W, b):
    return _tf().nn.relu(x @ W + b)


def _loss_and_grads(x, y, W, b):
    tf = _tf()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(_dense(x, W, b) - y))
    dW, db = tape.gradient(loss, [W, b])
    return loss, dW, db


def _placeholder(*args):
    raise NotImplementedError("Exercise: replace this line")


def _q1_cases():
    tf = _tf()
    col, row = _col_row()
    return [
        ({"col": col, "row": row, "table": 10 * col + row}, Status.CORRECT, ""),
        ({"row": row}, Status.NOT_ATTEMPTED, "not defined yet"),
        ({"col": tf.range(3, dtype=tf.float32), "row": row, "table": 10 * col + row},
         Status.INCORRECT, "shape (3,)"),
        ({"col": tf.reshape(tf.range(3), (3, 1)), "row": row, "table": 10 * col + row},
         Status.INCORRECT, "dtype int32"),
        ({"col": col.numpy(), "row": row, "table": 10 * col + row},
         Status.INCORRECT, "TensorFlow tensor"),
        ({"col": col, "row": row, "table": col + 10 * row}, Status.INCORRECT, "wrong values"),
        ({"col": col, "row": row, "table": tf.transpose(10 * col + row)},
         Status.INCORRECT, "shape (4, 3)"),
    ]  # fmt: skip


def _q2_cases():
    tf = _tf()
    return [
        ({"dense": _dense}, Status.CORRECT, ""),
        ({"dense": _placeholder}, Status.NOT_ATTEMPTED, "placeholder"),
        ({"dense": lambda x, W, b: x @ W + b}, Status.INCORRECT, "negative values: apply the ReLU"),
        ({"dense": lambda x, W, b: tf.nn.relu(tf.matmul(W, x) + b)}, Status.INCORRECT, "shape"),
        ({"dense": lambda x, W, b: tf.nn.relu(tf.transpose(x @ W + b))},
         Status.INCORRECT, "batch comes first"),
        ({"dense": lambda x, W, b: tf.nn.relu(x @ W)}, Status.INCORRECT, "bias"),
        ({"dense": lambda x, W, b: tf.nn.relu(x @ W) + b}, Status.INCORRECT, "before"),
        ({"dense": lambda x, W, b: tf.sigmoid(x @ W + b)}, Status.INCORRECT, "wrong values"),
    ]  # fmt: skip


def _q3_cases():
    tf = _tf()

    def summed(x, y, W, b):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(_dense(x, W, b) - y))
        return (loss, *tape.gradient(loss, [W, b]))

    def outside(x, y, W, b):
        loss = tf.reduce_mean(tf.square(_dense(x, W, b) - y))
        with tf.GradientTape() as tape:
            pass
        return (loss, *tape.gradient(loss, [W, b]))

    def swapped(x, y, W, b):
        loss, dW, db = _loss_and_grads(x, y, W, b)
        return loss, db, dW

    return [
        ({"loss_and_grads": _loss_and_grads}, Status.CORRECT, ""),
        ({"loss_and_grads": _placeholder}, Status.NOT_ATTEMPTED, "placeholder"),
        ({}, Status.NOT_ATTEMPTED, "not defined yet"),
        ({"loss_and_grads": summed}, Status.INCORRECT, "reduce_mean"),
        ({"loss_and_grads": outside}, Status.INCORRECT, "gradient is None"),
        ({"loss_and_grads": swapped}, Status.INCORRECT, "dW (the gradient with respect to W) has shape"),
        ({"loss_and_grads": lambda x, y, W, b: _loss_and_grads(x, y, W, b)[1:]},
         Status.INCORRECT, "three things"),
    ]  # fmt: skip


def _q4_cases():
    tf = _tf()

    def step(x, y, W, b, learning_rate):
        loss, dW, db = _loss_and_grads(x, y, W, b)
        W.assign_sub(learning_rate * dW)
        b.assign_sub(learning_rate * db)
        return loss

    def uphill(x, y, W, b, learning_rate):
        loss, dW, db = _loss_and_grads(x, y, W, b)
        W.assign_add(learning_rate * dW)
        b.assign_add(learning_rate * db)
        return loss

    def rebinding(x, y, W, b, learning_rate):
        loss, dW, db = _loss_and_grads(x, y, W, b)
        W = W - learning_rate * dW  # noqa: F841 - the mistake under test
        b = b - learning_rate * db  # noqa: F841
        return loss

    def loss_after(x, y, W, b, learning_rate):
        step(x, y, W, b, learning_rate)
        return _loss_and_grads(x, y, W, b)[0]

    return [
        ({"sgd_step": tf.function(step)}, Status.CORRECT, ""),
        ({"sgd_step": step}, Status.INCORRECT, "@tf.function"),
        ({"sgd_step": tf.function(_placeholder)}, Status.NOT_ATTEMPTED, "placeholder"),
        ({"sgd_step": tf.function(uphill)}, Status.INCORRECT, "uphill"),
        ({"sgd_step": tf.function(rebinding)}, Status.INCORRECT, "assign_sub"),
        ({"sgd_step": tf.function(loss_after)}, Status.INCORRECT, "before the update"),
    ]


@pytest.mark.parametrize(
    ("exercise", "cases"),
    [(lab01.q1, _q1_cases), (lab01.q2, _q2_cases), (lab01.q3, _q3_cases), (lab01.q4, _q4_cases)],
    ids=["q1", "q2", "q3", "q4"],
)
def test_wrong_answers_are_incorrect_with_a_useful_reason(exercise, cases) -> None:
    for namespace, status, reason in cases():
        result = exercise.result(namespace)
        assert result.status is status, (namespace, result)
        assert reason in result.message, (reason, result.message)
