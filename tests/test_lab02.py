"""Lab 02 (logistic regression): the notebook runs in fast mode and its checks work."""

from __future__ import annotations

import pytest
from check_catalogue import Case, verdict_tests
from notebook_helpers import run_lab

from labkit.checks import Status, lab02

LAB = "02_logistic_regression"
NOT_ATTEMPTED, INCORRECT = Status.NOT_ATTEMPTED, Status.INCORRECT


@pytest.mark.notebook
def test_solution_runs_in_fast_mode_and_reports_sane_metrics():
    run = run_lab(LAB)
    assert not run.errors
    assert 0.5 < run.metrics["test_accuracy"] <= 1.0
    assert 0.4 < run.metrics["handwritten_test_accuracy"] <= 1.0
    assert 0 < run.metrics["train_seconds"] < 120
    assert run.metrics["fast_mode"] is True
    assert run.metrics["challenge_met"] in (0.0, 1.0)  # fast mode trains on 2,000 images only
    assert run.metrics["challenge_result"] == run.metrics["test_accuracy"]


# ------------------------------------------------------------- right answers
def _sigmoid(z):
    import tensorflow as tf

    return 1 / (1 + tf.exp(-z))


def _softmax(z):
    import tensorflow as tf

    e = tf.exp(z - tf.reduce_max(z, axis=-1, keepdims=True))
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def _cross_entropy(y, probs):
    import tensorflow as tf

    return -tf.reduce_mean(tf.math.log(tf.gather(probs, y, axis=1, batch_dims=1)))


def _train_step(W, b, x, y, learning_rate, sign=1.0, update_b=True, use_lr=True):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = _cross_entropy(y, _softmax(x @ W + b))
    grad_W, grad_b = tape.gradient(loss, [W, b])
    lr = learning_rate if use_lr else 1.0
    W.assign_sub(sign * lr * grad_W)
    if update_b:
        b.assign_sub(sign * lr * grad_b)
    return loss


def _model(units=10, activation=None, normalize=False, hidden=False, init="zeros"):
    import keras
    import numpy as np
    from keras import layers

    stack = [keras.Input((28, 28)), layers.Flatten()]
    if normalize:  # a learner's own extra step: allowed
        normalizer = layers.Normalization()
        normalizer.adapt(np.random.default_rng(0).uniform(size=(64, 784)).astype("float32"))
        stack.append(normalizer)
    stack += [layers.Dense(32)] if hidden else []
    dense = layers.Dense(units, activation=activation, kernel_initializer=init)
    return keras.Sequential([*stack, dense])


def answers() -> dict[str, dict]:
    """A right answer to every exercise: the namespace its check reads."""
    functions = {"sigmoid": _sigmoid, "softmax": _softmax, "cross_entropy": _cross_entropy}
    return {
        "q1": {"sigmoid": _sigmoid, "softmax": _softmax},
        "q2": {"cross_entropy": _cross_entropy},
        "q3": {**functions, "train_step": _train_step},
        "q4": {"sigmoid": _sigmoid, "softmax": _softmax, "grad_logits": _grad_logits},
        "q5": {"learning_rate": 0.1, **_images()},
        "q6": {"model": _model()},
    }


def _grad_logits(z, y):
    import tensorflow as tf

    return (_softmax(z) - tf.one_hot(y, z.shape[-1])) / tf.cast(tf.shape(z)[0], z.dtype)


def _images(n: int = 1200) -> dict:
    """x_train, y_train: 10 classes, each a noisy copy of its own template, 10% of the labels
    wrong (so that no rate drives the loss to 0 and a large one overshoots)."""
    import numpy as np

    rng = np.random.default_rng(5)
    templates = rng.uniform(size=(10, 28, 28)) * (rng.uniform(size=(10, 28, 28)) < 0.9)
    y = rng.integers(0, 10, n).astype(np.int32)
    x = np.clip(templates[y] + rng.normal(scale=0.3, size=(n, 28, 28)), 0, 1).astype("float32")
    y = np.where(rng.uniform(size=n) < 0.1, rng.integers(0, 10, n), y).astype(np.int32)
    return {"x_train": x, "y_train": y}


# ------------------------------------------------------------- wrong answers
def _todo(*args):
    raise NotImplementedError


def _q1_cases(right: dict) -> list[Case]:
    import keras
    import numpy as np
    import tensorflow as tf

    def naive(z):
        e = tf.exp(z)
        return e / tf.reduce_sum(e, axis=-1, keepdims=True)

    def columns(z):
        e = tf.exp(z - tf.reduce_max(z, axis=0, keepdims=True))
        return e / tf.reduce_sum(e, axis=0, keepdims=True)

    def with_numpy(z):  # right values eagerly, but the training loop compiles it into a graph
        return 1 / (1 + np.exp(-z))

    return [
        Case({**right, "softmax": naive}, INCORRECT, "Subtract"),
        Case({**right, "softmax": columns}, INCORRECT, "columns"),
        Case({**right, "sigmoid": lambda z: 1 / (1 + tf.exp(z))}, INCORRECT, "exp(-z)"),
        Case({**right, "softmax": tf.nn.softmax}, INCORRECT, "write it yourself"),
        Case({**right, "softmax": keras.activations.softmax}, INCORRECT, "write it yourself"),
        Case({**right, "sigmoid": tf.sigmoid}, INCORRECT, "write it yourself"),
        Case({**right, "sigmoid": with_numpy}, INCORRECT, "as a graph"),
        Case({**right, "softmax": _todo}, NOT_ATTEMPTED, "NotImplementedError"),
        Case({"sigmoid": _sigmoid}, NOT_ATTEMPTED, "not defined yet"),
    ]


def _q2_cases(right: dict) -> list[Case]:
    import keras
    import tensorflow as tf

    def summed(y, probs):
        return -tf.reduce_sum(tf.math.log(tf.gather(probs, y, axis=1, batch_dims=1)))

    def per_image(y, probs):
        return -tf.math.log(tf.gather(probs, y, axis=1, batch_dims=1))

    def every_class(y, probs):
        return -tf.reduce_mean(tf.reduce_sum(tf.math.log(probs), axis=1))

    def with_keras(y, probs):
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probs))

    return [
        Case({"cross_entropy": summed}, INCORRECT, "mean"),
        Case({"cross_entropy": lambda y, p: -_cross_entropy(y, p)}, INCORRECT, "minus"),
        Case({"cross_entropy": per_image}, INCORRECT, "one number"),
        Case({"cross_entropy": every_class}, INCORRECT, "true class"),
        Case({"cross_entropy": with_keras}, INCORRECT, "write it yourself"),
        Case({"cross_entropy": ...}, NOT_ATTEMPTED, "not defined yet"),
    ]


def _q3_cases(right: dict) -> list[Case]:
    def with_(**kwargs):
        return lambda W, b, x, y, lr: _train_step(W, b, x, y, lr, **kwargs)

    def no_update(W, b, x, y, lr):
        return _cross_entropy(y, _softmax(x @ W + b))

    def no_return(W, b, x, y, lr):
        _train_step(W, b, x, y, lr)

    def loss_as_float(W, b, x, y, lr):  # fine eagerly; the notebook compiles it with tf.function
        return _train_step(W, b, x, y, lr).numpy()

    def step(f):
        return {**right, "train_step": f}

    return [
        Case(step(with_(sign=-1.0)), INCORRECT, "subtract"),
        Case(step(with_(update_b=False)), INCORRECT, "b did not"),
        Case(step(with_(use_lr=False)), INCORRECT, "learning rate"),
        Case(step(no_update), INCORRECT, "did not change"),
        Case(step(no_return), INCORRECT, "return the loss"),
        Case(step(loss_as_float), INCORRECT, "tf.function"),
        Case({**right, "train_step": ...}, NOT_ATTEMPTED, "not defined yet"),
        # The step is right but q2's loss is not: send the learner to q2 (the real mistake).
        Case(
            _notebook(cross_entropy=lambda y, p: 2 * _cross_entropy(y, p)),
            NOT_ATTEMPTED,
            "fix q2 first",
        ),
        Case(_notebook(softmax=_todo), NOT_ATTEMPTED, "fix q1 first"),
    ]


def _notebook(**functions) -> dict:
    """A namespace whose train_step calls the namespace's softmax and cross_entropy, as a
    notebook's does."""
    import tensorflow as tf

    ns = {**answers()["q3"], **functions}

    def train_step(W, b, x, y, learning_rate):
        with tf.GradientTape() as tape:
            loss = ns["cross_entropy"](y, ns["softmax"](x @ W + b))
        grad_W, grad_b = tape.gradient(loss, [W, b])
        W.assign_sub(learning_rate * grad_W)
        b.assign_sub(learning_rate * grad_b)
        return loss

    ns["train_step"] = train_step
    return ns


def _q6_cases(right: dict) -> list[Case]:
    import keras

    inputs = keras.Input((28, 28))
    functional = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    return [
        Case({"model": _model(units=5)}, INCORRECT, "10 classes"),
        Case({"model": _model(activation="softmax")}, INCORRECT, "from_logits"),
        Case({"model": _model(hidden=True)}, INCORRECT, "single linear layer"),
        Case({"model": _model(init="glorot_uniform")}, INCORRECT, 'kernel_initializer="zeros"'),
        Case({"model": functional}, INCORRECT, "keras.Sequential"),
        Case({"model": "a model"}, INCORRECT, "Keras model"),
        Case({"model": ...}, NOT_ATTEMPTED, "not defined yet"),
    ]


def _q4_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    def onehot(y, n):
        return tf.one_hot(y, n)

    def batch(z):
        return tf.cast(tf.shape(z)[0], z.dtype)

    return [
        Case({**right, "grad_logits": _todo}, NOT_ATTEMPTED, "placeholder"),
        Case({"sigmoid": _sigmoid, "softmax": _softmax}, NOT_ATTEMPTED, "not defined yet"),
        Case({**right, "grad_logits": lambda z, y: -_grad_logits(z, y)}, INCORRECT, "wrong sign"),
        Case(
            {**right, "grad_logits": lambda z, y: _softmax(z) - onehot(y, z.shape[-1])},
            INCORRECT,
            "mean",
        ),
        Case(
            {**right, "grad_logits": lambda z, y: (z - onehot(y, z.shape[-1])) / batch(z)},
            INCORRECT,
            "scores z",
        ),
        Case({**right, "grad_logits": lambda z, y: _softmax(z)[:, 0]}, INCORRECT, "shape"),
        Case({**right, "grad_logits": lambda z, y: _softmax(z) / batch(z)}, INCORRECT, "values"),
        # A wrong q1 (a softmax over the columns) sends the learner back to q1.
        Case(
            {
                "softmax": lambda z: tf.nn.softmax(z, axis=0),
                "sigmoid": _sigmoid,
                "grad_logits": lambda z, y: (
                    (tf.nn.softmax(z, axis=0) - onehot(y, z.shape[-1])) / batch(z)
                ),
            },
            NOT_ATTEMPTED,
            "fix q1 first",
        ),
    ]


def _q5_cases(right: dict) -> list[Case]:
    images = {k: right[k] for k in ("x_train", "y_train")}
    return [
        Case(images, NOT_ATTEMPTED, "not defined yet"),
        Case({**right, "learning_rate": 0.0005}, INCORRECT, "Choose a larger rate"),
        Case({**right, "learning_rate": 10.0}, INCORRECT, "Choose a smaller rate"),
        Case({**right, "learning_rate": 0}, INCORRECT, "never moves"),
        Case({**right, "learning_rate": "0.1"}, INCORRECT, "should be a number"),
        Case({**right, "x_train": right["x_train"][:100]}, INCORRECT, "shape"),
        Case(
            {**right, "x_train": right["x_train"][:100], "y_train": right["y_train"][:100]},
            INCORRECT,
            "has 100 images",
        ),
        Case({**right, "x_train": right["x_train"] * 255}, INCORRECT, "pixels in [0, 1]"),
        Case({**right, "y_train": right["y_train"] + 10}, INCORRECT, "labels 0-9"),
        Case({**right, "y_train": right["y_train"] * 0}, INCORRECT, "labels 0-9"),
    ]


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


def test_an_extra_normalization_layer_is_allowed() -> None:
    assert lab02.q6.result({"model": _model(normalize=True)}).status is Status.CORRECT


test_the_right_answer_is_correct, test_wrong_answers_are_incorrect_with_a_useful_reason = (
    verdict_tests(lab02, answers, wrong_answers)
)


def test_a_trained_model_still_passes() -> None:
    """The zeros are checked on the layer's initializer, so q6 is still right after fit."""
    import numpy as np

    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).uniform(size=(8, 28, 28)).astype("float32")
    model.fit(x, np.ones((8, 10), "float32"), epochs=1, verbose=0)
    assert lab02.q6.result({"model": model}).status is Status.CORRECT
