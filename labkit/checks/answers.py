"""A right answer and its named mistakes, declared; one comparison policy for every check.

A check runs the learner's code on a *probe* (inputs the check chose) and compares what comes
back with what the right code computes on the same probe. Most wrong answers are classic
mistakes (swapped labels, a sum instead of a mean, a missing residual connection): declare
each as a ``Mistake``, what the wrong code computes on the probe and what to tell the learner,
next to the right value::

    Answer(
        right=gan_losses(real, fake)[0],
        mistakes=[
            Mistake("the labels are swapped: real images get 1, generated ones 0.", swapped),
            Mistake("take the mean over the batch, not the sum.", 8 * right),
        ],
    ).judge(call_learner(d_loss, real, fake), "discriminator_loss(real, fake)")

``judge`` applies the one policy, in this order: the answer is numbers (``as_numpy``); it is
right when every output has the right shape and finite values within ``rtol`` and ``atol``
(NaN and infinity are never right); otherwise the first mistake it matches is named; otherwise
the shape, NaN or infinity, a dtype too coarse for the tolerance (float16), then ``otherwise``
(what to tell the learner, when the check knows more) or how far off the values are. A value
may be one array or number, or a tuple of them (a function with several outputs). ``close`` is
the same comparison as a yes/no, for checks that branch on a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.checks.exercise import Incorrect
from labkit.checks.values import as_numpy

RTOL, ATOL = 1e-4, 1e-5  # the default tolerance: float32 arithmetic done in another order


@dataclass(frozen=True)
class Mistake:
    """A classic mistake: what to tell the learner, and what the wrong code computes."""

    message: str
    value: Any


def _outputs(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def close(got: Any, want: Any, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """Whether ``got`` is ``want``: the same number of outputs, each of the same shape, finite,
    and equal within the tolerance."""
    got, want = _outputs(got), _outputs(want)
    if len(got) != len(want):
        return False
    for g, w in zip(got, want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        if g.shape != w.shape or g.dtype.kind not in "biuf":
            return False
        if not (np.isfinite(g).all() and np.allclose(g, w, rtol=rtol, atol=atol)):
            return False
    return True


def name_the_mistake(
    got: Any, mistakes: Sequence[Mistake], rtol: float = RTOL, atol: float = ATOL, prefix: str = ""
) -> None:
    """Incorrect with the message of the first mistake whose value ``got`` is (``close``)."""
    for mistake in mistakes:
        if close(got, mistake.value, rtol, atol):
            raise Incorrect(prefix + mistake.message)


def expect_finite(array: np.ndarray, what: str) -> np.ndarray:
    """Incorrect when an array holds NaN (not a number) or infinity."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = "NaN (not a number)" if np.isnan(array).any() else "infinity"
        raise Incorrect(
            f"{what} contains {bad}: look for a division by zero, the log of 0, or an exp that "
            "overflows."
        )
    return array


@dataclass(frozen=True)
class Answer:
    """The right value of a probe, its named mistakes, and the tolerance."""

    right: Any
    mistakes: Sequence[Mistake] = ()
    rtol: float = RTOL
    atol: float = ATOL
    not_finite: str = ""  # what to say for NaN or infinity, when more than the usual is known
    names: Sequence[str] = ()  # what to call each output in a message ("the weights", ...)
    otherwise: str = ""  # what to say when no mistake matches, instead of how far off it is

    def judge(self, got: Any, what: str) -> Any:
        """``got`` as NumPy arrays when it is right; Incorrect saying why otherwise."""
        want = _outputs(self.right)
        got_outputs = _outputs(got)
        if len(got_outputs) != len(want):
            raise Incorrect(
                f"{what} returns {len(got_outputs)} values; it should return {len(want)}."
            )
        names = list(self.names) or (
            [what] if len(want) == 1 else [f"{what}[{i}]" for i in range(len(want))]
        )
        arrays = tuple(as_numpy(g, n) for g, n in zip(got_outputs, names, strict=True))
        if not close(arrays, want, self.rtol, self.atol):
            name_the_mistake(arrays, self.mistakes, self.rtol, self.atol, f"{what}: ")
            for array, right, name in zip(arrays, want, names, strict=True):
                self._how_far_off(array, np.asarray(right), name)
        return arrays if isinstance(self.right, tuple) else arrays[0]

    def _how_far_off(self, got: np.ndarray, want: np.ndarray, what: str) -> None:
        if got.shape != want.shape:
            raise Incorrect(f"{what} has shape {tuple(got.shape)}; expected {tuple(want.shape)}.")
        if self.not_finite and got.dtype.kind == "f" and not np.isfinite(got).all():
            raise Incorrect(f"{what} gives {_number(got)}: {self.not_finite}")
        expect_finite(got, what)
        if np.allclose(got, want, rtol=self.rtol, atol=self.atol):
            return
        if got.dtype.kind == "f" and got.dtype.itemsize < 4:
            raise Incorrect(
                f"{what} holds {got.dtype.name} values, too coarse for this (about "
                f"{np.finfo(got.dtype).precision} significant digits): compute in float32."
            )
        expect(not self.otherwise, f"{what}: {self.otherwise}")
        if got.size == 1:
            raise Incorrect(f"{what} gives {_number(got)}; the expected value is {_number(want)}.")
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        where = np.unravel_index(int(np.argmax(diff)), diff.shape)
        raise Incorrect(
            f"{what} has the right shape but wrong values: the largest difference is "
            f"{diff.max():.3g} at index {tuple(int(i) for i in where)}."
        )


def _number(array: np.ndarray) -> str:
    return f"{float(array.reshape(-1)[0]):.5g}" if array.size == 1 else "NaN or infinity"


def expect_close(
    actual: Any, expected: Any, what: str, rtol: float = RTOL, atol: float = ATOL
) -> np.ndarray:
    """``Answer(expected).judge(actual, what)``: values against a reference, no named mistake."""
    return Answer(expected, rtol=rtol, atol=atol).judge(actual, what)


def expect(ok: Any, message: str) -> None:
    """Incorrect with ``message`` unless ``ok``: one line per rule a check states."""
    if not ok:
        raise Incorrect(message)
