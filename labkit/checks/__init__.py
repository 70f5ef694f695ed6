"""Exercise checks: the framework (``exercise``) and one module per lab (``lab01`` ...).

In a notebook::

    from labkit.checks.lab02 import q1, q2
    q1.check()      # Correct / Incorrect: reason / Not attempted
    q1.hint()       # the next hint, one level deeper each call
    q1.solution()   # the code, read from the solution notebook
"""

from labkit.checks.exercise import (
    Exercise,
    Incorrect,
    NotAttempted,
    Result,
    Status,
    call_learner,
    expect_close,
    expect_shape,
    learner_value,
)

__all__ = [
    "Exercise", "Incorrect", "NotAttempted", "Result", "Status",
    "call_learner", "expect_close", "expect_shape", "learner_value",
]  # fmt: skip
