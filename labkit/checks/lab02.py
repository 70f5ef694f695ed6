"""Checks for lab 02: logistic regression (softmax, cross-entropy, its gradient by hand, a
learning rate of the learner's choice, the Keras model)."""

from __future__ import annotations

import numpy as np

from labkit.checks import reference
from labkit.checks.answers import Answer, Mistake, close, expect, expect_close, name_the_mistake
from labkit.checks.exercise import Exercise, Incorrect
from labkit.checks.learner_code import call_learner, run_learner_code, traced_op_types
from labkit.checks.models import (
    activation_name,
    input_shape,
    layers_of,
    learner_model,
    output_shape,
)
from labkit.checks.values import (
    Namespace,
    as_numpy,
    describe,
    expect_shape,
    learner_float,
    learner_function,
    learner_value,
)

LAB = "02_logistic_regression"

# TensorFlow's own operations for what q1 and q2 ask the learner to write.
_BUILT_IN = {
    "Sigmoid": "tf.sigmoid (or keras' sigmoid)",
    "Softmax": "tf.nn.softmax (or keras' softmax)",
    "LogSoftmax": "tf.nn.log_softmax",
    "SparseSoftmaxCrossEntropyWithLogits": "a Keras or TensorFlow cross-entropy loss",
    "SoftmaxCrossEntropyWithLogits": "a TensorFlow cross-entropy loss",
}


def _scores() -> np.ndarray:
    return np.random.default_rng(2).normal(scale=3.0, size=(4, 5)).astype(np.float32)


def _written_by_hand(func, args: tuple, name: str, how: str) -> None:
    """Incorrect when ``func`` cannot run as a graph (the training loop compiles it with
    tf.function) or calls TensorFlow's own version of what the exercise asks to write."""
    used = traced_op_types(func, *args, what=f"`{name}`") & set(_BUILT_IN)
    if used:
        raise Incorrect(
            f"`{name}` calls {_BUILT_IN[sorted(used)[0]]}: the exercise is to write it yourself, "
            f"{how}."
        )


def _check_q1(ns: Namespace) -> str | None:
    import tensorflow as tf

    sigmoid = learner_function(ns, "sigmoid")
    softmax = learner_function(ns, "softmax")
    z = np.array([-4.0, -1.0, 0.0, 0.5, 3.0], np.float32)
    out = expect_shape(call_learner(sigmoid, tf.constant(z)), (5,), "sigmoid(z) for 5 scores")
    flipped = Mistake("it gives 1 - σ(z): the exponent is exp(-z).", reference.sigmoid(-z))
    Answer(reference.sigmoid(z), [flipped]).judge(out, "sigmoid(z)")
    _written_by_hand(sigmoid, (z,), "sigmoid", "1 / (1 + tf.exp(-z))")

    scores = _scores()
    what = "softmax of a (4, 5) batch of scores"
    probs = expect_shape(call_learner(softmax, tf.constant(scores)), (4, 5), what)
    rows_sum_to_1 = close(probs.sum(axis=1), np.ones(4), atol=1e-4)
    expect(
        rows_sum_to_1 or not close(probs.sum(axis=0), np.ones(5), atol=1e-4),
        "the columns of softmax(z) sum to 1, the rows do not: normalise each row (axis=-1) "
        "and keep the dimension (keepdims=True) so that the division broadcasts.",
    )
    expect(
        rows_sum_to_1,
        "the rows of softmax(z) do not sum to 1: divide exp(z) by the sum of its own row "
        "(axis=-1, keepdims=True).",
    )
    Answer(reference.softmax(scores)).judge(probs, "softmax(z)")

    large = np.array([[1000.0, 999.0, 0.0], [-1000.0, -1002.0, -1001.0]], np.float32)
    overflow = "exp(1000) overflows. Subtract each row's largest score before taking exp."
    Answer(reference.softmax(large), not_finite=overflow).judge(
        call_learner(softmax, tf.constant(large)), "softmax([[1000, 999, 0], ...])"
    )
    _written_by_hand(softmax, (scores,), "softmax", "from tf.exp and tf.reduce_sum")
    return "probabilities in (0, 1), rows that sum to 1, and no overflow."


def _check_q2(ns: Namespace) -> str | None:
    import keras
    import tensorflow as tf

    f = learner_function(ns, "cross_entropy")
    probs = reference.softmax(_scores()).astype(np.float32)
    y = np.array([0, 3, 4, 1], np.int32)
    want = float(keras.losses.sparse_categorical_crossentropy(y, probs).numpy().mean())
    out = as_numpy(call_learner(f, tf.constant(y), tf.constant(probs)), "cross_entropy(y, probs)")
    if out.size != 1:
        raise Incorrect(
            f"cross_entropy(y, probs) has shape {tuple(out.shape)}: the loss of a batch is one "
            "number, the mean over its images."
        )
    every_class = float(-np.log(probs).sum(axis=1).mean())
    all_classes = "the loss uses the probabilities of every class: keep only each row's true class."
    Answer(
        want,
        [
            Mistake("it is negative: the cross-entropy is *minus* the log-probability.", -want),
            Mistake(
                f"it is {len(y)} times too large: take the mean over the batch, not the sum.",
                want * len(y),
            ),
            Mistake(all_classes, every_class),
            Mistake(all_classes, every_class / probs.shape[1]),
        ],
    ).judge(float(out.reshape(())), "cross_entropy(y, probs)")
    sure = np.eye(5, dtype=np.float32)[y] * 0.999 + 0.0002
    sure_loss = as_numpy(call_learner(f, tf.constant(y), tf.constant(sure)), "the loss")
    if sure_loss.size != 1 or not float(sure_loss.reshape(())) < 0.01:
        raise Incorrect("a model that is sure and right should have a loss close to 0.")
    _written_by_hand(f, (y, probs), "cross_entropy", "with tf.gather and tf.math.log")
    return f"the same value as Keras' loss ({want:.4f})."


def _reference_step(W, b, x, y, lr):
    """One gradient-descent step in NumPy: the softmax cross-entropy gradient is (p - onehot) / n."""
    p = reference.softmax(x @ W + b)
    loss = float(-np.log(p[np.arange(len(y)), y]).mean())
    g = (p - np.eye(W.shape[1])[y]) / len(y)
    return W - lr * x.T @ g, b - lr * g.sum(axis=0), loss


def _step_problem() -> tuple:
    """x (8, 6), y (8,) with 4 classes, and the starting W and b as variables (and arrays)."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    x = rng.uniform(size=(8, 6)).astype(np.float32)
    y = rng.integers(0, 4, size=8).astype(np.int32)
    W0 = rng.normal(scale=0.5, size=(6, 4)).astype(np.float32)
    b0 = rng.normal(scale=0.5, size=4).astype(np.float32)
    return x, y, W0, b0, tf.Variable(W0), tf.Variable(b0)


STEP_RATE = 0.5


def _check_q3(ns: Namespace) -> str | None:
    import tensorflow as tf

    step = learner_function(ns, "train_step")
    x, y, W0, b0, W, b = _step_problem()
    loss = call_learner(step, W, b, tf.constant(x), tf.constant(y), STEP_RATE)
    W_want, b_want, loss_want = _reference_step(W0, b0, x, y, STEP_RATE)
    W1, b1 = W.numpy(), b.numpy()
    both = "take the gradient for both and update both."
    mistakes = [
        Mistake(
            "W and b did not change: update the variables in place, e.g. "
            "`W.assign_sub(learning_rate * grad_W)`.",
            (W0, b0),
        ),
        Mistake(
            "W moved *along* the gradient, which makes the loss grow: subtract the gradient "
            "times the learning rate.",
            (2 * W0 - W_want, 2 * b0 - b_want),
        ),
        Mistake(f"W changed but b did not: {both}", (W_want, b0)),
        Mistake(f"b changed but W did not: {both}", (W0, b_want)),
        Mistake(
            "the step ignores the learning rate: multiply the gradient by it.",
            (W0 - (W0 - W_want) / STEP_RATE, b0 - (b0 - b_want) / STEP_RATE),
        ),
    ]
    if not close((W1, b1), (W_want, b_want), atol=1e-4):
        name_the_mistake((W1, b1), mistakes, atol=1e-4)
    Answer(W_want, atol=1e-4).judge(W1, "W after one step")
    Answer(b_want, atol=1e-4).judge(b1, "b after one step")
    expect(loss is not None, "train_step returns None: return the loss.")
    got = as_numpy(loss, "the returned loss")
    if got.size != 1 or not close(float(got.reshape(())), loss_want, rtol=1e-3):
        raise Incorrect(
            f"train_step returns {describe(loss)}; it should return the loss computed before "
            f"the update ({loss_want:.4f})."
        )
    # The notebook's loop compiles the step with tf.function: it must work as a graph too.
    x, y, _, _, W, b = _step_problem()
    graph_step = tf.function(step)
    run_learner_code(
        "`train_step` compiled with tf.function",
        lambda: graph_step(W, b, tf.constant(x), tf.constant(y), STEP_RATE),
        graphs=True,
    )
    what = "W after one step of tf.function(train_step)"
    expect_close(W, W_want, f"{what} (eagerly it was right)", atol=1e-4)
    _, _, loss_after = _reference_step(W1, b1, x, y, 0.0)
    return f"the loss went from {loss_want:.3f} to {loss_after:.3f} in one step."


def _check_q6(ns: Namespace) -> str | None:
    import keras

    model = learner_model(learner_value(ns, "model"), "`model`")
    if not isinstance(model, keras.Sequential):
        raise Incorrect(
            "`model` is a functional model; the exercise builds it with keras.Sequential([...])."
        )
    shape = input_shape(model, "the model")
    expect(shape == (None, 28, 28), f"the model's input shape is {shape}; images are (28, 28).")
    shape = output_shape(model, "the model")
    expect(shape == (None, 10), f"the model's output has shape {shape}; there are 10 classes.")
    if not layers_of(model, keras.layers.Flatten):
        raise Incorrect(
            "the model has no Flatten layer: a Dense layer needs each image as a vector of 784 "
            "pixels."
        )
    dense = layers_of(model, keras.layers.Dense)
    if len(dense) != 1:
        raise Incorrect(
            f"the model has {len(dense)} Dense layers; logistic regression is a single linear layer."
        )
    if activation_name(dense[0]) != "linear":
        raise Incorrect(
            f"the Dense layer has the activation {activation_name(dense[0])}: we train with "
            "`from_logits=True`, so the model outputs raw scores (no activation)."
        )
    start = dense[0].kernel_initializer
    zeros = isinstance(start, keras.initializers.Zeros) or (
        isinstance(start, keras.initializers.Constant) and start.get_config().get("value") == 0
    )
    if not zeros:
        raise Incorrect(
            "the Dense layer starts from random weights: start it from zeros, like our loop "
            '(kernel_initializer="zeros").'
        )
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    if trainable != 7850:
        raise Incorrect(
            f"the model has {trainable:,} trainable parameters; expected 784 x 10 + 10 = 7,850."
        )
    return "7,850 weights, all starting at zero: one 28x28 template and one bias per class."


# ----------------------------------------------------------------- q4: dL/dz by hand
def _check_q4(ns: Namespace) -> str | None:
    import tensorflow as tf

    f = learner_function(ns, "grad_logits")
    rng = np.random.default_rng(4)
    z = rng.normal(scale=2.0, size=(6, 5)).astype(np.float32)
    y = np.array([0, 3, 4, 1, 1, 2], np.int32)
    got = expect_shape(
        call_learner(f, tf.constant(z), tf.constant(y)), z.shape, "grad_logits(z, y)"
    )
    p, onehot = reference.softmax(z), np.eye(5)[y]
    want = (p - onehot) / len(y)
    Answer(
        want,
        [
            Mistake(
                "it has the wrong sign: it is p - onehot(y), the probabilities minus the labels "
                "(the loss falls when the true class's score rises).",
                -want,
            ),
            Mistake(
                f"it is {len(y)} times too large: the loss is the *mean* over the batch, so "
                "every row's gradient is divided by the batch size.",
                want * len(y),
            ),
            Mistake(
                "it uses the scores z where the probabilities softmax(z) belong.",
                (z - onehot) / len(y),
            ),
        ],
    ).judge(got, "grad_logits(z, y)")
    return "dL/dz = (softmax(z) - onehot(y)) / batch, the same as the tape's."


# ----------------------------------------------------------------- q5: choosing a learning rate
RATE_STEPS = 50  # steps of full-batch gradient descent the check takes with the learner's rate
RATE_IMAGES = 1_000  # on the first images of the learner's x_train
RATE_BAR = 0.9  # the loss after them must be at most this (it starts at ln 10 = 2.30)


def gradient_descent(x: np.ndarray, y: np.ndarray, learning_rate: float, steps: int = RATE_STEPS):
    """Full-batch gradient descent on softmax regression from W = 0, b = 0 (NumPy): the loss
    before every step."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    y = np.asarray(y).astype(int)
    w, b, onehot = np.zeros((x.shape[1], 10)), np.zeros(10), np.eye(10)[y]
    losses = []
    with np.errstate(all="ignore"):  # a huge rate overflows: the loss becomes inf or nan
        for _ in range(steps):
            p = reference.softmax(x @ w + b)
            losses.append(float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-300)).mean()))
            g = (p - onehot) / len(y)
            w -= learning_rate * x.T @ g
            b -= learning_rate * g.sum(axis=0)
    return losses


def _check_q5(ns: Namespace) -> str | None:
    rate = learner_float(ns, "learning_rate", 0.0, 1e6)
    x = expect_shape(learner_value(ns, "x_train"), (None, 28, 28), "`x_train`")
    y = expect_shape(learner_value(ns, "y_train"), (len(x),), "`y_train`")
    if len(x) < RATE_IMAGES:
        raise Incorrect(f"`x_train` has {len(x)} images; run the cell that loads the data again.")
    labels = y[:RATE_IMAGES]
    if not (np.issubdtype(y.dtype, np.integer) and set(np.unique(labels)) == set(range(10))):
        raise Incorrect(
            "`y_train` should hold the labels 0-9 of the images (all ten of them among the first "
            f"{RATE_IMAGES}): run the cell that loads them again."
        )
    if not (np.isfinite(x).all() and x.min() >= 0 and 0 < x.max() <= 1):
        raise Incorrect(
            "`x_train` should hold pixels in [0, 1]: run the cells that load and scale it again."
        )
    expect(rate != 0, "a learning rate of 0 never moves the weights: choose a positive one.")
    losses = gradient_descent(x[:RATE_IMAGES], y[:RATE_IMAGES], rate)
    end, best = losses[-1], min(losses)
    result = f"after {RATE_STEPS} steps the loss is {end:.3g} (from {losses[0]:.3g}; the bar: {RATE_BAR})"
    if end <= RATE_BAR:
        return f"{result}."
    if not np.isfinite(end) or end > best + 0.05:
        raise Incorrect(
            f"{result}: it went up again (its lowest was {best:.3g}), the steps overshoot the "
            "minimum. Choose a smaller rate."
        )
    raise Incorrect(f"{result}: the steps are too small to get there. Choose a larger rate.")


q1 = Exercise(
    "Sigmoid and softmax",
    _check_q1,
    hints=[
        "sigmoid: 1 / (1 + exp(-z)). softmax: exp(z) divided by the sum of exp(z) over each row.",
        "Reduce over the last axis and keep it for broadcasting: "
        "`tf.reduce_sum(e, axis=-1, keepdims=True)`. For stability, first subtract "
        "`tf.reduce_max(z, axis=-1, keepdims=True)` from z.",
    ],
)
q2 = Exercise(
    "Cross-entropy for integer labels",
    _check_q2,
    hints=[
        "For each row i, take probs[i, y[i]], its log, change the sign, and average over the rows.",
        "`tf.gather(probs, y, axis=1, batch_dims=1)` picks probs[i, y[i]] for every i; "
        "then `tf.math.log` and `tf.reduce_mean`.",
        "`return -tf.reduce_mean(tf.math.log(tf.gather(probs, y, axis=1, batch_dims=1)))`.",
    ],
)
q3 = Exercise(
    "One gradient-descent step with GradientTape",
    _check_q3,
    needs=[q1, q2],
    hints=[
        "Compute the loss inside `with tf.GradientTape() as tape:`, then "
        "`tape.gradient(loss, [W, b])` gives one gradient per variable.",
        "Scores: `x @ W + b`; loss: `cross_entropy(y, softmax(scores))`. Update W in place with "
        "`W.assign_sub(...)`, the learning rate times its gradient, the same for b; return the "
        "loss.",
    ],
)
q4 = Exercise(
    "The gradient of the cross-entropy with respect to the scores",
    _check_q4,
    needs=[q1],
    hints=[
        "For one image, dL/dz_k = p_k - 1 when k is the true class, p_k otherwise.",
        "All rows at once: `softmax(z) - tf.one_hot(y, classes)`; the loss is the mean over the "
        "batch, so divide by the batch size.",
        "`return (softmax(z) - tf.one_hot(y, z.shape[-1])) / tf.cast(tf.shape(z)[0], z.dtype)`",
    ],
)
q5 = Exercise(
    "Choose the learning rate",
    _check_q5,
    hints=[
        "Look at the curves above: which rate gets lowest in 50 steps without bouncing back up?",
        "Too small a rate creeps; too large a one jumps over the minimum and the loss grows. "
        "Try rates between 0.01 and 10.",
        "Any rate from about 0.05 to 0.3 passes.",
    ],
)
q6 = Exercise(
    "The model in Keras",
    _check_q6,
    hints=[
        "`keras.Sequential([...])` with three entries: the input, a flattening layer and the "
        "output layer.",
        "`keras.Input((28, 28))`, `layers.Flatten()`, then `layers.Dense(10)` without an "
        'activation, starting from zeros (`kernel_initializer="zeros"`).',
    ],
)

EXERCISES = (q1, q2, q3, q4, q5, q6)
