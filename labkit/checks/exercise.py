"""Exercise feedback in the style of Kaggle Learn: ``q1.check()``, ``q1.hint()``, ``q1.solution()``.

A check looks at what the learner's code *does* (shapes, values within a tolerance, layer
types and sizes, the operations it runs), never at the text of the code. It reads the
learner's variables from the notebook's namespace and answers *Correct*, *Incorrect* with a
reason that points at the mistake, or *Not attempted*. It never shows a traceback: the
learner's errors become Incorrect (``learner_code``), and a bug in the check itself becomes
*Check failed* with a request to tell the instructor.
"""

from __future__ import annotations

import enum
import html
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.checks.learner_errors import STOPPING, explain, learner_line, stopping
from labkit.checks.random_state import seeded
from labkit.errors import first_line

Namespace = Mapping[str, Any]
_LABKIT_DIR = Path(__file__).resolve().parent.parent

# Every check runs with all random generators seeded with this (and the learner's restored
# afterwards, see random_state.seeded): the same answer always gets the same verdict.
CHECK_SEED = 20_240_601


class Status(enum.Enum):
    CORRECT = "Correct"
    INCORRECT = "Incorrect"
    NOT_ATTEMPTED = "Not attempted"
    CHECK_FAILED = "Check failed"  # a bug in the check, not in the learner's code


_COLOURS = {
    Status.CORRECT: "#2e7d32",
    Status.INCORRECT: "#c62828",
    Status.NOT_ATTEMPTED: "#6d6d6d",
    Status.CHECK_FAILED: "#e65100",
}


@dataclass(frozen=True)
class Feedback:
    """What ``check()``, ``hint()`` and ``solution()`` show: plain text, or coloured HTML in Jupyter."""

    title: str
    message: str
    colour: str = "#1565c0"
    code: bool = False

    def __repr__(self) -> str:
        if self.message and not self.code:
            return f"{self.title}: {self.message}"
        return f"{self.title}:\n{self.message}"

    def _repr_html_(self) -> str:
        body = html.escape(self.message)
        body = f"<pre>{body}</pre>" if self.code else body.replace("\n", "<br>")
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


def _in_labkit(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(_LABKIT_DIR)


def _learner_error(exc: Exception) -> Result | None:
    """Incorrect, with the learner's line, when ``exc`` came out of the learner's own code (a
    method of their object that a check used); None when their code is not involved."""
    line = learner_line(exc, skip=2)  # _judge and the check itself (a test's is in tests/)
    if line is None:
        return None
    return Result(
        Status.INCORRECT,
        f"your code raised {type(exc).__name__}: {explain(exc)}\nYour line that failed: {line}",
    )


def _check_failed(exc: Exception) -> Result:
    """A bug in a check, reported without a traceback but with where it happened."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _in_labkit(f.filename)]
    where = f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})" if frames else ""
    return Result(
        Status.CHECK_FAILED,
        f"the check failed on your answer: {type(exc).__name__}: {first_line(exc)}{where}. "
        "This is a bug in the check, not necessarily in your code: please tell the instructor.",
    )


class Exercise:
    """One exercise of a lab: ``check()``, ``hint()`` and ``solution()`` for the learner.

    ``check`` is the module's ``_check_qN``: the exercise's id is its ``qN``, and its lab the
    module's ``LAB`` (the solution notebook's folder), so a lab module declares each once.
    The hints go from a nudge to the method; the last hint is always the solution's code, read
    from the solution notebook (``labkit.notebooks.solutions.solution_code``, which the tests
    use too), never a copy of it.

    ``needs`` lists the exercises whose answers this one uses (lab 02 q3 calls the learner's
    ``softmax`` and ``cross_entropy``): when this check fails while one of those is not right
    yet, the learner is told to fix that one first instead of being blamed here.
    """

    def __init__(
        self,
        title: str,
        check: Callable[[Namespace], str | None],
        hints: Sequence[str],
        needs: Sequence[Exercise] = (),
        *,
        lab: str | None = None,
        id: str | None = None,
    ) -> None:
        self.lab = lab or sys.modules[check.__module__].LAB
        self.id = id or check.__name__.removeprefix("_check_")
        self.title = title
        self._check, self._hints, self._hints_shown = check, list(hints), 0
        self.needs = tuple(needs)

    def __repr__(self) -> str:
        return f"<exercise {self.id} of lab {self.lab}: {self.title}>"

    def result(self, namespace: Namespace) -> Result:
        """Run the check against a namespace (the notebook's globals in ``check()``)."""
        result = self._own_result(namespace)
        if result.status is Status.CORRECT:
            return result
        undone = self._first_undone(namespace)
        if undone is not None:
            earlier, before = undone
            state = "not done yet" if before.status is Status.NOT_ATTEMPTED else "not right yet"
            return Result(
                Status.NOT_ATTEMPTED,
                f"{self.id} needs {earlier.id}, which is {state}: fix {earlier.id} first.",
            )
        return result

    def _own_result(self, namespace: Namespace) -> Result:
        with seeded(CHECK_SEED):
            return self._judge(namespace)

    def _first_undone(self, namespace: Namespace) -> tuple[Exercise, Result] | None:
        """The earliest exercise this one needs (directly or not) that is not Correct."""
        for earlier in self.needs:
            before = earlier._own_result(namespace)
            if before.status is not Status.CORRECT:
                return earlier._first_undone(namespace) or (earlier, before)
        return None

    def _judge(self, namespace: Namespace) -> Result:
        try:
            note = self._check(namespace)
        except NotAttempted as exc:
            return Result(Status.NOT_ATTEMPTED, str(exc))
        except Incorrect as exc:
            return Result(Status.INCORRECT, str(exc))
        except STOPPING as exc:  # the learner's sys.exit() met outside call_learner
            return Result(Status.INCORRECT, stopping("your code", exc))
        except Exception as exc:  # noqa: BLE001 - the learner's error, or a bug in the check
            return _learner_error(exc) or _check_failed(exc)
        return Result(Status.CORRECT, note or "well done.")

    def check(self, *unexpected: Any) -> None:
        """Check your answer: Correct, Incorrect (with the reason), or Not attempted."""
        if unexpected:
            _show(Feedback("Note", "check() takes no arguments: it reads your variables itself."))
        namespace = sys._getframe(1).f_globals  # the notebook's variables
        _show(self.result(namespace).feedback())

    def hint(self, level: Any = None) -> None:
        """Show the next hint (or hint ``level``, from 1); each call goes one level deeper. The
        last one is the solution."""
        count = len(self._hints) + 1
        if level is None:
            self._hints_shown = min(self._hints_shown + 1, count)
            level = self._hints_shown
        try:
            level = max(1, min(int(level), count))
        except (TypeError, ValueError, OverflowError):
            _show(Feedback("Hint", f"hint() takes a level from 1 to {count}, e.g. hint(2)."))
            return
        more = f" (call hint() again for hint {level + 1})" if level < count else ""
        if level <= len(self._hints):
            _show(Feedback(f"Hint {level}/{count}{more}", self._hints[level - 1]))
        else:
            _show(self._solution_feedback(f"Hint {level}/{count}: the solution"))

    def solution(self, *unexpected: Any) -> None:
        """Show the solution code, read from the lab's solution notebook."""
        _show(self._solution_feedback(f"Solution to {self.id}"))

    def _solution_feedback(self, title: str) -> Feedback:
        from labkit.errors import LabkitError
        from labkit.notebooks import solutions

        try:
            code = solutions.solution_code(self.lab, self.id)
        except LabkitError as exc:
            return Feedback(title, str(exc))
        return Feedback(title, code, code=True)


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
