"""Reading the learner's variables and comparing values: shapes, dtypes, values within a
tolerance (``answers``). Anything unexpected (None, text, NaN, a wrong shape) becomes Incorrect or Not
attempted with a reason, never an exception from NumPy."""

from __future__ import annotations

import numbers
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from labkit.checks.exercise import Incorrect, Namespace, NotAttempted

_NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats
_KIND_NAMES = {"ndarray": "array", "EagerTensor": "tensor", "ResourceVariable": "tf.Variable"}


def _article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def describe(value: Any) -> str:
    """A short description of a value for a message: "None", "the text 'abc'", "a float32
    array of shape (3, 4)", "a function", ..."""
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return f"the text {value[:30]!r}" + ("..." if len(value) > 30 else "")
    if isinstance(value, numbers.Number):
        return f"the number {value!r}"
    if isinstance(value, types.ModuleType):
        return f"the module {value.__name__}"
    if isinstance(value, types.FunctionType | types.BuiltinFunctionType | types.MethodType):
        return "a function"
    kind = _KIND_NAMES.get(type(value).__name__, type(value).__name__)
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        dtype_name = getattr(dtype, "name", str(dtype))
        try:
            return f"{_article(kind)} of dtype {dtype_name} and shape {tuple(shape)}"
        except TypeError:  # a shape that is not a sequence
            pass
    return _article(kind)


def learner_value(namespace: Namespace, name: str) -> Any:
    """The learner's variable ``name``; NotAttempted when it is missing or still ``...``."""
    if name not in namespace or namespace[name] is Ellipsis:
        raise NotAttempted(
            f"`{name}` is not defined yet: write your code, run the cell, then check."
        )
    return namespace[name]


def learner_function(namespace: Namespace, name: str) -> Callable[..., Any]:
    """The learner's function ``name``; Incorrect when the variable holds something else."""
    value = learner_value(namespace, name)
    if not callable(value):
        raise Incorrect(
            f"`{name}` should be a function, but it is {describe(value)}: run the cell with "
            f"`def {name}(...)` again."
        )
    return value


def learner_int(namespace: Namespace, name: str, minimum: int = 1) -> int:
    """A whole-number constant of the notebook (N_SLOTS, VOCAB_SIZE, ...), at least ``minimum``."""
    value = learner_value(namespace, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise Incorrect(
            f"`{name}` is {describe(value)}; it should be a "
            f"{'positive ' if minimum == 1 else ''}whole number: run the cell that "
            "defines it again."
        )
    if value < minimum:
        raise Incorrect(
            f"`{name}` is {value}; it should be at least {minimum}: run the cell that defines "
            "it again."
        )
    return int(value)


def learner_float(namespace: Namespace, name: str, low: float, high: float) -> float:
    """A number of the notebook (a dropout rate, ...) between ``low`` and ``high``."""
    value = learner_value(namespace, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value <= high:
        raise Incorrect(
            f"`{name}` is {describe(value)}; it should be a number from {low:g} to {high:g}: "
            "run the cell that defines it again."
        )
    return float(value)


def returned(out: Any, count: int, what: str, which: str) -> tuple:
    """The ``count`` values a learner's function returned (a tuple or a list); ``which`` says
    what they are ("tensors, `(h, c)`")."""
    if not isinstance(out, tuple | list) or len(out) != count:
        number = {2: "two", 3: "three", 4: "four"}.get(count, str(count))
        raise Incorrect(f"{what} returns {describe(out)}; it should return {number} {which}.")
    return tuple(out)


# Values whose conversion runs no code of the learner's: converted without a time limit.
_PLAIN = (np.ndarray, np.generic, numbers.Number)
_PLAIN_TENSORS = ("EagerTensor", "ResourceVariable")


def _to_array(value: Any, what: str) -> np.ndarray | None:
    """``value`` as a NumPy array, None when it is not array-like. A learner's object (its
    ``.numpy()``, its ``__array__``) is converted within the time limit, its errors theirs."""
    from labkit.checks.learner_code import run_learner_code  # it imports this module
    from labkit.checks.learner_errors import learner_line

    def convert() -> np.ndarray | None:
        try:
            return np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        except Exception as exc:  # noqa: BLE001 - not array-like, unless their code raised it
            if learner_line(exc) is not None:
                raise
            return None

    if isinstance(value, _PLAIN) or type(value).__name__ in _PLAIN_TENSORS:
        return convert()
    return run_learner_code(f"turning {what} into numbers", convert)


def as_numpy(value: Any, what: str) -> np.ndarray:
    """A tensor, variable or array-like of numbers (or booleans) as a NumPy array."""
    array = _to_array(value, what)
    if array is None:
        raise Incorrect(f"{what} should be a tensor or an array, not {describe(value)}.")
    if array.dtype.kind not in _NUMERIC_KINDS:
        if array.dtype.kind in "OSU" and array.ndim == 0:
            raise Incorrect(f"{what} should be a tensor or an array, not {describe(value)}.")
        raise Incorrect(
            f"{what} holds {array.dtype.name} values, not numbers: it should be a tensor or an "
            "array of numbers."
        )
    return array


def as_scalar(value: Any, what: str) -> float:
    """One number (a loss, say) from a tensor, an array or a Python number."""
    array = as_numpy(value, what)
    if array.size != 1:
        raise Incorrect(
            f"{what} returns {array.size} numbers (shape {array.shape}); it should return one: "
            "the mean over the batch."
        )
    return float(array.reshape(()))


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
