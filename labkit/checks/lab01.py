"""Checks for lab 01: TensorFlow operations (tensors, a dense layer, GradientTape, tf.function,
choosing a learning rate)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import Answer, Mistake, close, expect, expect_close, name_the_mistake
from labkit.checks.exercise import Exercise, Incorrect
from labkit.checks.learner_code import call_learner, run_learner_code
from labkit.checks.values import (
    Namespace,
    as_numpy,
    describe,
    expect_shape,
    learner_float,
    learner_function,
    learner_value,
    returned,
)

LAB = "01_tensorflow_operations"
IN_FEATURES, HIDDEN = 784, 100


# ----------------------------------------------------------------- shared helpers
def _tensor(value: Any, name: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """A learner's TensorFlow tensor with the right dtype and shape, as a NumPy array."""
    import tensorflow as tf

    if not tf.is_tensor(value):
        raise Incorrect(
            f"`{name}` is {describe(value)}; make it a TensorFlow tensor "
            "(tf.constant, tf.range, ...)."
        )
    if value.dtype.name != dtype:
        raise Incorrect(
            f"`{name}` has dtype {value.dtype.name}; it should be {dtype} "
            "(pass dtype=... when you create it, or use tf.cast)."
        )
    return expect_shape(value, shape, f"`{name}`")


def _dense_inputs(batch: int = 5, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random x (batch, 784), W (784, 100) and b (100,) as float32; pre-activations of both signs."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, IN_FEATURES)).astype(np.float32)
    w = rng.normal(scale=0.05, size=(IN_FEATURES, HIDDEN)).astype(np.float32)
    b = rng.normal(scale=0.5, size=(HIDDEN,)).astype(np.float32)
    return x, w, b


def _reference_grads(x, y, w, b) -> tuple[float, np.ndarray, np.ndarray]:
    """Loss mean((relu(x @ W + b) - y)**2) and its gradients, by hand (backpropagation)."""
    x, y, w, b = (np.asarray(a, dtype=np.float64) for a in (x, y, w, b))
    z = x @ w + b
    h = np.maximum(z, 0.0)
    loss = np.mean((h - y) ** 2)
    dz = 2.0 * (h - y) / h.size * (z > 0)
    return loss, x.T @ dz, dz.sum(axis=0)


# ----------------------------------------------------------------- q1: tensors, broadcasting
def _check_q1(ns: Namespace) -> str | None:
    col = _tensor(learner_value(ns, "col"), "col", "float32", (3, 1))
    row = _tensor(learner_value(ns, "row"), "row", "float32", (1, 4))
    expect_close(col, np.arange(3.0).reshape(3, 1), "`col`")
    expect_close(row, np.arange(4.0).reshape(1, 4), "`row`")
    table = _tensor(learner_value(ns, "table"), "table", "float32", (3, 4))
    expect_close(table, 10 * np.arange(3.0)[:, None] + np.arange(4.0), "`table`")
    return "a (3, 1) column and a (1, 4) row broadcast to a (3, 4) table, without a loop."


q1 = Exercise(
    "Tensors and broadcasting",
    _check_q1,
    hints=[
        "Make the numbers with `tf.range`, then give them the right shape with `tf.reshape`.",
        "`tf.range(3, dtype=tf.float32)` has shape (3,); `tf.reshape(t, (3, 1))` makes it a "
        "column. A row of shape (1, 4) is made the same way.",
    ],
)


# ----------------------------------------------------------------- q2: the dense layer
def _check_q2(ns: Namespace) -> str | None:
    import tensorflow as tf

    dense = learner_function(ns, "dense")
    for batch in (5, 1):  # "any batch size"
        x, w, b = _dense_inputs(batch)
        out = call_learner(dense, tf.constant(x), tf.constant(w), tf.constant(b))
        what = f"dense(x, W, b) for a batch of {batch}"
        got = as_numpy(out, what)
        if got.shape == (HIDDEN, batch) and batch > 1:
            raise Incorrect(
                f"{what} has shape {got.shape}: that is (units, batch). "
                "The batch comes first: x @ W has shape (batch, 100)."
            )
        expect_shape(got, (batch, HIDDEN), what)
        answer = Answer(
            np.maximum(x @ w + b, 0),
            [
                Mistake(
                    "the bias b is added after the ReLU; add it before: relu(x @ W + b).",
                    np.maximum(x @ w, 0) + b,
                ),
                Mistake(
                    "dense(x, W, b) ignores the bias: add b before the ReLU.", np.maximum(x @ w, 0)
                ),
            ],
            atol=1e-4,
        )
        if not close(got, answer.right, atol=1e-4):
            name_the_mistake(got, answer.mistakes, atol=1e-4)
        expect(
            (got >= 0).all(),
            f"{what} has negative values: apply the ReLU (tf.nn.relu) to x @ W + b.",
        )
        answer.judge(got, what)
    return "h = relu(x @ W + b) maps (batch, 784) to (batch, 100), for any batch size."


q2 = Exercise(
    "The dense layer h = relu(x @ W + b)",
    _check_q2,
    hints=[
        "Three steps: a matrix product, add the bias, then the ReLU. Mind the order of x and W.",
        "`x @ W` (or `tf.matmul(x, W)`) takes (batch, 784) and (784, 100) to (batch, 100); "
        "b of shape (100,) broadcasts over the batch.",
    ],
)


# ----------------------------------------------------------------- q3: GradientTape
def _grads_problem(seed: int = 3):
    import tensorflow as tf

    x, w, b = _dense_inputs(batch=8, seed=seed)
    y = np.abs(np.random.default_rng(seed + 1).normal(size=(8, HIDDEN))).astype(np.float32)
    return x, y, w, b, tf.Variable(w, name="W"), tf.Variable(b, name="b")


def _check_q3(ns: Namespace) -> str | None:
    import tensorflow as tf

    loss_and_grads = learner_function(ns, "loss_and_grads")
    x, y, w, b, w_var, b_var = _grads_problem()
    out = call_learner(loss_and_grads, tf.constant(x), tf.constant(y), w_var, b_var)
    loss, dw, db = returned(out, 3, "loss_and_grads", "things: (loss, dW, db)")
    if dw is None or db is None:
        raise Incorrect(
            "a gradient is None: the tape did not see the loss being computed from W and b. "
            "Compute the loss inside the `with tf.GradientTape() as tape:` block."
        )
    ref_loss, ref_dw, ref_db = _reference_grads(x, y, w, b)
    got_loss = float(expect_shape(loss, (), "the loss"))
    summed = Mistake(
        f"it is {y.size} times too large: take the mean (tf.reduce_mean), not the sum.",
        ref_loss * y.size,
    )
    Answer(ref_loss, [summed]).judge(got_loss, "the loss")
    expect_shape(dw, (IN_FEATURES, HIDDEN), "dW (the gradient with respect to W)")
    expect_shape(db, (HIDDEN,), "db (the gradient with respect to b)")
    expect_close(dw, ref_dw, "dW", rtol=1e-3, atol=1e-6)
    expect_close(db, ref_db, "db", rtol=1e-3, atol=1e-6)
    return "the tape's gradients match backpropagation done by hand."


q3 = Exercise(
    "Gradients with GradientTape",
    _check_q3,
    needs=[q2],
    hints=[
        "Compute the loss inside `with tf.GradientTape() as tape:`, then ask the tape for "
        "the gradient after the block.",
        "The loss is `tf.reduce_mean(tf.square(dense(x, W, b) - y))`; "
        "`tape.gradient(loss, [W, b])` returns [dW, db].",
    ],
)


# ----------------------------------------------------------------- q4: tf.function SGD step
SGD_RATE = 0.5


def _sgd_problem() -> tuple[Any, ...]:
    """Fresh inputs and variables for one step, and the reference loss, W and b after it."""
    x, y, w, b, w_var, b_var = _grads_problem(seed=5)
    ref_loss, ref_dw, ref_db = _reference_grads(x, y, w, b)
    return x, y, w_var, b_var, (w, b), (ref_loss, w - SGD_RATE * ref_dw, b - SGD_RATE * ref_db)


def _check_q4(ns: Namespace) -> str | None:
    import tensorflow as tf

    sgd_step = learner_function(ns, "sgd_step")
    if not hasattr(sgd_step, "get_concrete_function"):
        raise Incorrect(
            "sgd_step is a plain Python function: keep the @tf.function line above `def` so "
            "that TensorFlow turns it into a graph."
        )
    # First eagerly, as plain Python: a loop that never ends can be stopped there, and not in a
    # graph (a tf.while_loop). The graph runs only once the same code has finished.
    x, y, w_var, b_var, (w, b), (ref_loss, ref_w, ref_b) = _sgd_problem()
    args = (tf.constant(x), tf.constant(y), w_var, b_var, tf.constant(SGD_RATE))
    loss = call_learner(sgd_step, *args)
    if loss is None:
        raise Incorrect("sgd_step returns nothing: return the loss (computed before the update).")
    loss = expect_shape(loss, (), "the loss sgd_step returns")
    new_w, new_b = w_var.numpy(), b_var.numpy()
    if np.array_equal(new_w, w) and np.array_equal(new_b, b):
        raise Incorrect(
            "W and b did not change: update the variables in place with "
            "W.assign_sub(...) and b.assign_sub(...) (W = W - ... only renames a local value)."
        )
    uphill = Mistake(
        "it moved along its gradient, uphill: gradient descent subtracts learning_rate * dW.",
        2 * w - ref_w,
    )
    Answer(ref_w, [uphill], rtol=1e-3, atol=1e-6).judge(new_w, "W after one step")
    expect_close(new_b, ref_b, "b after one step", rtol=1e-3, atol=1e-6)
    what = "the loss sgd_step returns (the one before the update)"
    expect_close(loss, ref_loss, what, rtol=1e-4, atol=1e-5)

    x, y, w_var, b_var, _, _ = _sgd_problem()
    args = (tf.constant(x), tf.constant(y), w_var, b_var, tf.constant(SGD_RATE))
    graph_loss = run_learner_code(
        "calling `sgd_step` as a graph", lambda: sgd_step(*args), graphs=True
    )
    as_graph = "sgd_step gives other results as a graph than when run eagerly"
    expect_close(graph_loss, loss, f"{as_graph}: the loss", rtol=1e-4, atol=1e-5)
    expect_close(w_var, new_w, f"{as_graph}: W after one step", rtol=1e-4, atol=1e-6)
    return "one graph-compiled step of gradient descent: loss, gradients and update."


q4 = Exercise(
    "A tf.function training step",
    _check_q4,
    needs=[q3],
    hints=[
        "Reuse loss_and_grads from q3, then move W and b a small step against their gradients.",
        "Variables change in place: `W.assign_sub(v)` computes W - v and stores it in W; here v "
        "is the learning rate times W's gradient, and the same for b.",
    ],
)

# ----------------------------------------------------------------- q5: choosing a learning rate
RATE_STEPS = 100  # steps of gradient descent the check takes with the learner's rate
RATE_BAR = 0.35  # the loss after them must be at most this share of the loss before
RATE_IMAGES = 64  # the first images of the learner's x_batch it uses


def fit_teacher(x: np.ndarray, learning_rate: float, steps: int = RATE_STEPS, seed: int = 0):
    """Gradient descent on mean((relu(x W + b) - y)**2), y given by a random "teacher" layer,
    from He-initialised W and b = 0 (NumPy, seeded): the loss before every step, and the share
    of hidden units that are 0 for every input at the end ("dead" ReLUs)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float32)[:RATE_IMAGES]
    w = rng.normal(0, np.sqrt(2 / IN_FEATURES), (IN_FEATURES, HIDDEN)).astype(np.float32)
    teacher = rng.normal(0, np.sqrt(2 / IN_FEATURES), (IN_FEATURES, HIDDEN)).astype(np.float32)
    y, b, losses = np.maximum(x @ teacher, 0), np.zeros(HIDDEN, np.float32), []
    with np.errstate(all="ignore"):  # a huge rate overflows: the loss becomes inf or nan
        for _ in range(steps):
            z = x @ w + b
            h = np.maximum(z, 0)
            losses.append(float(np.mean((h - y) ** 2)))
            if not np.isfinite(losses[-1]):
                break
            dz = 2 * (h - y) / h.size * (z > 0)
            w -= learning_rate * (x.T @ dz)
            b -= learning_rate * dz.sum(axis=0)
        dead = float(np.mean(np.all(x @ w + b <= 0, axis=0)))
    return losses, dead


def _check_q5(ns: Namespace) -> str | None:
    rate = learner_float(ns, "learning_rate", 0.0, 1e6)  # more than 1e6 is never meant
    x = expect_shape(learner_value(ns, "x_batch"), (None, IN_FEATURES), "`x_batch`")
    if len(x) < RATE_IMAGES:
        raise Incorrect(f"`x_batch` has {len(x)} images; run the cell that loads 256 again.")
    if not (np.isfinite(x).all() and x.min() >= 0 and 0 < x.max() <= 1):
        raise Incorrect("`x_batch` should hold pixels in [0, 1]: run the cell that makes it again.")
    if rate == 0:
        raise Incorrect("a learning rate of 0 never moves the weights: choose a positive one.")
    losses, dead = fit_teacher(x, rate)
    if not np.isfinite(losses[-1]):
        raise Incorrect(
            f"with learning_rate = {rate:g} the loss blew up to {losses[-1]}: the steps "
            "overshoot further every time. Choose a much smaller rate."
        )
    share = losses[-1] / losses[0]
    result = f"after {RATE_STEPS} steps the loss is {share:.0%} of where it started"
    if share <= RATE_BAR:
        return f"{result} (the bar: {RATE_BAR:.0%}); {dead:.0%} of the hidden units died."
    if dead >= 0.2:
        raise Incorrect(
            f"{result} (the bar: {RATE_BAR:.0%}), and it is stuck: {dead:.0%} of the hidden "
            "units are dead (ReLU 0 for every image), pushed there by too large steps. "
            "Choose a smaller rate."
        )
    raise Incorrect(
        f"{result} (the bar: {RATE_BAR:.0%}): the steps are too small to get far in "
        f"{RATE_STEPS} steps. Choose a larger rate."
    )


q5 = Exercise(
    "Choose the learning rate",
    _check_q5,
    hints=[
        "Look at the curves of the rates tried above: which one falls fastest and stays down?",
        "Too small a rate creeps, too large a one kills ReLUs (their input stays negative and "
        "their gradient is 0 for good). Try a few rates between 0.01 and 10.",
        "Any rate from about 0.1 to 1 passes.",
    ],
)

EXERCISES = (q1, q2, q3, q4, q5)
