"""The exercise-check framework: statuses, feedback, hints, solutions."""

from __future__ import annotations

import numpy as np
import pytest

from labkit.checks import (
    Exercise,
    Incorrect,
    Status,
    call_learner,
    expect_close,
    expect_shape,
    learner_value,
)


def _check_double(ns) -> str | None:
    double = learner_value(ns, "double")
    out = call_learner(double, np.arange(3.0))
    expect_shape(out, (3,), "double(x)")
    expect_close(out, [0.0, 2.0, 4.0], "double(x)")
    return None


q = Exercise(
    "09_example", "q1", "Double", _check_double, hints=["Multiply.", "By two.", "`return 2 * x`"]
)


def test_correct() -> None:
    result = q.result({"double": lambda x: 2 * x})
    assert result.status is Status.CORRECT


@pytest.mark.parametrize(
    ("namespace", "status", "reason"),
    [
        ({}, Status.NOT_ATTEMPTED, "not defined yet"),
        ({"double": ...}, Status.NOT_ATTEMPTED, "not defined yet"),
        (
            {"double": lambda x: (_ for _ in ()).throw(NotImplementedError())},
            Status.NOT_ATTEMPTED,
            "placeholder",
        ),
        ({"double": lambda x: x[:2] * 2}, Status.INCORRECT, "has shape (2,); expected (3)"),
        ({"double": lambda x: x + 2}, Status.INCORRECT, "largest difference is 2 at index (0,)"),
        ({"double": lambda x: int("two")}, Status.INCORRECT, "raised ValueError"),  # noqa: F821
        ({"double": 3}, Status.INCORRECT, "should be a function"),
    ],
)
def test_feedback_points_at_the_mistake(namespace, status, reason) -> None:
    result = q.result(namespace)
    assert result.status is status
    assert reason in result.message


def test_check_reads_the_callers_globals(capsys) -> None:
    globals()["double"] = lambda x: 2 * x
    try:
        q.check()
    finally:
        del globals()["double"]
    assert capsys.readouterr().out.startswith("Correct")


def test_hints_go_one_level_deeper_each_call(capsys) -> None:
    fresh = Exercise("09_example", "q1", "Double", _check_double, hints=["Multiply.", "By two."])
    fresh.hint()
    fresh.hint()
    fresh.hint()
    out = capsys.readouterr().out
    assert "Hint 1/2 (call hint() again for hint 2): Multiply." in out
    assert out.count("Hint 2/2: By two.") == 2


def test_feedback_renders_as_html() -> None:
    html = q.result({}).feedback()._repr_html_()
    assert "Not attempted" in html and "<b>" in html


def test_incorrect_is_an_exception_checks_raise() -> None:
    with pytest.raises(Incorrect):
        expect_close([1.0], [2.0], "x")
