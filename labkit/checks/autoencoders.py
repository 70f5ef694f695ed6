"""What lab 05's checks feed the learner's code and compare with: seeded images, a model that
halves them (whose per-image mean squared error is known, as are the classic mistakes' values),
and the best threshold for a false-alarm budget."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from labkit.checks.answers import Answer, Mistake

IMAGE_SHAPE = (28, 28, 1)
FALSE_ALARM_BUDGET = 0.02  # the share of normal images the operator accepts to see flagged


def images(n: int = 4, seed: int = 0) -> np.ndarray:
    """``n`` images of uniform random pixels, seeded."""
    return np.random.default_rng(seed).uniform(size=(n, *IMAGE_SHAPE)).astype("float32")


@functools.cache
def half_model() -> Any:
    """A model whose reconstruction is the image times 0.5; built once (and so its predict)."""
    import keras

    return keras.Sequential([keras.Input(IMAGE_SHAPE), keras.layers.Rescaling(0.5)])


def score_answer(x: np.ndarray) -> Answer:
    """The per-image mean squared error of ``half_model`` on ``x``, and the classic mistakes'."""
    reference = np.mean((x - 0.5 * x) ** 2, axis=(1, 2, 3))
    mae = np.mean(np.abs(x - 0.5 * x), axis=(1, 2, 3))
    return Answer(
        reference,
        [
            Mistake(
                "the errors are 784 times too large: take the mean over the pixels, not the sum.",
                reference * 784,
            ),
            Mistake(
                "that is the root of the mean squared error; return the MSE itself.",
                np.sqrt(reference),
            ),
            Mistake("that is the mean absolute error; square the differences instead.", mae),
        ],
        rtol=1e-3,
        atol=1e-7,
    )


def best_threshold(held_out_errors: np.ndarray, budget: float = FALSE_ALARM_BUDGET) -> float:
    """The lowest threshold that flags at most ``budget`` of the held-out errors."""
    ordered = np.sort(held_out_errors)
    allowed = int(np.floor(budget * len(ordered) + 1e-9))  # images we may flag
    return float(ordered[len(ordered) - allowed - 1])
