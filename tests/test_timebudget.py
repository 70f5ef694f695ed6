"""TimeBudget: warm-up + cosine over steps or seconds, whichever ends first."""

from __future__ import annotations

import time

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from labkit.errors import LabkitError  # noqa: E402
from labkit.lab.timebudget import TimeBudget, time_scale  # noqa: E402


def _fit(budget: TimeBudget, epochs: int = 50) -> keras.callbacks.History:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model.fit(x, y, batch_size=16, epochs=epochs, callbacks=[budget], verbose=0)


def test_learning_rate_warms_up_then_follows_a_cosine() -> None:
    budget = TimeBudget(1e-2, steps=100, seconds=60, warmup=0.1, final_fraction=0.01)
    assert budget.learning_rate(0.0) == pytest.approx(1e-4)
    assert budget.learning_rate(0.05) == pytest.approx((1e-4 + 1e-2) / 2)
    assert budget.learning_rate(0.1) == pytest.approx(1e-2)
    assert budget.learning_rate(0.55) == pytest.approx((1e-4 + 1e-2) / 2)
    assert budget.learning_rate(1.0) == pytest.approx(1e-4)


def test_stops_after_its_steps_with_the_rate_annealed() -> None:
    budget = TimeBudget(1e-2, steps=20, seconds=3600)
    history = _fit(budget)
    assert len(history.history["loss"]) == 5  # 4 steps an epoch: 20 steps, not 50 epochs
    rates = [rate for _, rate in budget.history]
    assert len(rates) == 20 and max(rates) == pytest.approx(1e-2, rel=0.2)
    assert rates[0] < 2e-3 and rates[-1] < 1e-3


def test_stops_when_the_time_is_up() -> None:
    budget = TimeBudget(1e-2, steps=10_000, seconds=1e-9)
    _fit(budget)
    assert len(budget.history) == 1  # progress is 1 after the first step


def test_a_schedule_in_the_optimizer_gets_a_clear_message() -> None:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, 10)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    with pytest.raises(ValueError, match="not a learning-rate schedule"):
        budget = TimeBudget(1e-2, steps=10, seconds=60)
        model.fit(np.zeros((4, 3)), np.zeros((4, 1)), verbose=0, callbacks=[budget])


def test_labkit_time_scale_scales_every_budget(monkeypatch) -> None:
    monkeypatch.delenv("LABKIT_TIME_SCALE", raising=False)
    assert time_scale() == 1 and TimeBudget(1e-2, steps=10, seconds=100).seconds == 100
    monkeypatch.setenv("LABKIT_TIME_SCALE", "0.6")
    assert TimeBudget(1e-2, steps=10, seconds=100).seconds == pytest.approx(60)
    budget = TimeBudget(1e-2, steps=100, seconds=100)
    budget.start = time.perf_counter() - 30  # 30 s of 60 are gone: half of the budget
    assert budget.progress() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("text", ["0", "-1", "fast", "nan", "inf"])
def test_a_wrong_time_scale_says_what_to_set(monkeypatch, text: str) -> None:
    monkeypatch.setenv("LABKIT_TIME_SCALE", text)
    with pytest.raises(LabkitError, match="not a positive number: unset it, or set it to e.g. 0.6"):
        TimeBudget(1e-2, steps=10, seconds=60)


class TwoOptimizerModel(keras.Model):
    """A model trained by two optimizers, like a GAN: each updates one of two layers."""

    def __init__(self) -> None:
        super().__init__()
        self.first, self.second = keras.layers.Dense(1), keras.layers.Dense(1)

    def call(self, x):
        return self.second(self.first(x))

    def compile(self, d_optimizer=None, g_optimizer=None):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        with tf.GradientTape(persistent=True) as tape:
            loss = tf.reduce_mean((self(x) - y) ** 2)
        for optimizer, layer in ((self.d_optimizer, self.first), (self.g_optimizer, self.second)):
            variables = layer.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return {"loss": loss}


def test_drives_every_optimizer_it_names() -> None:
    model = TwoOptimizerModel()
    model.compile(d_optimizer=keras.optimizers.Adam(1.0), g_optimizer=keras.optimizers.SGD(1.0))
    budget = TimeBudget(
        1e-2,
        steps=8,
        seconds=3600,
        warmup=0.0,
        final_fraction=1.0,
        optimizers=("d_optimizer", "g_optimizer"),
    )
    model.fit(
        np.zeros((16, 3)), np.zeros((16, 1)), batch_size=4, epochs=5, callbacks=[budget], verbose=0
    )
    assert budget.step == 8  # 4 steps an epoch: stopped after 2 epochs
    for optimizer in (model.d_optimizer, model.g_optimizer):
        assert float(optimizer.learning_rate) == pytest.approx(1e-2)  # constant: no warm-up/decay
    bare = TwoOptimizerModel()
    bare.compile(d_optimizer=keras.optimizers.Adam(1.0))
    with pytest.raises(ValueError, match="model.g_optimizer, which this model lacks"):
        bare.fit(
            np.zeros((4, 3)),
            np.zeros((4, 1)),
            verbose=0,
            callbacks=[TimeBudget(1e-2, steps=4, seconds=60, optimizers=("g_optimizer",))],
        )
