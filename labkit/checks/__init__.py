"""Exercise checks: the framework and one module per lab (``lab01`` ...).

In a notebook::

    from labkit.checks.lab02 import q1, q2
    q1.check()      # Correct / Incorrect: reason / Not attempted
    q1.hint()       # the next hint, one level deeper each call
    q1.solution()   # the code, read from the solution notebook

The framework: ``exercise`` (statuses, feedback, the ``Exercise`` class), ``values`` (the
learner's variables and shapes), ``answers`` (a right answer and its named mistakes, declared;
the one comparison policy), ``reference`` (the maths the checks compare with), ``learner_code`` (calling the learner's code: time
limit, errors in plain words, the learner's own line), ``models`` (the learner's Keras models),
``random_state`` and ``time_limit``. A lab module defines its exercises and ``EXERCISES``.
"""

from labkit.checks.answers import Answer, Mistake, close, expect_close
from labkit.checks.exercise import Exercise, Incorrect, NotAttempted, Result, Status
from labkit.checks.learner_code import call_learner, call_model
from labkit.checks.values import expect_shape, learner_value

__all__ = [
    "Answer",
    "Mistake",
    "close",
    "Exercise",
    "Incorrect",
    "NotAttempted",
    "Result",
    "Status",
    "call_learner",
    "call_model",
    "expect_close",
    "expect_shape",
    "learner_value",
]
