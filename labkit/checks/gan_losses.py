"""A GAN's two losses, what lab 08's q3 compares the learner's with: each written once with any
binary cross-entropy ``bce(target, logits)``, NumPy here (the right values and the classic
mistakes') and TensorFlow in ``gan_step`` (the gradients of a simulated step)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import Answer, Mistake, close, expect
from labkit.checks.learner_code import call_learner
from labkit.checks.reference import gan_losses, sigmoid, softplus
from labkit.checks.values import as_scalar

# The losses, right ("") and with a wrong label: D(bce, real logits, fake logits), G(bce, fake).
D_LOSSES = {
    "": lambda bce, real, fake: bce(1.0, real) + bce(0.0, fake),
    "swapped": lambda bce, real, fake: bce(0.0, real) + bce(1.0, fake),
}
G_LOSSES = {
    "": lambda bce, fake: bce(1.0, fake),
    "saturating": lambda bce, fake: -bce(0.0, fake),  # log(1 - D(G(z))), minimised
    "label 0": lambda bce, fake: bce(0.0, fake),
}
REAL_LOGITS = np.array([2.0, -1.0, 0.5, 3.0, -2.5, 12.0, -7.0, 0.0])
FAKE_LOGITS = np.array([-2.0, 1.5, -0.5, 9.0, -11.0, 0.25, -3.0, 1.0])


def xent(target: float, logits: np.ndarray) -> float:
    """The mean binary cross-entropy of ``logits`` against one ``target`` (1 real, 0 fake)."""
    return float(np.mean(softplus(logits) - target * np.asarray(logits)))


def _keras_bce(target: float, values: np.ndarray, from_logits: bool) -> float:
    import keras

    y = np.full((len(values), 1), target, dtype="float32")
    bce = keras.losses.BinaryCrossentropy(from_logits=from_logits)
    return float(bce(y, values[:, None].astype("float32")))


def loss_answer(loss: Any, who: str, n: int, mistakes: list[Mistake]) -> Answer:
    """The right value of ``loss(bce)``, a loss of ``n`` logits written with a cross-entropy
    ``bce``; its own ``mistakes``, then those of any such loss (a wrong cross-entropy, the sign,
    the sum)."""
    right = loss(xent)
    return Answer(
        right,
        [
            *mistakes,
            Mistake(
                "the loss treats the logits as probabilities: use the cross-entropy from logits "
                "(from_logits=True).",
                loss(lambda t, x: _keras_bce(t, x, False)),
            ),
            Mistake(
                "the logits went through a sigmoid before a cross-entropy that applies one "
                "itself: pass the logits directly.",
                loss(lambda t, x: _keras_bce(t, sigmoid(x), True)),
            ),
            Mistake(
                f"the sign is flipped: a cross-entropy is positive, and the {who} minimises it.",
                -right,
            ),
            Mistake(
                f"that is {n} times too large: take the mean over the batch, not the sum.",
                n * right,
            ),
        ],
        not_finite="compute the cross-entropy from the logits (from_logits=True), which stays "
        "finite for any logit.",
    )


def discriminator_answer(real: np.ndarray, fake: np.ndarray) -> Answer:
    """The discriminator loss on these logits, and what its classic mistakes give."""
    right = D_LOSSES[""](xent, real, fake)
    return loss_answer(
        lambda bce: D_LOSSES[""](bce, real, fake),
        "discriminator",
        len(real),
        [
            Mistake(
                "the labels are swapped: real images must get the label 1, generated ones 0.",
                D_LOSSES["swapped"](xent, real, fake),
            ),
            Mistake(
                "that is half the loss: add the two cross-entropies, do not average them.",
                right / 2,
            ),
            Mistake(
                "only the real images count: add the cross-entropy of the generated ones "
                "(label 0).",
                xent(1.0, real),
            ),
            Mistake(
                "only the generated images count: add the cross-entropy of the real ones "
                "(label 1).",
                xent(0.0, fake),
            ),
        ],
    )


def generator_answer(fake: np.ndarray) -> Answer:
    """The generator loss on these logits, and what its classic mistakes give."""
    return loss_answer(
        lambda bce: G_LOSSES[""](bce, fake),
        "generator",
        len(fake),
        [
            Mistake(
                "that is the saturating loss log(1 - D(G(z))) of the original minimax game: its "
                "gradient vanishes while the discriminator confidently rejects the fakes, which "
                "is exactly when the generator needs it. Minimise -log D(G(z)) instead: the "
                "cross-entropy with the label 1.",
                G_LOSSES["saturating"](xent, fake),
            ),
            Mistake(
                "that loss teaches the generator to look fake (the label 0); the generator wants "
                "the discriminator to say 'real': use the label 1.",
                G_LOSSES["label 0"](xent, fake),
            ),
        ],
    )


def _call_loss(func: Any, name: str, *logits: np.ndarray) -> float:
    import tensorflow as tf

    args = [tf.constant(x[:, None], dtype=tf.float32) for x in logits]  # (batch, 1) like D's output
    return as_scalar(call_learner(func, *args), f"{name}(...)")


def judge_losses(d_loss: Any, g_loss: Any) -> None:
    """The learner's ``discriminator_loss`` and ``generator_loss`` on ordinary logits (with
    their classic mistakes named), then on very confident ones (+-200)."""
    got = _call_loss(d_loss, "discriminator_loss", REAL_LOGITS, FAKE_LOGITS)
    discriminator_answer(REAL_LOGITS, FAKE_LOGITS).judge(got, "discriminator_loss")
    got = _call_loss(g_loss, "generator_loss", FAKE_LOGITS)
    generator_answer(FAKE_LOGITS).judge(got, "generator_loss")
    # a very confident discriminator: logits far beyond what float32 probabilities can hold
    real, fake = np.array([-200.0, 150.0]), np.array([200.0, -150.0])
    right_d, right_g = gan_losses(real, fake)
    for name, func, args, right in (
        ("discriminator_loss", d_loss, (real, fake), right_d),
        ("generator_loss", g_loss, (fake,), right_g),
    ):
        got = _call_loss(func, name, *args)
        expect(
            close(got, right, rtol=1e-3),
            f"{name} gives {got:.5g} for logits of +-200 (a very confident discriminator); the "
            f"right value is {right:.5g}. Going through probabilities (a sigmoid, then a log) "
            "loses them in float32: use the cross-entropy from logits (from_logits=True).",
        )
