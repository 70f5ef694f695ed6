"""Exercise feedback in the style of Kaggle Learn: ``q1.check()``, ``q1.hint()``, ``q1.solution()``.

A check looks at what the learner's code *does* (shapes, values within a
tolerance, layer types and sizes), never at the text of the code. It reads the
learner's variables from the notebook's namespace and answers *Correct*,
*Incorrect* with a reason that points at the mistake, or *Not attempted*.
"""

from __future__ import annotations

import enum
import html
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.errors import first_line

Namespace = Mapping[str, Any]


class Status(enum.Enum):
    CORRECT = "Correct"
    INCORRECT = "Incorrect"
    NOT_ATTEMPTED = "Not attempted"


_COLOURS = {Status.CORRECT: "#2e7d32", Status.INCORRECT: "#c62828", Status.NOT_ATTEMPTED: "#6d6d6d"}


@dataclass(frozen=True)
class Feedback:
    """What ``check()``, ``hint()`` and ``solution()`` show: plain text, or coloured HTML in Jupyter."""

    title: str
    message: str
    colour: str = "#1565c0"
    code: bool = False

    def __repr__(self) -> str:
        return (
            f"{self.title}: {self.message}"
            if self.message and not self.code
            else (f"{self.title}:\n{self.message}")
        )

    def _repr_html_(self) -> str:
        body = html.escape(self.message)
        body = f"<pre>{body}</pre>" if self.code else body
        return f'<span style="color:{self.colour}"><b>{html.escape(self.title)}</b></span>: {body}'


@dataclass(frozen=True)
class Result:
    """The outcome of a check."""

    status: Status
    message: str = ""

    def feedback(self) -> Feedback:
        return Feedback(self.status.value, self.message, _COLOURS[self.status])


class Incorrect(Exception):
    """Raised by a check with the reason the answer is wrong."""


class NotAttempted(Exception):
    """Raised by a check when the learner has not written the code yet."""


def learner_value(namespace: Namespace, name: str) -> Any:
    """The learner's variable ``name``; NotAttempted when it is missing or still ``...``."""
    if name not in namespace or namespace[name] is Ellipsis:
        raise NotAttempted(
            f"`{name}` is not defined yet: write your code, run the cell, then check."
        )
    return namespace[name]


def call_learner(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function; its exceptions become feedback, not a traceback."""
    name = getattr(func, "__name__", "your function")
    if not callable(func):
        raise Incorrect(f"`{name}` should be a function, but it is a {type(func).__name__}.")
    try:
        return func(*args, **kwargs)
    except NotImplementedError:
        raise NotAttempted(
            f"`{name}` still raises NotImplementedError: replace the placeholder."
        ) from None
    except Exception as exc:  # noqa: BLE001 - any error in the learner's code is feedback
        raise Incorrect(f"calling `{name}` raised {type(exc).__name__}: {exc}") from None


def run_model(model: Any, inputs: Any, what: str) -> np.ndarray:
    """The learner's model applied to ``inputs`` in inference mode, as a NumPy array; a model
    that cannot run on them is feedback (Incorrect), not a traceback."""
    try:
        return as_numpy(model(inputs, training=False), what)
    except Exception as exc:  # noqa: BLE001 - a model that cannot run is feedback
        shapes = [np.shape(x) for x in inputs] if isinstance(inputs, list | tuple) else None
        shown = np.shape(inputs) if shapes is None else ", ".join(map(str, shapes))
        raise Incorrect(
            f"{what} failed on inputs of shape {shown}: {type(exc).__name__}: {first_line(exc)}"
        ) from None


def seed_weights(model: Any, seed: int) -> None:
    """Give every weight of a model a value drawn from ``seed`` (batch normalisation: its neutral
    values), so that what a check sees depends on the architecture only, not on the global seed
    or on what ran before."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if not str(variable.dtype).startswith("float"):
            continue  # e.g. the state of a random layer's seed generator
        name, shape = variable.path.split("/")[-1], tuple(variable.shape)
        if name in ("gamma", "moving_variance"):
            value = np.ones(shape)
        elif name in ("beta", "moving_mean"):
            value = np.zeros(shape)
        elif len(shape) <= 1:
            value = rng.normal(0.0, 0.1, shape)
        else:
            value = rng.normal(0.0, 1.0 / math.sqrt(math.prod(shape[:-1])), shape)
        variable.assign(value.astype(variable.dtype))


def all_layers(model: Any) -> list:
    """Every layer of a Keras model, looking inside nested models and wrappers (Bidirectional)."""
    import keras

    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found += all_layers(layer)
        inner = getattr(layer, "forward_layer", None) or getattr(layer, "layer", None)
        if inner is not None and not isinstance(inner, keras.Model):
            found.append(inner)
    return found


def as_numpy(value: Any, what: str) -> np.ndarray:
    """A tensor, variable or array-like as a NumPy array."""
    try:
        return np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    except Exception:  # noqa: BLE001
        raise Incorrect(
            f"{what} should be a tensor or an array, not a {type(value).__name__}."
        ) from None


def expect_shape(value: Any, shape: Sequence[int | None], what: str) -> np.ndarray:
    """Check a shape (``None`` matches any size); returns the value as a NumPy array."""
    array = as_numpy(value, what)
    ok = array.ndim == len(shape) and all(
        e is None or e == a for e, a in zip(shape, array.shape, strict=False)
    )
    if not ok:
        wanted = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise Incorrect(f"{what} has shape {tuple(array.shape)}; expected {wanted}.")
    return array


def expect_close(
    actual: Any, expected: Any, what: str, rtol: float = 1e-4, atol: float = 1e-5
) -> None:
    """Check values against a reference within a tolerance, saying how far off they are."""
    got = as_numpy(actual, what)
    want = np.asarray(expected)
    if got.shape != want.shape:
        raise Incorrect(f"{what} has shape {tuple(got.shape)}; expected {tuple(want.shape)}.")
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        where = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        raise Incorrect(
            f"{what} has the right shape but wrong values: the largest difference is "
            f"{diff.max():.3g}"
            + (f" at index {tuple(int(i) for i in where)}" if where else "")
            + "."
        )


class Exercise:
    """One exercise of a lab: ``check()``, ``hint()`` and ``solution()`` for the learner."""

    def __init__(
        self,
        lab: str,
        id: str,
        title: str,
        check: Callable[[Namespace], str | None],
        hints: Sequence[str],
    ) -> None:
        self.lab, self.id, self.title = lab, id, title
        self._check, self._hints, self._hints_shown = check, list(hints), 0

    def __repr__(self) -> str:
        return f"<exercise {self.id} of lab {self.lab}: {self.title}>"

    def result(self, namespace: Namespace) -> Result:
        """Run the check against a namespace (the notebook's globals in ``check()``)."""
        try:
            note = self._check(namespace)
        except NotAttempted as exc:
            return Result(Status.NOT_ATTEMPTED, str(exc))
        except Incorrect as exc:
            return Result(Status.INCORRECT, str(exc))
        return Result(Status.CORRECT, note or "well done.")

    def check(self) -> None:
        """Check your answer: Correct, Incorrect (with the reason), or Not attempted."""
        namespace = sys._getframe(1).f_globals  # the notebook's variables
        _show(self.result(namespace).feedback())

    def hint(self, level: int | None = None) -> None:
        """Show the next hint (or hint ``level``, from 1); each call goes one level deeper."""
        if not self._hints:
            _show(Feedback("Hint", "there is no hint for this one: try the solution."))
            return
        if level is None:
            self._hints_shown = min(self._hints_shown + 1, len(self._hints))
            level = self._hints_shown
        level = max(1, min(level, len(self._hints)))
        more = f" (call hint() again for hint {level + 1})" if level < len(self._hints) else ""
        _show(Feedback(f"Hint {level}/{len(self._hints)}{more}", self._hints[level - 1]))

    def solution(self) -> None:
        """Show the solution code, read from the lab's solution notebook."""
        from labkit.notebooks import solution_code

        _show(Feedback(f"Solution to {self.id}", solution_code(self.lab, self.id), code=True))


def _show(feedback: Feedback) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        print(repr(feedback))
        return
    if get_ipython() is None:
        print(repr(feedback))
    else:
        display(feedback)
