"""Every exercise of every lab (discovered from labkit.checks, so later labs are included):
bad values never escape as exceptions, the same answer always gets the same verdict, and an
endless loop in the learner's code is stopped."""

from __future__ import annotations

import ast
import sys
import threading
import time
from collections.abc import Iterator
from types import FunctionType

import pytest
from check_catalogue import Case, fuzz_cases, lab_modules, lab_tests, names_read

from labkit.checks import Status, learner_code
from labkit.notebooks.solutions import solution_code

LABS = lab_modules()
SEEDS = range(10)
# Lab 09's checks run the learner's code on two replicas: conftest splits the CPU first.
pytestmark = pytest.mark.replicas


def _id(lab) -> str:
    return lab.__name__.rsplit(".", 1)[1]


@pytest.mark.parametrize("lab", LABS, ids=_id)
def test_every_exercise_has_a_right_answer_and_wrong_ones_in_the_tests(lab) -> None:
    tests = lab_tests(lab)
    ids = {q.id for q in lab.EXERCISES}
    assert set(tests.answers()) == ids, f"tests/test_{_id(lab)}.py: answers() misses some"
    wrong = tests.wrong_answers()
    assert all(wrong.get(q) for q in ids), f"tests/test_{_id(lab)}.py: wrong_answers() misses some"


@pytest.mark.parametrize("lab", LABS, ids=_id)
def test_bad_values_get_incorrect_or_not_attempted_never_an_exception(lab) -> None:
    failures, tried = [], 0
    for case in fuzz_cases(lab):
        tried += 1
        result = case.exercise.result(case.namespace)
        if result.status not in (Status.INCORRECT, Status.NOT_ATTEMPTED):
            failures.append(f"{case.exercise.id} {case.name} = {case.label}: {result}")
    assert tried > 20 * len(lab.EXERCISES)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("lab", LABS, ids=_id)
def test_every_catalogued_answer_gets_the_same_verdict_whatever_the_global_seed(lab) -> None:
    """The wrong answers of the lab's tests, and its right ones, each judged under 10 global
    seeds. A check restores the learner's random state, so under one global seed every check
    starts from the same state whatever ran before: the order of the cases does not matter."""
    import keras

    tests = lab_tests(lab)
    right, wrong = tests.answers(), tests.wrong_answers()
    cases = [
        (exercise, case.namespace)
        for exercise in lab.EXERCISES
        for case in [*wrong[exercise.id], Case(right[exercise.id], Status.CORRECT)]
    ]
    verdicts: list[set] = [set() for _ in cases]
    for seed in SEEDS:
        keras.utils.set_random_seed(seed)
        for (exercise, namespace), seen in zip(cases, verdicts, strict=True):
            result = exercise.result(namespace)
            seen.add((result.status, result.message))
    for (exercise, _), seen in zip(cases, verdicts, strict=True):
        assert len(seen) == 1, (exercise.id, seen)


def _endless(*args, **kwargs):
    while True:
        pass


@pytest.mark.parametrize("lab", LABS, ids=_id)
def test_an_endless_loop_in_a_learner_function_is_stopped(lab, monkeypatch) -> None:
    import tensorflow as tf

    functions = _learner_functions(lab)  # a model or a class replaced by one: another mistake
    monkeypatch.setattr(learner_code, "LEARNER_TIME_LIMIT_S", 0.5)
    for exercise, answer, name in functions:
        graph = hasattr(answer[name], "get_concrete_function")
        endless = tf.function(_endless) if graph else _endless
        start = time.perf_counter()
        result = exercise.result({**answer, name: endless})
        assert time.perf_counter() - start < 20
        assert result.status is Status.INCORRECT, (exercise.id, name, result)
        assert "did not finish within 0.5 seconds" in result.message, result.message
    assert functions


# ------------------------------------------------------------------ hostile learner code
def _exits(*args, **kwargs):
    sys.exit("bye")


def _interrupts(*args, **kwargs):
    raise KeyboardInterrupt


def _generator_exit(*args, **kwargs):
    raise GeneratorExit


def _sleeps(*args, **kwargs):
    time.sleep(30)


def _swallows(*args, **kwargs):
    while True:
        try:
            time.sleep(30)
        except BaseException:  # noqa: BLE001 - the hostile case under test
            pass


def _swallows_busy(*args, **kwargs):
    while True:
        try:
            sum(range(1000))
        except BaseException:  # noqa: BLE001 - the hostile case under test
            pass


class _SlowNumbers:
    """A result whose conversion to numbers never ends: .numpy() or __array__."""

    def __init__(self, how: str) -> None:
        self.how = how
        if how == "__array__":
            del self.how

    def __getattr__(self, name):
        if name == "numpy":
            return _sleeps
        raise AttributeError(name)

    def __array__(self, *args, **kwargs):
        return _swallows()


class _Broken:
    """A learner's object every use of which raises, from the learner's own code."""

    def __getattr__(self, name):
        raise RuntimeError(f"the learner's {name} is broken")

    def __call__(self, *args, **kwargs):
        raise RuntimeError("the learner's call is broken")

    def __len__(self):
        raise RuntimeError("the learner's len is broken")

    def __iter__(self):
        raise RuntimeError("the learner's iter is broken")

    def __array__(self, *args, **kwargs):
        raise RuntimeError("the learner's array is broken")


STOPPED = "did not finish within 0.5 seconds"
HOSTILE = {
    "sys.exit": (_exits, "sys.exit()"),
    "KeyboardInterrupt": (_interrupts, "KeyboardInterrupt"),
    "GeneratorExit": (_generator_exit, "GeneratorExit"),
    "time.sleep(30)": (_sleeps, STOPPED),
    "a loop swallowing the interruption": (_swallows, STOPPED),
    "a busy loop swallowing it": (_swallows_busy, STOPPED),
    "a .numpy() that sleeps": (lambda *a, **k: _SlowNumbers("numpy"), None),
    "an __array__ that never returns": (lambda *a, **k: _SlowNumbers("__array__"), None),
    "an object that raises": (lambda *a, **k: _Broken(), None),
    "a result that raises": (_Broken(), None),
}


def _values_read(lab) -> Iterator[tuple]:
    """(exercise, its right answer, name, value) for every variable of the learner that a check
    reads in the right answer."""
    answers = lab_tests(lab).answers()
    for exercise in lab.EXERCISES:
        answer = answers[exercise.id]
        for name in names_read(exercise, answer):
            yield exercise, answer, name, answer[name]


def _learner_functions(lab) -> list[tuple]:
    """(exercise, right answer, name) for every function of the learner a check calls."""
    import keras

    return [
        (exercise, answer, name)
        for exercise, answer, name, value in _values_read(lab)
        if callable(value) and not isinstance(value, keras.Model | type)
    ]


@pytest.mark.parametrize("lab", LABS, ids=_id)
@pytest.mark.parametrize("hostile", HOSTILE, ids=str)
def test_hostile_learner_code_gets_a_verdict_within_the_time_limit(
    lab, hostile, monkeypatch
) -> None:
    """Exiting, sleeping, swallowing the interruption, results whose conversion never ends or
    raises: each gets Incorrect or Not attempted (never Check failed), in bounded time."""
    import tensorflow as tf

    func, words = HOSTILE[hostile]
    functions = _learner_functions(lab)  # the right answers' checks, under the usual limit
    assert functions
    monkeypatch.setattr(learner_code, "LEARNER_TIME_LIMIT_S", 0.5)
    for exercise, answer, name in functions:
        # a tf.function stays one (lab 01 q4 wants its graph), as the endless loop test does
        calls = []
        hostile_func = func
        if isinstance(func, FunctionType):

            def hostile_func(*args, calls=calls, **kwargs):
                calls.append(1)
                return func(*args, **kwargs)

            if hasattr(answer[name], "get_concrete_function"):
                hostile_func = tf.function(hostile_func)
        start = time.perf_counter()
        result = exercise.result({**answer, name: hostile_func})
        assert time.perf_counter() - start < 20, (exercise.id, name)
        assert result.status is not Status.CHECK_FAILED, (exercise.id, name, result)
        if not calls and isinstance(func, FunctionType):
            continue  # the check reads the name but does not call it (a prerequisite's)
        assert result.status in (Status.INCORRECT, Status.NOT_ATTEMPTED), (
            exercise.id,
            name,
            result,
        )
        if words and result.status is Status.INCORRECT:
            assert words in result.message, (exercise.id, name, result.message)


def _has_inputs(model) -> bool:
    try:
        return bool(model.inputs)
    except AttributeError:  # a subclassed model (lab 08's ConditionalGAN)
        return False


class _NanModel:
    """A model's copy whose every output is NaN; ``.calls`` counts the runs of that layer."""

    def __init__(self, model) -> None:
        import keras

        self.calls = 0
        nan = keras.layers.Lambda(self._nan)
        self.model = keras.Model(model.inputs, [nan(out) for out in model.outputs])
        self.calls = 0

    def _nan(self, t):
        self.calls += 1
        return t * float("nan")


@pytest.mark.parametrize("lab", LABS, ids=_id)
def test_a_model_whose_outputs_are_not_finite_is_never_correct(lab) -> None:
    """Every model a check uses (a learner's variable, or what their function returns), with
    NaN at every output, or infinity: never Correct."""
    import keras

    tried = []
    for exercise, answer, name, value in _values_read(lab):
        if isinstance(value, keras.Model) and _has_inputs(value):
            nan = _NanModel(value)
            hostile = nan.model
        elif callable(value) and not isinstance(value, type):
            try:
                made = value()
            except Exception:  # noqa: BLE001 - a function that takes arguments
                continue
            if not isinstance(made, keras.Model):
                continue
            nan = _NanModel(made)
            hostile = lambda nan=nan: nan.model  # noqa: E731
        else:
            continue
        result = exercise.result({**answer, name: hostile})
        if nan.calls:  # the check ran the model (some judge its layers only)
            tried.append(name)
            assert result.status is not Status.CORRECT, (exercise.id, name, result)
        assert result.status is not Status.CHECK_FAILED, (exercise.id, name, result)
    if not tried:
        pytest.skip(f"no check of {_id(lab)} runs a model")


def test_a_blocking_call_that_cannot_be_interrupted_is_reported(monkeypatch, capfd) -> None:
    """Outside the main thread (or on Windows) a sleep cannot be interrupted: after the limit
    and GIVE_UP_S, the learner is told to interrupt the kernel; the verdict comes when it ends."""
    from labkit.checks import lab02, time_limit

    monkeypatch.setattr(learner_code, "LEARNER_TIME_LIMIT_S", 0.3)
    monkeypatch.setattr(time_limit, "GIVE_UP_S", 0.3)
    answer = lab_tests(lab02).answers()["q1"]
    name = next(n for n in names_read(lab02.q1, answer) if callable(answer[n]))
    results = []

    def check() -> None:
        results.append(lab02.q1.result({**answer, name: lambda *a: time.sleep(2)}))

    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert results and results[0].status is Status.INCORRECT, results
    assert "did not finish within 0.3 seconds" in results[0].message
    assert time_limit.STUCK_MESSAGE in capfd.readouterr().err


def test_an_endless_tf_while_loop_in_a_graph_is_stopped_too(monkeypatch) -> None:
    """Lab 01 q4's tf.function would loop forever as a graph, where nothing can stop it: the
    check runs it eagerly first, as Python, and stops it there."""
    import tensorflow as tf

    from labkit.checks import lab01

    monkeypatch.setattr(learner_code, "LEARNER_TIME_LIMIT_S", 0.5)
    answer = lab_tests(lab01).answers()["q4"]

    @tf.function
    def sgd_step(x, y, W, b, learning_rate):
        loss, dW, db = answer["loss_and_grads"](x, y, W, b)
        while loss > 0.0:  # a tf.while_loop in the graph: never ends
            W.assign_sub(learning_rate * dW)
        return loss

    results = []
    worker = threading.Thread(
        target=lambda: results.append(lab01.q4.result({**answer, "sgd_step": sgd_step})),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the check hangs on an endless tf.while_loop"
    assert results[0].status is Status.INCORRECT
    assert "did not finish within 0.5 seconds" in results[0].message


@pytest.mark.parametrize("lab", LABS, ids=_id)
def test_every_solution_is_whole_runnable_code(lab) -> None:
    for exercise in lab.EXERCISES:
        code = solution_code(exercise.lab, exercise.id)
        ast.parse(code)  # complete: every def has its body, every block its header
        assert "BEGIN SOLUTION" not in code and "NotImplementedError" not in code, code


def test_a_solution_in_two_functions_shows_both_with_their_def_lines() -> None:
    code = solution_code("02_logistic_regression", "q1")
    assert "def sigmoid(z):" in code and "def softmax(z):" in code
    assert "return 1.0 / (1.0 + tf.exp(-z))" in code


def _solution_lines(code: str) -> list[str]:
    lines = (line.strip() for line in code.splitlines())
    return [line for line in lines if len(line) >= 12 and not line.startswith("#")]


@pytest.mark.parametrize("lab", LABS, ids=_id)
def test_the_last_hint_is_the_solution_and_no_hint_before_it_copies_its_end(lab, capsys) -> None:
    """The final hint is generated from the solution region (the code ``solution()`` shows);
    the hand-written hints before it explain, and the last of them copies no solution line,
    nor does any hint copy a block of several lines."""
    for exercise in lab.EXERCISES:
        code = solution_code(exercise.lab, exercise.id)
        exercise.hint(99)
        assert code in capsys.readouterr().out, exercise.id
        lines = _solution_lines(code)
        written = exercise._hints
        assert written, exercise.id
        copied = [line for line in lines if line in written[-1]]
        assert not copied, (exercise.id, written[-1], copied)
        for hint in written:
            assert "\n" not in hint or not any(line in hint for line in lines), (exercise.id, hint)
