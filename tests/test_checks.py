"""The exercise-check framework: statuses, feedback, hints, solutions, and what happens when the
learner's code (or a check) fails: errors in plain words, the learner's own line, a time limit,
and the learner's random numbers left alone."""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time

import numpy as np
import pytest

from labkit.checks import (
    Exercise,
    Incorrect,
    NotAttempted,
    Status,
    call_learner,
    expect_close,
    expect_shape,
    learner_code,
    learner_value,
)
from labkit.checks.learner_errors import explain
from labkit.checks.time_limit import TimeLimitExceeded, run_with_time_limit


def _check_double(ns) -> str | None:
    double = learner_value(ns, "double")
    out = call_learner(double, np.arange(3.0))
    expect_shape(out, (3,), "double(x)")
    expect_close(out, [0.0, 2.0, 4.0], "double(x)")
    return None


LAB = "09_example"  # as a lab module declares it: Exercise reads it, and its id from the check
q = Exercise("Double", _check_double, hints=["Multiply.", "By two."])


def test_correct() -> None:
    result = q.result({"double": lambda x: 2 * x})
    assert result.status is Status.CORRECT


def _placeholder(x):
    raise NotImplementedError("Exercise q1: replace this line with your code.")


@pytest.mark.parametrize(
    ("namespace", "status", "reason"),
    [
        ({}, Status.NOT_ATTEMPTED, "not defined yet"),
        ({"double": ...}, Status.NOT_ATTEMPTED, "not defined yet"),
        ({"double": _placeholder}, Status.NOT_ATTEMPTED, "placeholder"),
        ({"double": lambda x: x[:2] * 2}, Status.INCORRECT, "has shape (2,); expected (3)"),
        ({"double": lambda x: x + 2}, Status.INCORRECT, "largest difference is 2 at index (0,)"),
        ({"double": lambda x: int("two")}, Status.INCORRECT, "raised ValueError"),
        ({"double": lambda x: x * np.nan}, Status.INCORRECT, "NaN"),
        ({"double": lambda x: np.array(["a", "b", "c"])}, Status.INCORRECT, "not numbers"),
        ({"double": lambda x: None}, Status.INCORRECT, "not None"),
        ({"double": 3}, Status.INCORRECT, "should be a function"),
    ],
)
def test_feedback_points_at_the_mistake(namespace, status, reason) -> None:
    result = q.result(namespace)
    assert result.status is status
    assert reason in result.message


def test_a_bug_in_a_check_is_reported_as_such_without_a_traceback() -> None:
    def buggy(ns):
        return {}["missing"]  # a bug in the check, not in the learner's code

    result = Exercise("Buggy", buggy, hints=[]).result({})
    assert result.status is Status.CHECK_FAILED
    assert "the check failed on your answer: KeyError" in result.message
    assert "test_checks.py" not in result.message  # only labkit's own files are named
    assert "please tell the instructor" in result.message


def test_a_library_error_names_the_learners_own_line() -> None:
    import tensorflow as tf

    def dense(x, W, b):
        return tf.nn.relu(W @ x + b)  # the operands swapped: the line to show

    x, w = tf.ones((5, 784)), tf.ones((784, 100))
    with pytest.raises(Incorrect) as raised:
        call_learner(dense, x, w, tf.zeros(100))
    message = str(raised.value)
    assert "a matrix product (@ or tf.matmul) of shapes (784, 100) and (5, 784)" in message
    assert "Your line that failed: line" in message
    assert "in dense: return tf.nn.relu(W @ x + b)" in message


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        (
            "{{function_node __wrapped__MatMul_device_/job:localhost/replica:0/task:0/device:CPU:0}}"
            " Matrix size-incompatible: In[0]: [4,5], In[1]: [3,4] [Op:MatMul] name: ",
            "a matrix product (@ or tf.matmul) of shapes (4, 5) and (3, 4): the inner sizes "
            "(5 and 3) must agree; are the operands swapped",
        ),
        (
            'in user code:\n\n    File "/x/y.py", line 19, in g  *\n        return x @ w\n\n'
            "    ValueError: Dimensions must be equal, but are 5 and 3 for '{{node matmul}} = "
            "MatMul[T=DT_FLOAT, transpose_a=false](x, w)' with input shapes: [4,5], [3,4].\n",
            "of shapes (4, 5) and (3, 4)",
        ),
        (
            "{{function_node __wrapped__AddV2_device_/job:localhost/replica:0/task:0/device:CPU:0}}"
            " Incompatible shapes: [4,5] vs. [3] [Op:AddV2] name: ",
            "`+` on tensors of shapes (4, 5) and (3,): broadcasting lines the shapes up from the "
            "right, and each pair of sizes must be equal or 1.",
        ),
        (
            "operands could not be broadcast together with shapes (4,5) (3,) ",
            "on tensors of shapes (4, 5) and (3,)",
        ),
        (
            "cannot compute AddV2 as input #1(zero-based) was expected to be a float tensor but "
            "is a int32 tensor [Op:AddV2] name: ",
            "a int32 tensor meets a float tensor in +: TensorFlow never converts dtypes silently",
        ),
        (
            "Value for attr 'T' of int32 is not in the list of allowed values: bfloat16, half\n\t;"
            " NodeDef: {{node Exp}}; Op<name=Exp; signature=x:T -> y:T> [Op:Exp] name: ",
            "Exp does not work on int32 tensors",
        ),
        (
            "Cannot convert a symbolic tf.Tensor (Neg:0) to a numpy array.",
            "inside tf.function a tensor has no value yet",
        ),
        (
            "{{function_node __wrapped__Reshape_device_/job:localhost/replica:0/task:0/device:CPU:0}}"
            " Input to reshape is a tensor with 20 values, but the requested shape has 9 "
            "[Op:Reshape]",
            "Input to reshape is a tensor with 20 values, but the requested shape has 9",
        ),
    ],
)
def test_tensorflow_errors_in_plain_words(raw, plain) -> None:
    text = explain(ValueError(raw))
    assert plain in text, text
    assert "{{" not in text and "[Op:" not in text


def test_an_endless_loop_is_stopped_and_nothing_keeps_running(monkeypatch) -> None:
    monkeypatch.setattr(learner_code, "LEARNER_TIME_LIMIT_S", 0.5)

    def double(x):
        while True:
            try:
                x = x + 1
            except Exception:  # a learner's broad except does not swallow the time limit
                pass

    # TensorFlow is imported by the first check (call_learner), not timed here: under load that
    # import alone can take 20 s, and this test may be the first of its process (random order)
    assert q.result({"double": lambda x: 2 * x}).status is Status.CORRECT
    # timers already running are not the check's (pytest-timeout's, with --timeout-method thread)
    before = set(threading.enumerate())
    start = time.perf_counter()
    result = q.result({"double": double})
    assert time.perf_counter() - start < 10
    assert result.status is Status.INCORRECT
    assert "did not finish within 0.5 seconds" in result.message
    deadline = time.monotonic() + 10  # the timer threads end too (a busy machine is slow)
    while any(isinstance(t, threading.Timer) for t in set(threading.enumerate()) - before):
        assert time.monotonic() < deadline, threading.enumerate()
        time.sleep(0.05)
    assert q.result({"double": lambda x: 2 * x}).status is Status.CORRECT  # and checks go on


def test_a_time_limit_that_is_not_reached_changes_nothing() -> None:
    assert run_with_time_limit(5, lambda: 42) == 42
    with pytest.raises(TimeLimitExceeded):
        run_with_time_limit(0.2, lambda: time.sleep(0.05) or [None for _ in iter(int, 1)])
    for _ in range(200):  # a limit that ends just as the code does never leaks an exception
        with contextlib.suppress(TimeLimitExceeded):
            run_with_time_limit(0.001, lambda: sum(range(20_000)))


def test_checking_leaves_the_learners_random_numbers_alone() -> None:
    import keras
    import tensorflow as tf

    def draws():
        layer = keras.layers.Dense(1)
        layer.build((None, 1))
        return (
            random.random(),
            float(np.random.random()),
            float(tf.random.normal(())),
            float(keras.random.normal(())),
            float(layer.kernel[0, 0]),
        )

    keras.utils.set_random_seed(7)
    expected = draws()

    def double(x):  # learner code that draws random numbers itself
        keras.layers.Dense(3).build((None, 2))
        tf.random.normal((3,))
        return 2 * x + 0 * np.random.random()

    keras.utils.set_random_seed(7)
    assert q.result({"double": double}).status is Status.CORRECT
    assert draws() == expected


def test_checks_give_the_same_verdict_whatever_the_global_seed() -> None:
    import keras

    def noisy(x):
        import tensorflow as tf

        return 2 * x + float(tf.random.normal((), stddev=1e-3))

    messages = set()
    for seed in range(10):
        keras.utils.set_random_seed(seed)
        messages.add(q.result({"double": noisy}).message)
    assert len(messages) == 1


def test_check_reads_the_callers_globals(capsys) -> None:
    globals()["double"] = lambda x: 2 * x
    try:
        q.check()
    finally:
        del globals()["double"]
    assert capsys.readouterr().out.startswith("Correct")


def test_hints_go_one_level_deeper_each_call(capsys) -> None:
    fresh = Exercise("Double", _check_double, hints=["Multiply.", "By two."])
    assert (fresh.lab, fresh.id) == ("09_example", "double")  # from the module and the check
    for _ in range(4):
        fresh.hint()
    out = capsys.readouterr().out
    assert "Hint 1/3 (call hint() again for hint 2): Multiply." in out
    assert "Hint 2/3 (call hint() again for hint 3): By two." in out
    assert out.count("Hint 3/3: the solution") == 2  # the last: the solution's code


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        ("2", "Hint 2/3"),
        (2.0, "Hint 2/3"),
        (0, "Hint 1/3"),
        (-5, "Hint 1/3"),
        (99, "Hint 3/3"),
        ("two", "hint() takes a level from 1 to 3"),
        ([1], "hint() takes a level from 1 to 3"),
        (float("nan"), "hint() takes a level from 1 to 3"),
    ],
)
def test_hint_takes_odd_levels_without_crashing(level, shown, capsys) -> None:
    q.hint(level)
    assert shown in capsys.readouterr().out


def test_check_and_solution_take_odd_arguments_without_crashing(capsys) -> None:
    q.check(globals())
    assert "check() takes no arguments" in capsys.readouterr().out
    q.solution("please")  # lab 09 has no solution notebook: said, not raised
    assert "does not exist" in capsys.readouterr().out


def test_feedback_renders_as_html() -> None:
    html = q.result({}).feedback()._repr_html_()
    assert "Not attempted" in html and "<b>" in html
    two_lines = Exercise("x", lambda ns: "a\nb", hints=[], id="q1").result({})
    assert "a<br>b" in two_lines.feedback()._repr_html_()


def test_incorrect_is_an_exception_checks_raise() -> None:
    with pytest.raises(Incorrect):
        expect_close([1.0], [2.0], "x")


def test_the_readme_states_the_time_limit_the_checks_use() -> None:
    from conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert f"longer than {learner_code.LEARNER_TIME_LIMIT_S:g} seconds" in readme


def test_a_prerequisite_not_done_is_named_in_one_line() -> None:
    def todo(ns):
        raise NotAttempted("`x` is not defined yet")

    def wrong(ns):
        raise Incorrect("wrong")

    q2 = Exercise("Two", todo, hints=[], id="q2")
    q3 = Exercise("Three", wrong, hints=[], needs=[q2], id="q3")
    q4 = Exercise("Four", wrong, hints=[], needs=[q3], id="q4")
    result = q4.result({})
    assert result.status is Status.NOT_ATTEMPTED
    assert result.message == "q4 needs q2, which is not done yet: fix q2 first."


def test_a_sleep_and_a_loop_that_swallows_the_interruption_are_stopped() -> None:
    def swallowing():
        while True:
            try:
                time.sleep(30)
            except BaseException:  # noqa: BLE001 - the hostile case under test
                pass

    for thunk in (lambda: time.sleep(30), swallowing):
        start = time.perf_counter()
        with pytest.raises(TimeLimitExceeded):
            run_with_time_limit(0.3, thunk)
        assert time.perf_counter() - start < 5
    assert run_with_time_limit(5, lambda: 42) == 42  # and nothing is left armed
    time.sleep(0.6)


def test_a_limit_in_another_thread_leaves_the_main_threads_limit_working(tmp_path) -> None:
    """A limit in a thread that is not the main one (the timer-thread way) once left CPython
    3.11 in a state where the main thread's next limit spun for good inside its own alarm
    handler (a full test run hung for 40 minutes). In a child process, so that a return of
    that bug fails here within a minute instead of hanging the run."""
    import os
    import subprocess
    import sys
    import textwrap

    from conftest import REPO_ROOT

    script = textwrap.dedent(
        """
        import threading, time
        from labkit.checks.time_limit import TimeLimitExceeded, run_with_time_limit

        def busy():
            while True:
                pass

        def swallowing():
            while True:
                try:
                    sum(range(1000))
                except BaseException:
                    pass

        def in_a_thread(thunk, seconds):
            def run():
                try:
                    run_with_time_limit(seconds, thunk)
                except TimeLimitExceeded:
                    pass
            worker = threading.Thread(target=run)
            worker.start()
            worker.join()

        in_a_thread(lambda: 42, 5)  # not reached
        in_a_thread(busy, 0.2)  # reached
        start = time.perf_counter()
        try:
            run_with_time_limit(0.3, swallowing)
        except TimeLimitExceeded:
            print(f"stopped in {time.perf_counter() - start:.1f} s")
        """
    )
    learner = tmp_path / "learner.py"  # a file of the learner's, as a notebook cell would be
    learner.write_text(script)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, str(learner)], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("stopped in"), done.stdout + done.stderr
    assert float(done.stdout.split()[2]) < 5, done.stdout


def test_alarms_that_come_while_the_last_is_handled_do_not_pile_up(monkeypatch) -> None:
    """On a loaded machine the alarm's handler can take longer than the interval between
    alarms (seen once in a full run: 100 nested handlers, a test that ran past 5 minutes).
    Here every handler is slowed past the interval: the loop is still stopped, promptly."""
    import signal

    from labkit.checks import learner_errors

    if not hasattr(signal, "setitimer"):
        pytest.skip("no POSIX timers here")
    is_learner_file = learner_errors.is_learner_file

    def slow(filename: str) -> bool:
        time.sleep(0.6)  # longer than time_limit.REPEAT_S: the next alarm comes meanwhile
        return is_learner_file(filename)

    monkeypatch.setattr(learner_errors, "is_learner_file", slow)

    def endless():
        while True:
            pass

    start = time.perf_counter()
    with pytest.raises(TimeLimitExceeded):
        run_with_time_limit(0.3, endless)
    assert time.perf_counter() - start < 5


def test_library_code_past_the_limit_runs_at_its_own_speed() -> None:
    """Past the limit, a library that is running (not the learner's code) is left to finish,
    and the learner's next line raises: no line of the library may be traced meanwhile. (Traced
    line by line, with the alarm repeated every 0.25 s, pure-Python library code ran 365 times
    slower, and lab 09's dataset reading under a 0.5 s limit was still running after 240 s.)"""
    import functools
    import statistics

    data = [random.Random(0).random() for _ in range(60_000)]
    # pure-Python standard library code; no frame of this file (a learner's, to the limit) runs
    library_work = functools.partial(statistics.variance, data)
    start = time.perf_counter()
    want = library_work()
    plain = time.perf_counter() - start
    start = time.perf_counter()
    assert run_with_time_limit(0.01, library_work) == want  # nothing of the learner's ran
    assert time.perf_counter() - start < 10 * plain + 2


def test_another_alarm_still_fires_while_a_check_waits_where_the_limit_cannot_reach() -> None:
    """pytest-timeout (signal method) arms SIGALRM too. A check stuck in a library call (a wait
    that never returns, where the limit only waits for the learner's next line) must not stop
    its timer: the other handler is called when it is due (it hung the test for good before)."""
    import signal

    class Due(Exception):
        pass

    def other(signum, frame):
        raise Due

    before = signal.signal(signal.SIGALRM, other)
    delay, interval = signal.setitimer(signal.ITIMER_REAL, 1.0)
    start = time.perf_counter()
    try:
        with pytest.raises(Due):
            run_with_time_limit(30, threading.Event().wait)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
        if delay:  # pytest-timeout's own timer for this test: what is left of it
            left = max(delay - (time.perf_counter() - start), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, interval)
    assert time.perf_counter() - start < 10


def test_an_answer_names_a_mistake_then_says_otherwise_when_the_check_knows_more() -> None:
    from labkit.checks.answers import Answer, Mistake

    answer = Answer(2.0, [Mistake("twice too large.", 4.0)], otherwise="count the rows again.")
    assert answer.judge(np.float32(2.0), "f(x)") == pytest.approx(2.0)
    for got, message in (
        (4.0, "f(x): twice too large."),
        (3.0, "f(x): count the rows again."),
        (np.nan, "f(x) contains NaN"),  # NaN is said before `otherwise`
        (np.ones(2), "f(x) has shape (2,)"),
    ):
        with pytest.raises(Incorrect, match="^" + re.escape(message)):
            answer.judge(got, "f(x)")
