"""Stop a learner's code that runs too long (an endless loop, a sleep) without stopping the kernel.

In the main thread on POSIX (a Jupyter kernel runs cells there) a ``SIGALRM`` timer
(``signal.setitimer``) raises ``_TimeUp`` at the limit when the learner's own code is running:
that also interrupts a blocking call of theirs such as ``time.sleep``. When a library is running
instead, the learner's next line raises it (a trace function), so that no library is stopped
half-way through its bookkeeping. Code that swallows it (``except BaseException: pass``) is
interrupted again every ``REPEAT_S``, and from the second time on every line of the learner's
own code raises it, so that no handler of theirs can keep running. Elsewhere (Windows,
a thread that is not the main one) a timer thread raises ``_TimeUp`` in the checking thread with
CPython's ``PyThreadState_SetAsyncExc``, again every ``REPEAT_S``: that stops a Python loop
that does not swallow it, but not a blocking call, which is interrupted only when it returns.
Nor can anything interrupt a single TensorFlow operation (C++) before it returns, so checks run
learner graphs only after the same code has finished eagerly (see ``learner_code``). When the
code still runs ``GIVE_UP_S`` after the limit, a last message on stderr tells the learner to
interrupt the kernel.

Limits do not nest: inside a limit, an inner ``run_with_time_limit`` runs under the outer one.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

REPEAT_S = 0.25  # how often the interruption is repeated after the limit
GIVE_UP_S = 10.0  # after the limit, when the learner is told that the check cannot stop it
STUCK_MESSAGE = (
    "The check cannot stop your code (it ignores every interruption, or waits inside a library "
    "call): interrupt the kernel (the stop button, or Kernel > Interrupt; where your code "
    "catches that too, Kernel > Restart), fix the loop, and check again."
)


class TimeLimitExceeded(Exception):
    """The code in a ``time_limit`` block ran longer than it was allowed to."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not finish within {seconds:g} seconds")
        self.seconds = seconds


class _TimeUp(BaseException):
    """Raised in the checking thread at the limit; a BaseException, so that a learner's
    `except Exception:` does not swallow it."""


_active = threading.local()  # .on: a limit is running in this thread


def _raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> None:
    """Make ``thread_id`` raise ``exc_type`` at its next Python instruction."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc_type)
    )


def can_interrupt() -> bool:
    """True on CPython, where ``run_with_time_limit`` can stop a loop (not on PyPy, for example)."""
    return hasattr(ctypes, "pythonapi") and hasattr(ctypes.pythonapi, "PyThreadState_SetAsyncExc")


def _can_use_signals() -> bool:
    return (
        os.name == "posix"
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )


class _Watch:
    """What the limit's handlers share: whether it is still armed, and the last resort."""

    def __init__(self, seconds: float) -> None:
        self.armed, self.fired = True, 0
        self.lock = threading.Lock()
        self.give_up = threading.Timer(seconds + GIVE_UP_S, self._say_stuck)
        self.give_up.daemon = True

    def _say_stuck(self) -> None:
        if self.armed:
            print(STUCK_MESSAGE, file=sys.__stderr__ or sys.stderr, flush=True)


def _learner_frames_raise(watch: _Watch) -> Callable[..., Any]:
    """A trace function that raises _TimeUp on every line of the learner's own code. It does
    not follow a library's frames (it returns None for them), so that libraries run at full
    speed under it."""
    from labkit.checks.learner_errors import is_learner_file

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if not watch.armed or not is_learner_file(frame.f_code.co_filename):
            return None
        if event == "line":
            raise _TimeUp
        return tracer

    return tracer


def _with_signals(seconds: float, thunk: Callable[[], T]) -> T:
    from labkit.checks.learner_errors import is_learner_file

    watch = _Watch(seconds)
    tracer = _learner_frames_raise(watch)
    previous_trace = sys.gettrace()
    handling = False

    def on_alarm(signum: int, frame: Any) -> None:
        nonlocal handling, outer_delay
        # An alarm that comes while the last one is handled is dropped: where the handler is
        # slow to run (a loaded machine, another thread holding the GIL), nested handlers
        # would otherwise pile up without end.
        if not watch.armed or handling:
            return
        elapsed = time.monotonic() - started
        if outer_delay and elapsed >= outer_delay and callable(previous):
            outer_delay = 0.0  # someone else's timer (pytest-timeout's) is due: theirs, once
            previous(signum, frame)
        if elapsed < seconds:
            return  # an alarm for the other timer only
        handling = True
        try:
            watch.fired += 1
            # Raise only in the learner's own code. Raised in a library (TensorFlow unwinding a
            # graph's context after the first interruption, say), it could stop the library
            # half-way through its bookkeeping and break every later check in the kernel.
            in_learner_code = frame is not None and is_learner_file(frame.f_code.co_filename)
            if (watch.fired >= 2 or not in_learner_code) and sys.gettrace() is not tracer:
                sys.settrace(tracer)  # every line of the learner's code raises from now on
                while frame is not None:
                    if is_learner_file(frame.f_code.co_filename):
                        frame.f_trace = tracer
                    frame = frame.f_back
        finally:
            handling = False
        if in_learner_code:
            raise _TimeUp

    # Someone else's timer (pytest-timeout's, signal method) keeps its deadline: its handler is
    # called when it is due, even while the learner's code cannot be stopped.
    started, (outer_delay, outer_interval) = time.monotonic(), signal.getitimer(signal.ITIMER_REAL)
    first = min(seconds, outer_delay) if outer_delay else seconds
    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:  # from here on an alarm may come: the finally below restores everything
        signal.setitimer(signal.ITIMER_REAL, first, REPEAT_S)
        watch.give_up.start()
        return thunk()
    finally:
        due: BaseException | None = None  # the other timer's failure, raised once all is restored
        while True:  # an alarm arriving while this runs must not skip the restoring
            try:
                watch.armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                watch.give_up.cancel()
                signal.signal(signal.SIGALRM, previous)
                if sys.gettrace() is tracer:
                    sys.settrace(previous_trace)
                if outer_delay:  # someone else's timer (pytest-timeout): what was left of it
                    left = max(outer_delay - (time.monotonic() - started), 0.001)
                    signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
                break
            except _TimeUp:
                continue
            except BaseException as exc:  # noqa: BLE001 - the other handler's, re-raised below
                due = exc
        if due is not None:
            raise due


def _take_pending() -> None:
    """Raise here an interruption that the timer thread scheduled just before it was disarmed.
    (A loop: its backward jump is where every CPython version looks for one.)"""
    for _ in range(2):
        pass


def _with_thread(seconds: float, thunk: Callable[[], T]) -> T:
    watch = _Watch(seconds)
    target = threading.get_ident()

    def fire() -> None:
        while True:
            with watch.lock:
                if not watch.armed:
                    return
                watch.fired += 1
                _raise_in_thread(target, _TimeUp)
            time.sleep(REPEAT_S)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    try:
        timer.start()
        watch.give_up.start()
        return thunk()
    finally:
        # An interruption scheduled before the timer is disarmed is taken here, not cancelled:
        # CPython 3.11's cancel (PyThreadState_SetAsyncExc with NULL) leaves a flag set that no
        # thread clears, and with a trace function on, the main thread then spins for good at
        # the next function it calls (the time limit's own alarm handler, seen in CI).
        while True:
            try:
                with watch.lock:
                    watch.armed = False
                _take_pending()
                break
            except _TimeUp:
                continue
        timer.cancel()
        watch.give_up.cancel()


def run_with_time_limit(seconds: float, thunk: Callable[[], T]) -> T:
    """``thunk()``, or ``TimeLimitExceeded`` when it runs longer than ``seconds``."""
    if getattr(_active, "on", False) or not can_interrupt():
        return thunk()
    _active.on = True
    try:
        if _can_use_signals():
            return _with_signals(seconds, thunk)
        return _with_thread(seconds, thunk)
    except _TimeUp:
        raise TimeLimitExceeded(seconds) from None
    finally:
        _active.on = False
