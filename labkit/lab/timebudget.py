"""Train for a number of steps or a number of seconds, whichever ends first, and anneal anyway.

A learning-rate schedule counted in steps anneals only if every step happens: on a machine
slower than the one it was tuned on, a time limit stops training while the rate is still high,
and the model ends worse than it should. ``TimeBudget`` measures progress as the larger of the
share of steps done and the share of the time budget used, sets the learning rate from that
progress (a short linear warm-up, then a cosine down to ``final_fraction`` of the peak) and
stops training when progress reaches 1. On a fast machine it is an ordinary warm-up + cosine
schedule over all the steps; on a slow one the same curve, squeezed into the time budget.

``LABKIT_TIME_SCALE`` scales every time budget: 0.6 gives a lab what a machine 1.7x slower
than the one it was tuned on gets, which the benchmark measures with ``--time-scale 0.6``.

A model trained by several optimizers (a GAN's two) names them: ``optimizers=("d_optimizer",
"g_optimizer")``, the model's attributes that hold them; each gets the same learning rate.
"""

from __future__ import annotations

import math
import time

import keras

from labkit.settings import time_scale


class TimeBudget(keras.callbacks.Callback):
    """Warm-up + cosine learning rate over `steps` optimizer steps or `seconds` seconds (times
    ``time_scale()``), whichever ends first."""

    def __init__(
        self,
        peak_learning_rate: float,
        steps: int,
        seconds: float,
        warmup: float = 0.1,
        final_fraction: float = 0.01,
        optimizers: tuple[str, ...] = ("optimizer",),
    ) -> None:
        super().__init__()
        self.peak, self.steps, self.seconds = peak_learning_rate, steps, seconds * time_scale()
        self.warmup, self.final_fraction = warmup, final_fraction
        self.optimizers = optimizers  # the model's attributes that hold the optimizers to drive
        self.step = 0
        self.start = 0.0
        self.history: list[tuple[float, float]] = []  # (progress, learning rate) at each step

    def progress(self) -> float:
        """How far training is, from 0 to 1: by steps or by time, whichever is further."""
        return max(self.step / self.steps, (time.perf_counter() - self.start) / self.seconds)

    def learning_rate(self, progress: float) -> float:
        low = self.peak * self.final_fraction
        if progress < self.warmup:
            return low + (self.peak - low) * progress / self.warmup
        cosine = 0.5 * (
            1 + math.cos(math.pi * min(1.0, (progress - self.warmup) / (1 - self.warmup)))
        )
        return low + (self.peak - low) * cosine

    def on_train_begin(self, logs=None) -> None:
        for name in self.optimizers:
            optimizer = getattr(self.model, name, None)
            if optimizer is None:
                raise ValueError(
                    f"TimeBudget drives model.{name}, which this model lacks: "
                    "compile it first, or name its optimizers in `optimizers`."
                )
            if not hasattr(optimizer.learning_rate, "assign"):
                raise ValueError(
                    "TimeBudget sets the learning rate itself: give the optimizer a number "
                    "(e.g. keras.optimizers.Adam(3e-3)), not a learning-rate schedule."
                )
        self.step, self.start = 0, time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None) -> None:
        progress = self.progress()
        rate = self.learning_rate(progress)
        for name in self.optimizers:
            getattr(self.model, name).learning_rate.assign(rate)
        self.history.append((progress, rate))

    def on_train_batch_end(self, batch, logs=None) -> None:
        self.step += 1
        if self.progress() >= 1:
            self.model.stop_training = True
