"""The maths the checks compare with, once, in NumPy float64 (exact enough to judge float32)."""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), computed without overflow for any z."""
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)), computed without overflow for any z."""
    return np.logaddexp(0.0, np.asarray(z, dtype=np.float64))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(z) / sum(exp(z)) along ``axis``, computed stably."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def gan_losses(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    """A GAN's (discriminator loss, non-saturating generator loss) from the discriminator's
    logits on real and on generated images: binary cross-entropies, each a mean."""
    d = float(np.mean(softplus(-np.asarray(real))) + np.mean(softplus(fake)))
    return d, float(np.mean(softplus(-np.asarray(fake))))
