"""Stop a learner's code that runs too long (an endless loop) without stopping the kernel.

``signal.alarm`` does not exist on Windows and belongs to the Jupyter kernel elsewhere, so a
timer thread raises an exception *in the checking thread* instead, with CPython's
``PyThreadState_SetAsyncExc``: portable (Windows, macOS, Linux) and nothing keeps running
afterwards. Such an exception interrupts Python code only: a single TensorFlow operation (C++)
is interrupted when it returns, so checks run learner graphs only after the same code has
finished eagerly (see ``learner_code``).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimeLimitExceeded(Exception):
    """The code in a ``time_limit`` block ran longer than it was allowed to."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not finish within {seconds:g} seconds")
        self.seconds = seconds


class _TimeUp(BaseException):
    """Raised asynchronously in the checking thread; a BaseException, so that a learner's
    `except Exception:` does not swallow it."""


def _raise_in_thread(thread_id: int, exc_type: type[BaseException] | None) -> None:
    """Make ``thread_id`` raise ``exc_type`` at its next Python instruction; None cancels."""
    exc = ctypes.py_object(exc_type) if exc_type is not None else None  # None: a NULL pointer
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), exc)


def can_interrupt() -> bool:
    """True on CPython, where ``run_with_time_limit`` can stop a loop (not on PyPy, for example)."""
    return hasattr(ctypes, "pythonapi") and hasattr(ctypes.pythonapi, "PyThreadState_SetAsyncExc")


def run_with_time_limit(seconds: float, thunk: Callable[[], T]) -> T:
    """``thunk()``, or ``TimeLimitExceeded`` when it runs longer than ``seconds``."""
    if not can_interrupt():
        return thunk()
    target = threading.get_ident()
    lock = threading.Lock()
    state = {"armed": True}

    def fire() -> None:
        with lock:
            if state["armed"]:
                _raise_in_thread(target, _TimeUp)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    try:
        try:
            timer.start()
            return thunk()
        finally:
            with lock:
                state["armed"] = False
                _raise_in_thread(target, None)  # cancel one the timer raised just now
            timer.cancel()
    except _TimeUp:
        raise TimeLimitExceeded(seconds) from None
