"""Checks for lab 02: logistic regression."""

from __future__ import annotations

import numpy as np

from labkit.checks.exercise import (
    Exercise,
    Incorrect,
    as_numpy,
    call_learner,
    expect_close,
    expect_shape,
    learner_value,
)

LAB = "02_logistic_regression"


def reference_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed stably in float64."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _scores() -> np.ndarray:
    return np.random.default_rng(2).normal(scale=3.0, size=(4, 5)).astype(np.float32)


def _check_q1(ns) -> str | None:
    import tensorflow as tf

    sigmoid = learner_value(ns, "sigmoid")
    softmax = learner_value(ns, "softmax")
    z = np.array([-4.0, -1.0, 0.0, 0.5, 3.0], np.float32)
    out = expect_shape(call_learner(sigmoid, tf.constant(z)), (5,), "sigmoid(z) for 5 scores")
    if np.allclose(out, 1 / (1 + np.exp(z)), atol=1e-5):
        raise Incorrect("sigmoid(z) gives 1 - σ(z): the exponent is exp(-z).")
    expect_close(out, 1 / (1 + np.exp(-z)), "sigmoid(z)")

    scores = _scores()
    probs = expect_shape(call_learner(softmax, tf.constant(scores)), (4, 5),
                         "softmax of a (4, 5) batch of scores")  # fmt: skip
    if np.allclose(probs.sum(axis=0), 1, atol=1e-4) and not np.allclose(probs.sum(axis=1), 1, atol=1e-4):  # fmt: skip
        raise Incorrect(
            "the columns of softmax(z) sum to 1, the rows do not: normalise each row (axis=-1) "
            "and keep the dimension (keepdims=True) so that the division broadcasts."
        )
    if not np.allclose(probs.sum(axis=1), 1, atol=1e-4):
        raise Incorrect(
            "the rows of softmax(z) do not sum to 1: divide exp(z) by the sum of its own row "
            "(axis=-1, keepdims=True)."
        )
    expect_close(probs, reference_softmax(scores), "softmax(z)")

    large = np.array([[1000.0, 999.0, 0.0], [-1000.0, -1002.0, -1001.0]], np.float32)
    probs = as_numpy(call_learner(softmax, tf.constant(large)), "softmax of large scores")
    if not np.all(np.isfinite(probs)):
        raise Incorrect(
            "softmax([[1000, 999, 0], ...]) gives nan or inf: exp(1000) overflows. "
            "Subtract each row's largest score before taking exp."
        )
    expect_close(probs, reference_softmax(large), "softmax of large scores ±1000", atol=1e-5)
    return "probabilities in (0, 1), rows that sum to 1, and no overflow."


def _check_q2(ns) -> str | None:
    import keras
    import tensorflow as tf

    f = learner_value(ns, "cross_entropy")
    probs = reference_softmax(_scores()).astype(np.float32)
    y = np.array([0, 3, 4, 1], np.int32)
    want = float(keras.losses.sparse_categorical_crossentropy(y, probs).numpy().mean())
    out = as_numpy(call_learner(f, tf.constant(y), tf.constant(probs)), "cross_entropy(y, probs)")
    if out.size != 1:
        raise Incorrect(
            f"cross_entropy(y, probs) has shape {tuple(out.shape)}: the loss of a batch is one "
            "number, the mean over its images."
        )
    value = float(out.reshape(()))
    if np.isclose(value, -want, rtol=1e-4):
        raise Incorrect("the loss is negative: the cross-entropy is *minus* the log-probability.")
    if np.isclose(value, want * len(y), rtol=1e-4):
        raise Incorrect(f"the loss is {len(y)} times too large: take the mean over the batch, not the sum.")  # fmt: skip
    all_classes = float(-np.log(probs).sum(axis=1).mean())
    if np.isclose(value, all_classes, rtol=1e-4) or np.isclose(value, all_classes / probs.shape[1], rtol=1e-4):  # fmt: skip
        raise Incorrect("the loss uses the probabilities of every class: keep only each row's true class `y`.")  # fmt: skip
    expect_close(value, want, "cross_entropy(y, probs)")
    sure = np.eye(5, dtype=np.float32)[y]
    sure_loss = float(as_numpy(call_learner(f, tf.constant(y), tf.constant(sure * 0.999 + 0.0002)), "the loss"))  # fmt: skip
    if not sure_loss < 0.01:
        raise Incorrect("a model that is sure and right should have a loss close to 0.")
    return f"the same value as Keras' loss ({want:.4f})."


def _reference_step(W, b, x, y, lr):
    """One gradient-descent step in NumPy: the softmax cross-entropy gradient is (p - onehot) / n."""
    p = reference_softmax(x @ W + b)
    loss = float(-np.log(p[np.arange(len(y)), y]).mean())
    g = (p - np.eye(W.shape[1])[y]) / len(y)
    return W - lr * x.T @ g, b - lr * g.sum(axis=0), loss


def _check_q3(ns) -> str | None:
    import tensorflow as tf

    step = learner_value(ns, "train_step")
    for name in ("softmax", "cross_entropy"):
        learner_value(ns, name)
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(8, 6)).astype(np.float32)
    y = rng.integers(0, 4, size=8).astype(np.int32)
    W0 = rng.normal(scale=0.5, size=(6, 4)).astype(np.float32)
    b0 = rng.normal(scale=0.5, size=4).astype(np.float32)
    W, b = tf.Variable(W0), tf.Variable(b0)
    lr = 0.5
    loss = call_learner(step, W, b, tf.constant(x), tf.constant(y), lr)
    W_want, b_want, loss_want = _reference_step(W0, b0, x, y, lr)
    W1, b1 = W.numpy(), b.numpy()
    if np.allclose(W1, W0) and np.allclose(b1, b0):
        raise Incorrect(
            "W and b did not change: update the variables in place, e.g. "
            "`W.assign_sub(learning_rate * grad_W)`."
        )
    if np.allclose(W1, 2 * W0 - W_want, atol=1e-4):
        raise Incorrect(
            "W moved *along* the gradient, which makes the loss grow: subtract the gradient times "
            "the learning rate."
        )
    if np.allclose(b1, b0):
        raise Incorrect("W changed but b did not: take the gradient for both and update both.")
    if np.allclose(W1, W0):
        raise Incorrect("b changed but W did not: take the gradient for both and update both.")
    if np.allclose(W1, W0 - (W0 - W_want) / lr, atol=1e-4):
        raise Incorrect("the step ignores the learning rate: multiply the gradient by it.")
    expect_close(W1, W_want, "W after one step", atol=1e-4)
    expect_close(b1, b_want, "b after one step", atol=1e-4)
    if loss is None:
        raise Incorrect("train_step returns None: return the loss.")
    got = as_numpy(loss, "the returned loss")
    if got.size != 1 or not np.isclose(float(got.reshape(())), loss_want, rtol=1e-3):
        raise Incorrect(
            f"train_step returns {got.reshape(-1)[:3]}; it should return the loss computed "
            f"before the update ({loss_want:.4f})."
        )
    _, _, loss_after = _reference_step(W1, b1, x, y, 0.0)
    return f"the loss went from {loss_want:.3f} to {loss_after:.3f} in one step."


def _check_q4(ns) -> str | None:
    import keras

    model = learner_value(ns, "model")
    if not isinstance(model, keras.Model):
        raise Incorrect(f"`model` should be a keras Model, not a {type(model).__name__}.")
    if tuple(model.input_shape) != (None, 28, 28):
        raise Incorrect(f"the model's input shape is {model.input_shape}; the images are (28, 28).")  # fmt: skip
    if tuple(model.output_shape) != (None, 10):
        raise Incorrect(f"the model's output has shape {model.output_shape}; there are 10 classes.")  # fmt: skip
    kinds = [type(layer) for layer in model.layers]
    if keras.layers.Flatten not in kinds:
        raise Incorrect("the model has no Flatten layer: a Dense layer needs each image as a vector of 784 pixels.")  # fmt: skip
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(dense) != 1:
        raise Incorrect(
            f"the model has {len(dense)} Dense layers; logistic regression is a single linear layer."
        )
    if dense[0].activation is not keras.activations.linear:
        raise Incorrect(
            f"the Dense layer has the activation {dense[0].activation.__name__}: we train with "
            "`from_logits=True`, so the model outputs raw scores (no activation)."
        )
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    if trainable != 7850:
        raise Incorrect(f"the model has {trainable:,} trainable parameters; expected 784 x 10 + 10 = 7,850.")  # fmt: skip
    return "7,850 weights: one 28x28 template and one bias per class."


q1 = Exercise(
    LAB, "q1", "Sigmoid and softmax", _check_q1,
    hints=[
        "sigmoid: 1 / (1 + exp(-z)). softmax: exp(z) divided by the sum of exp(z) over each row.",
        "Reduce over the last axis and keep it for broadcasting: "
        "`tf.reduce_sum(e, axis=-1, keepdims=True)`. For stability, first subtract "
        "`tf.reduce_max(z, axis=-1, keepdims=True)` from z.",
        "`z = z - tf.reduce_max(z, axis=-1, keepdims=True)`, `e = tf.exp(z)`, "
        "`return e / tf.reduce_sum(e, axis=-1, keepdims=True)`.",
    ],
)  # fmt: skip
q2 = Exercise(
    LAB, "q2", "Cross-entropy for integer labels", _check_q2,
    hints=[
        "For each row i, take probs[i, y[i]], its log, change the sign, and average over the rows.",
        "`tf.gather(probs, y, axis=1, batch_dims=1)` picks probs[i, y[i]] for every i; "
        "then `tf.math.log` and `tf.reduce_mean`.",
        "`return -tf.reduce_mean(tf.math.log(tf.gather(probs, y, axis=1, batch_dims=1)))`.",
    ],
)  # fmt: skip
q3 = Exercise(
    LAB, "q3", "One gradient-descent step with GradientTape", _check_q3,
    hints=[
        "Compute the loss inside `with tf.GradientTape() as tape:`, then "
        "`tape.gradient(loss, [W, b])` gives one gradient per variable.",
        "Scores: `x @ W + b`; loss: `cross_entropy(y, softmax(scores))`. Update with "
        "`W.assign_sub(learning_rate * grad_W)` and the same for b; return the loss.",
        "with tf.GradientTape() as tape:\n    loss = cross_entropy(y, softmax(x @ W + b))\n"
        "grad_W, grad_b = tape.gradient(loss, [W, b])\n"
        "W.assign_sub(learning_rate * grad_W)\nb.assign_sub(learning_rate * grad_b)\nreturn loss",
    ],
)  # fmt: skip
q4 = Exercise(
    LAB, "q4", "The model in Keras", _check_q4,
    hints=[
        "`keras.Sequential([...])` with three entries: the input, a flattening layer and the "
        "output layer.",
        "`keras.Input((28, 28))`, `layers.Flatten()`, then `layers.Dense(10)` without an "
        "activation, starting from zeros (`kernel_initializer=\"zeros\"`).",
        "`model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), "
        "layers.Dense(10, kernel_initializer=\"zeros\")])`.",
    ],
)  # fmt: skip

EXERCISES = (q1, q2, q3, q4)
