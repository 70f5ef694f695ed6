"""Catalogues for the exercise checks of every lab: right and wrong answers, and bad values.

Each ``tests/test_labNN.py`` defines ``answers()`` (a right answer to every exercise: the
namespace its check reads) and ``wrong_answers()`` (for each exercise, ``Case``s: a namespace,
the status it must get and words its message must contain). ``tests/test_check_robustness.py``
feeds them, and the bad values below, to every exercise of every lab in ``labkit.checks``.
"""

from __future__ import annotations

import importlib
import numbers
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
import pytest

import labkit.checks
from labkit.checks import Status


class Case(NamedTuple):
    namespace: dict
    status: Status
    words: str = ""


def lab_modules() -> list[ModuleType]:
    """Every ``labkit.checks.labNN`` module, the labs added later included."""
    names = sorted(
        m.name for m in pkgutil.iter_modules(labkit.checks.__path__) if m.name[:3] == "lab"
    )
    return [importlib.import_module(f"labkit.checks.{name}") for name in names]


def lab_tests(lab: ModuleType) -> ModuleType:
    """The test module of a lab (``tests/test_labNN.py``), which holds its catalogues."""
    return importlib.import_module("test_" + lab.__name__.rsplit(".", 1)[1])


def assert_verdicts(exercise: Any, cases: list[Case]) -> None:
    for case in cases:
        result = exercise.result(case.namespace)
        assert result.status is case.status, (exercise.id, case.words, result)
        assert case.words in result.message, (exercise.id, case.words, result.message)


def verdict_tests(
    lab: ModuleType,
    answers: Callable[[], dict[str, dict]],
    wrong_answers: Callable[[], dict[str, list[Case]]],
) -> tuple[Callable[..., None], Callable[..., None]]:
    """The two tests of every lab's test module, one per exercise: the right answer is
    Correct, and every wrong answer gets the status and the reason its case says."""
    ids = [q.id for q in lab.EXERCISES]

    @pytest.mark.parametrize("exercise", lab.EXERCISES, ids=ids)
    def test_the_right_answer_is_correct(exercise: Any) -> None:
        result = exercise.result(answers()[exercise.id])
        assert result.status is Status.CORRECT, result

    @pytest.mark.parametrize("exercise", lab.EXERCISES, ids=ids)
    def test_wrong_answers_are_incorrect_with_a_useful_reason(exercise: Any) -> None:
        assert_verdicts(exercise, wrong_answers()[exercise.id])

    return test_the_right_answer_is_correct, test_wrong_answers_are_incorrect_with_a_useful_reason


class Recorder(dict):
    """A namespace that records the names a check reads."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: list[str] = []

    def __contains__(self, name: object) -> bool:
        if name not in self.read:
            self.read.append(str(name))
        return super().__contains__(name)


def names_read(exercise: Any, namespace: dict) -> list[str]:
    """The names the check of ``exercise`` reads when it judges ``namespace``."""
    recorder = Recorder(namespace)
    exercise.result(recorder)
    return recorder.read


# ------------------------------------------------------------------ bad values
def _raises(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("something went wrong in the learner's code")


def _returns(value: Any) -> Callable[..., Any]:
    return lambda *args, **kwargs: value


def _models() -> list[tuple[str, Any]]:
    import keras

    class Subclassed(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x: Any) -> Any:
            return self.dense(x)

    built = Subclassed()
    built(np.zeros((1, 4), "float32"))
    inputs = keras.Input((3,))
    return [
        ("an empty Sequential", keras.Sequential()),
        ("a Sequential without Input", keras.Sequential([keras.layers.Dense(2)])),
        ("a subclassed model", Subclassed()),
        ("a built subclassed model", built),
        ("a wrongly shaped model", keras.Model(inputs, keras.layers.Dense(2)(inputs))),
    ]


def _generic() -> list[tuple[str, Any]]:
    return [
        ("None", None),
        ("a string", "text"),
        ("a number", 3.5),
        ("a string array", np.array(["a", "b"])),
        ("an object", object()),
        ("a module", np),
        ("a NaN array", np.full((2, 3), np.nan, np.float32)),
        ("an empty array", np.zeros((0,), np.float32)),
    ]


def _functions(models: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    values = [
        ("None", None),
        ("a string", "text"),
        ("a number", 3),
        ("a string array", np.array(["a", "b"])),
        ("a NaN array", np.full((4, 5), np.nan, np.float32)),
        ("an inf array", np.full((6, 10), np.inf, np.float32)),
        ("a tuple of the wrong length", (1,)),
        ("a long tuple", tuple(np.zeros((2, 3), np.float32) for _ in range(7))),
        ("a dict", {"x": 1}),
        *models,
    ]
    return [
        ("a function that raises", _raises),
        ("a function with no arguments", lambda: 1),
        *[(f"a function returning {label}", _returns(value)) for label, value in values],
    ]


def _corrupt(value: Any, how: Callable[[np.ndarray], Any]) -> Any:
    """``value`` with every array or tensor in it replaced by ``how(array)``; an object that is
    not data (a model, a function, a dataset) by None, so that the result is never the right one."""
    if isinstance(value, tuple | list):
        return type(value)(_corrupt(v, how) for v in value)
    if isinstance(value, dict):
        return {k: _corrupt(v, how) for k, v in value.items()}
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return how(np.asarray(value))
    if value is None or isinstance(value, numbers.Number | str | bytes):
        return value
    return None


def _corrupted(right: Callable[..., Any]) -> list[tuple[str, Any]]:
    """The right function, with its result of the right shape but the wrong kind of values."""
    corruptions = {
        "NaN": lambda a: np.full(a.shape, np.nan, np.float32),
        "inf": lambda a: np.full(a.shape, np.inf, np.float32),
        "text": lambda a: np.full(a.shape, "x"),
        "integer zeros": lambda a: np.zeros(a.shape, np.int64),
    }

    def corrupting(how: Callable[[np.ndarray], Any]) -> Callable[..., Any]:
        return lambda *args, **kwargs: _corrupt(right(*args, **kwargs), how)

    return [
        (f"the right function returning {label} of the right shape", corrupting(how))
        for label, how in corruptions.items()
    ]


def _integers() -> list[tuple[str, Any]]:
    return [("0", 0), ("-1", -1), ("1", 1), ("10**12", 10**12), ("2.5", 2.5), ("True", True)]


def _arrays(answer: Any) -> list[tuple[str, Any]]:
    import tensorflow as tf

    array = np.asarray(answer)
    return [
        ("NaN of the right shape", np.full(array.shape, np.nan, np.float32)),
        ("inf of the right shape", np.full(array.shape, np.inf, np.float32)),
        ("text of the right shape", np.full(array.shape, "x")),
        ("ints of the right shape", np.zeros(array.shape, np.int64)),
        ("the wrong shape", np.zeros((2, 2), np.float32)),
        ("a string tensor", tf.constant(["a", "b"])),
    ]


def bad_values(answer: Any, models: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Kinds of bad value for a learner variable whose right value is ``answer``."""
    import keras

    if isinstance(answer, keras.Model):
        kind = models
    elif callable(answer):
        kind = [*_functions(models), *_corrupted(answer)]
    elif isinstance(answer, numbers.Integral):
        kind = _integers()
    elif isinstance(answer, numbers.Real):
        kind = [("-0.5", -0.5), ("2.0", 2.0), ("NaN", float("nan"))]
    elif hasattr(answer, "shape"):
        kind = _arrays(answer)
    else:
        kind = []
    return [*_generic(), *kind]


class FuzzCase(NamedTuple):
    exercise: Any
    name: str
    label: str
    namespace: dict


def fuzz_cases(lab: ModuleType) -> Iterator[FuzzCase]:
    """Every exercise of ``lab`` with each name its check reads replaced by each bad value."""
    answers = lab_tests(lab).answers()
    models = _models()
    for exercise in lab.EXERCISES:
        answer = answers[exercise.id]
        for name in names_read(exercise, answer):
            for label, value in bad_values(answer.get(name), models):
                yield FuzzCase(exercise, name, label, {**answer, name: value})
