"""Every exercise of every lab (discovered from labkit.checks, so later labs are included):
bad values never escape as exceptions, the same answer always gets the same verdict, and an
endless loop in the learner's code is stopped."""

from __future__ import annotations

import ast
import threading
import time

import pytest
from check_catalogue import Case, fuzz_cases, lab_modules, lab_tests, names_read

from labkit.checks import Status, learner_code
from labkit.checks.exercise import solution_code

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
    import keras
    import tensorflow as tf

    answers = lab_tests(lab).answers()
    read = {q.id: names_read(q, answers[q.id]) for q in lab.EXERCISES}
    monkeypatch.setattr(learner_code, "LEARNER_TIME_LIMIT_S", 0.5)
    tried = 0
    for exercise in lab.EXERCISES:
        answer = answers[exercise.id]
        for name in read[exercise.id]:
            value = answer[name]
            if not callable(value) or isinstance(value, keras.Model | type):
                continue  # a model or a class replaced by a function is another mistake
            tried += 1
            endless = tf.function(_endless) if hasattr(value, "get_concrete_function") else _endless
            start = time.perf_counter()
            result = exercise.result({**answer, name: endless})
            assert time.perf_counter() - start < 20
            assert result.status is Status.INCORRECT, (exercise.id, name, result)
            assert "did not finish within 0.5 seconds" in result.message, result.message
    assert tried


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
