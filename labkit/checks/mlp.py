"""What lab 03's checks compare with: a small seeded batch and MLP, its forward pass and
gradients in NumPy and TensorFlow, with what the classic mistakes compute (``Answer``,
``Mistake``), and the statistics of a deep MLP for an activation and an initializer."""

from __future__ import annotations

import numpy as np

from labkit.checks.answers import Answer, Mistake
from labkit.checks.reference import softmax

DEEP_LAYERS, DEEP_WIDTH = 20, 100


def reference_batch(n: int = 6, d: int = 12, h: int = 7, k: int = 10, seed: int = 3) -> dict:
    """A small random batch and 2-layer MLP parameters (float32), the inputs of q1 and q2."""
    rng = np.random.default_rng(seed)
    f = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    labels = rng.integers(0, k, size=n)
    batch = {
        "x": f(n, d),
        "y": np.eye(k)[labels],
        "W1": f(d, h) / np.sqrt(d),
        "b1": f(h) * 0.5,
        "W2": f(h, k) / np.sqrt(h),
        "b2": f(k) * 0.5,
    }
    return {name: value.astype(np.float32) for name, value in batch.items()}


def tensors(batch: dict) -> dict:
    import tensorflow as tf

    return {name: tf.constant(value) for name, value in batch.items()}


def forward(x, W1, b1, W2, b2, relu=True):
    z1 = x @ W1 + b1
    h = np.maximum(z1, 0) if relu else z1
    return h @ W2 + b2


def reference_gradients(batch: dict) -> tuple[np.ndarray, ...]:
    """dW1, db1, dW2, db2 of the mean softmax cross-entropy, computed by GradientTape."""
    import tensorflow as tf

    t = tensors(batch)
    params = [tf.Variable(t[k]) for k in ("W1", "b1", "W2", "b2")]
    with tf.GradientTape() as tape:
        W1, b1, W2, b2 = params
        logits = tf.nn.relu(t["x"] @ W1 + b1) @ W2 + b2
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(t["y"], logits))
    return tuple(g.numpy() for g in tape.gradient(loss, params))


def forward_answer(b: dict) -> Answer:
    """The MLP's logits on batch ``b``, and what the classic mistakes return instead."""
    want = forward(b["x"], b["W1"], b["b1"], b["W2"], b["b2"])
    linear = forward(b["x"], b["W1"], b["b1"], b["W2"], b["b2"], relu=False)
    softmax_please = (
        "each row sums to 1: that is a softmax. Return the logits (the raw scores); the loss "
        "applies the softmax itself (from_logits=True)."
    )
    return Answer(
        want,
        [
            Mistake("the hidden layer is linear: apply ReLU to x @ W1 + b1.", linear),
            Mistake(softmax_please, softmax(want)),
            Mistake(
                "the output has no negative values: the last layer has no ReLU.",
                np.maximum(want, 0),
            ),
        ],
        rtol=1e-3,
        atol=1e-4,
    )


def backward_mistakes(b: dict, want: tuple[np.ndarray, ...]) -> list[Mistake]:
    """What the classic mistakes of backpropagation give for dW1, db1, dW2, db2 on batch ``b``."""
    n = b["x"].shape[0]
    h = np.maximum(b["x"] @ b["W1"] + b["b1"], 0)
    dh = ((softmax(h @ b["W2"] + b["b2"]) - b["y"]) / n) @ b["W2"].T  # no ReLU derivative
    return [
        Mistake(
            "every gradient has the wrong sign: the gradient of the loss at the logits is "
            "softmax(logits) - y, not y - softmax(logits).",
            tuple(-w for w in want),
        ),
        Mistake(
            f"every gradient is {n} times too large ({n} = the batch size): the loss is a mean "
            "over the batch, so divide dlogits by the batch size.",
            tuple(n * w for w in want),
        ),
        Mistake(
            "the gradient for W1 (and b1) is off: did you multiply by the ReLU derivative? "
            "dz1 = dh * (z1 > 0), where z1 = x W1 + b1.",
            (b["x"].T @ dh, dh.sum(0), *want[2:]),
        ),
    ]


def deep_statistics(activation: str, initializer: str, seed: int = 0) -> list[tuple[float, float]]:
    """The mean and standard deviation of the activations after each layer of a deep MLP
    (DEEP_LAYERS Dense layers of DEEP_WIDTH units, no bias) fed standardised random inputs; the
    weights come from `initializer`, seeded, so the same choice always gives the same numbers."""
    import keras

    act = keras.activations.get(activation)
    start = keras.initializers.get(initializer)
    config = start.get_config()
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(2_000, DEEP_WIDTH)).astype(np.float32)
    stats = []
    for layer in range(DEEP_LAYERS):
        if "seed" in config:
            config["seed"] = seed + layer
        kernel = type(start).from_config(config)((DEEP_WIDTH, DEEP_WIDTH))
        a = np.asarray(act(a @ np.asarray(kernel)), np.float32)
        stats.append((float(a.mean()), float(a.std())))
    return stats
