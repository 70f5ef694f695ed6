"""Running the learner's code from a check: every call is bounded in time, and whatever it
raises becomes feedback (Incorrect or Not attempted), never a traceback.

TensorFlow graphs (``tf.function``) are run eagerly here, as plain Python, so that a loop that
never ends can be stopped (a ``tf.while_loop`` inside a graph cannot be interrupted). A check
that must see the graph itself (lab 01 q4) runs it only after the same code finished eagerly.
"""

from __future__ import annotations

import contextlib
import numbers
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from labkit.checks.answers import expect_finite
from labkit.checks.exercise import Incorrect, NotAttempted
from labkit.checks.learner_errors import (
    STOPPING,
    explain,
    is_learner_file,
    learner_line,
    stopping,
)
from labkit.checks.time_limit import TimeLimitExceeded, run_with_time_limit
from labkit.checks.values import as_numpy, describe

T = TypeVar("T")

# How long one call of the learner's code may run. Long enough for a model to be built and
# called on a slow laptop, short enough that an endless loop is noticed soon.
LEARNER_TIME_LIMIT_S = 10.0


@contextlib.contextmanager
def functions_run_eagerly() -> Iterator[None]:
    """Run every ``tf.function`` as plain Python inside the block, then restore the setting."""
    import tensorflow as tf

    before = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(before)


def run_learner_code(what: str, thunk: Callable[[], T], graphs: bool = False) -> T:
    """``thunk()``, which runs the learner's code described by ``what`` (e.g. "`dense`").

    Raises NotAttempted for a placeholder (NotImplementedError), Incorrect for anything else
    the learner's code raises or for running longer than ``LEARNER_TIME_LIMIT_S``, with the
    error in plain words and the learner's own line. ``graphs=True`` runs tf.functions as
    graphs: only for code that has already finished eagerly.
    """
    try:
        # Warnings (Keras' about input structures, say) would be noise here: the learner sees
        # them when running their own cells.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if graphs:
                return run_with_time_limit(LEARNER_TIME_LIMIT_S, thunk)
            with functions_run_eagerly():
                return run_with_time_limit(LEARNER_TIME_LIMIT_S, thunk)
    except TimeLimitExceeded as exc:
        raise Incorrect(
            f"{what} {exc}, so the check stopped it: is there a loop that never ends (a `while` "
            "whose condition stays true)?"
        ) from None
    except (Incorrect, NotAttempted):
        raise
    except STOPPING as exc:  # sys.exit() and its kind: a verdict too, never the kernel's end
        raise Incorrect(stopping(what, exc)) from None
    except Exception as exc:  # noqa: BLE001 - any error in the learner's code is feedback
        if isinstance(exc, NotImplementedError) and _raised_by_learner(exc):
            detail = f" ({exc})" if str(exc) else ""
            raise NotAttempted(
                f"{what} still raises NotImplementedError{detail}: replace the placeholder with "
                "your code and run its cell."
            ) from None
        line = learner_line(exc)
        where = f"\nYour line that failed: {line}" if line else ""
        raise Incorrect(f"{what} raised {type(exc).__name__}: {explain(exc)}{where}") from None


def _raised_by_learner(exc: BaseException) -> bool:
    """Whether the learner's own code raised ``exc`` (a placeholder's NotImplementedError), not
    a library (TensorFlow raises NotImplementedError for NumPy calls on graph tensors)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and is_learner_file(frames[-1].filename)


def call_learner(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function ``func(*args, **kwargs)``; see ``run_learner_code``."""
    name = getattr(func, "__name__", "<lambda>")
    what = "calling your function" if name == "<lambda>" else f"calling `{name}`"
    if not callable(func):
        raise Incorrect(f"this should be a function, but it is {describe(func)}.")
    return run_learner_code(what, lambda: func(*args, **kwargs))


def call_model(model: Any, x: Any, what: str) -> Any:
    """``model(x, training=False)``, for a model the learner built; see ``run_learner_code``."""
    return run_learner_code(what, lambda: model(x, training=False))


def model_output(model: Any, x: Any, what: str, output: str) -> np.ndarray:
    """``call_model``, its result an array of finite numbers (``output`` names it in the
    feedback): a model's NaN or infinite output is never right."""
    return expect_finite(as_numpy(call_model(model, x, what), output), output)


def traced_op_types(func: Any, *args: Any, what: str) -> set[str]:
    """The types of the TensorFlow operations ``func`` runs on ``args``, read from its graph
    (``tf.function`` tracing, which runs Python only). Arrays and tensors become the graph's
    inputs; Python numbers stay constants, as in the notebook. A gradient taken inside adds
    the types of its operations prefixed by "gradient:". Incorrect when ``func`` cannot run as
    a graph."""
    import tensorflow as tf

    where = [i for i, a in enumerate(args) if not isinstance(a, numbers.Number)]
    specs = [tf.TensorSpec.from_tensor(tf.convert_to_tensor(args[i])) for i in where]

    def with_tensors(*tensors: Any) -> Any:
        full = list(args)
        for i, tensor in zip(where, tensors, strict=True):
            full[i] = tensor
        return func(*full)

    def trace() -> Any:
        return tf.function(with_tensors).get_concrete_function(*specs).graph

    graph = run_learner_code(f"{what} as a graph (tf.function)", trace, graphs=True)
    types = set()
    for op in graph.get_operations():
        gradient = op.name.startswith(("gradient_tape/", "gradients/")) or op.type.endswith("Grad")
        types.add(f"gradient:{op.type}" if gradient else op.type)
    return types
