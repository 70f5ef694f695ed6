"""A lab's closing challenge: reach a bar (e.g. beat the baseline's test accuracy) within a
training-time limit, scored and recorded with ``labkit.report``.

>>> challenge = Challenge("beat the baseline", metric="test_accuracy", bar=0.85, max_seconds=30)
>>> with challenge.timer():
...     model.fit(...)
>>> challenge.score(test_accuracy)

``score`` shows a verdict (met, or by how much it was missed) and reports three metrics,
``<name>_result``, ``<name>_met`` (1 or 0) and ``<name>_seconds`` (when timed), so the
benchmark and the tests read the outcome like any other metric. A value that is not a number
(None, NaN, a string, a whole array) is not scored: the learner is told what to pass, and
``<name>_met`` is 0. A time limit is multiplied by ``LABKIT_TIME_SCALE``, like every time budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from labkit import settings
from labkit.checks.exercise import Feedback, _show
from labkit.errors import LabkitError
from labkit.lab.metrics import report

_MET_COLOUR, _MISSED_COLOUR, _NOT_SCORED_COLOUR = "#2e7d32", "#c62828", "#6d6d6d"


@dataclass(frozen=True)
class Verdict:
    """The outcome of a challenge: whether it was met, and the sentence that says why."""

    met: bool
    message: str
    result: float | None = None  # None: the value given was not a number
    seconds: float | None = None

    def feedback(self) -> Feedback:
        if self.result is None:
            return Feedback("Challenge not scored", self.message, _NOT_SCORED_COLOUR)
        if self.met:
            return Feedback("Challenge met", self.message, _MET_COLOUR)
        return Feedback("Challenge not met yet", self.message, _MISSED_COLOUR)


class Challenge:
    """A bar on one metric, optionally within ``max_seconds`` of training."""

    def __init__(
        self,
        goal: str,
        metric: str,
        bar: float,
        *,
        higher_is_better: bool = True,
        max_seconds: float | None = None,
        name: str = "challenge",
    ) -> None:
        self.goal, self.metric, self.bar = goal, metric, float(bar)
        self.higher_is_better, self.max_seconds, self.name = higher_is_better, max_seconds, name
        self.seconds: float | None = None  # measured by the last `with challenge.timer():`

    def __repr__(self) -> str:
        return f"<challenge {self.name}: {self.goal}>"

    @contextmanager
    def timer(self) -> Iterator[Challenge]:
        """Measure the training inside the ``with`` block; ``score`` uses that time."""
        start = time.perf_counter()
        try:
            yield self
        finally:
            self.seconds = time.perf_counter() - start

    def allowed_seconds(self) -> float | None:
        """The time limit on this machine: ``max_seconds`` times ``LABKIT_TIME_SCALE``."""
        return None if self.max_seconds is None else self.max_seconds * settings.time_scale()

    def judge(self, result: Any, seconds: Any = None) -> Verdict:
        """The verdict on ``result`` (a number) reached in ``seconds`` of training (default: the
        last ``timer()``), without showing or reporting anything."""
        seconds = self.seconds if seconds is None else seconds
        value = _number(result)
        if value is None:
            return Verdict(
                False,
                f"{self.metric} should be one number (e.g. a float from model.evaluate); got "
                f"{_describe(result)}. Compute it, then call score() again.",
            )
        try:
            allowed = self.allowed_seconds()
        except LabkitError as exc:
            return Verdict(False, str(exc), value)
        took = _number(seconds)
        if seconds is not None and (took is None or took < 0):
            return Verdict(
                False,
                f"the training time should be a number of seconds >= 0; got {_describe(seconds)}.",
                value,
            )
        if allowed is not None and took is None:
            return Verdict(
                False,
                f"this challenge allows {allowed:.0f} s of training, and none was measured: train "
                "inside `with challenge.timer():` (or pass seconds=...).",
                value,
            )
        reached = value >= self.bar if self.higher_is_better else value <= self.bar
        in_time = allowed is None or took <= allowed
        word = "at least" if self.higher_is_better else "at most"
        what = f"{self.metric} = {value:.4g} (the bar: {word} {self.bar:.4g})"
        timing = "" if took is None else f" in {took:.1f} s"
        limit = "" if allowed is None else f" (the limit: {allowed:.0f} s)"
        if reached and in_time:
            return Verdict(True, f"{what}{timing}{limit}. Well done.", value, took)
        if not reached:
            gap = abs(value - self.bar)
            return Verdict(
                False,
                f"{what}{timing}: {gap:.4g} short of the bar. Change one thing and try again.",
                value,
                took,
            )
        return Verdict(
            False,
            f"{what} reached, but in {took:.1f} s, over the limit of {allowed:.0f} s: "
            "make training cheaper (fewer epochs, a smaller model, larger batches).",
            value,
            took,
        )

    def score(self, result: Any, seconds: Any = None) -> None:
        """Show the verdict on ``result`` and report it as metrics (see the module docstring)."""
        verdict = self.judge(result, seconds)
        _show(verdict.feedback())
        metrics = {f"{self.name}_met": float(verdict.met)}
        if verdict.result is not None:
            metrics[f"{self.name}_result"] = verdict.result
        if verdict.seconds is not None:
            metrics[f"{self.name}_seconds"] = verdict.seconds
        report(**metrics)


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is not one number (a bool is not)."""
    if value is None or isinstance(value, bool | str | bytes):
        return None
    try:
        shape = tuple(getattr(value, "shape", ()))
        if shape == (1,):  # a 1-element array or tensor: its element
            value, shape = value[0], ()
        if shape != ():  # a whole array or tensor
            return None
        number = float(value)  # Python and NumPy numbers, 0-d arrays and tensors
    except Exception:  # noqa: BLE001 - whatever a learner passes, the verdict says what to pass
        return None
    return number if math.isfinite(number) else None


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
