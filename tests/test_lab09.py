"""Lab 09 (distributed training): the notebook runs in fast mode, its two workers included and
leaving no process behind; its checks accept the right answers and name each wrong one (the
catalogues; tests/test_check_robustness.py adds bad values, 10 global seeds and endless loops).

The checks run code on two replicas: the module is marked `replicas`, so conftest splits this
process's CPU into logical devices before any test runs TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from check_catalogue import Case, verdict_tests
from notebook_helpers import run_lab

from labkit.checks import Status, lab09

LAB = "09_distributed_training"
NOT_ATTEMPTED, INCORRECT = Status.NOT_ATTEMPTED, Status.INCORRECT
LEARNING_RATE = 1e-3
pytestmark = pytest.mark.replicas


# ------------------------------------------------------------------ the notebook (fast mode)
def worker_processes(marker: str = "lab09-") -> list[str]:
    """The command lines of lab 09's worker processes still running (Linux: /proc) that this
    test run started: under pytest-xdist, those that inherited its run's id (another run of
    the tests on the same machine has its own workers)."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            words = (process / "cmdline").read_bytes().split(b"\0")
            ours = not run_id or f"PYTEST_XDIST_TESTRUNUID={run_id}".encode() in (
                process / "environ"
            ).read_bytes().split(b"\0")
        except OSError:
            continue
        text = " ".join(w.decode(errors="replace") for w in words)
        if "labkit.lab.local_cluster" in text and marker in text and ours:
            found.append(text)
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").is_file(), reason="reads Linux's /proc")
def test_leftover_workers_are_counted_for_this_run_only(monkeypatch) -> None:
    import subprocess
    import sys

    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "this-run")
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    args = ["labkit.lab.local_cluster", "lab09-test"]
    ours = subprocess.Popen([*sleeper, *args])
    other_run = subprocess.Popen(
        [*sleeper, *args], env={**os.environ, "PYTEST_XDIST_TESTRUNUID": "another-run"}
    )
    try:
        found = worker_processes("lab09-test")
    finally:
        for process in (ours, other_run):
            process.kill()
            process.wait()
    assert len(found) == 1 and worker_processes("lab09-test") == []


@pytest.mark.notebook
def test_solution_runs_in_fast_mode_with_two_workers_and_leaves_no_process() -> None:
    run = run_lab(LAB)
    assert not run.errors
    m = run.metrics
    assert m["fast_mode"] is True
    # 1,280 training images, 2 epochs: far from the full run's figures, far above chance (0.1).
    for name in ("test_accuracy", "one_device_accuracy", "two_worker_accuracy"):
        assert 0.4 < m[name] <= 1.0, (name, m)
    # The same initial weights, batches and update on 1 and 4 replicas: the same model up to the
    # order of the floating-point additions (equal in our fast runs; 0.3 points apart in full).
    assert abs(m["test_accuracy"] - m["one_device_accuracy"]) <= 0.02, m
    assert m["two_workers_clean"] == 1.0
    # the step of 96 images with its loss divided by 128: 0.75 of the right one (plain SGD)
    assert m["last_batch_step"] == pytest.approx(0.75, rel=1e-3), m
    assert m["replicas"] >= 2 and m["steps_per_second_1"] > 0
    assert 0 < m["train_seconds"] < 120
    # q4 and the challenge: 4 replicas at the chosen setting, scored on the test set
    assert m["challenge_met"] in (0.0, 1.0) and 0.4 < m["challenge_result"] <= 1.0, m
    assert 0 < m["challenge_seconds"] < 120, m
    if Path("/proc/self/cmdline").exists():
        assert worker_processes() == []


# ------------------------------------------------------------------ right answers
def _cnn() -> Any:
    """A small CNN with the lab's input and output shapes."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(4),
            layers.Flatten(),
            layers.Dense(10),
        ]
    )


def _builder(
    inside: bool = True,
    compile_inside: bool = True,
    optimizer: Any = "Adam",
    learning_rate: float = LEARNING_RATE,
    loss: Any = None,
    metrics: tuple = ("accuracy",),
    other_strategy: bool = False,
    compile: bool = True,
    optimizer_outside: bool = False,
) -> Any:
    """A build_and_compile(strategy), right by default; each argument makes one mistake."""
    import contextlib

    import keras
    import tensorflow as tf

    def make_optimizer():
        if optimizer == "Adam":
            return keras.optimizers.Adam(learning_rate)
        return optimizer() if callable(optimizer) else optimizer  # a factory: made where called

    def build_and_compile(strategy):
        if other_strategy:
            strategy = tf.distribute.MirroredStrategy(
                [d.name for d in tf.config.list_logical_devices("CPU")[:2]],
                cross_device_ops=tf.distribute.ReductionToOneDevice(),
            )
        early = make_optimizer() if optimizer_outside else None
        scope = strategy.scope() if inside else contextlib.nullcontext()
        with scope:
            model = _cnn()
        chosen_loss = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if compile:
            with strategy.scope() if compile_inside else contextlib.nullcontext():
                model.compile(early or make_optimizer(), chosen_loss, metrics=list(metrics))
        return model

    return build_and_compile


def make_distributed_dataset(strategy, images, labels, global_batch_size):
    import tensorflow as tf

    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .shuffle(len(images), seed=0)
        .batch(global_batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    return strategy.experimental_distribute_dataset(dataset)


def _step_factory(
    scale: str = "global",
    reduce: str = "SUM",
    function: bool = True,
    apply: bool = True,
    run: bool = True,
    give_back: bool = True,
) -> Any:
    """A make_train_step, right by default; each argument makes one mistake."""

    def make_train_step(strategy, model, optimizer, global_batch_size):
        import keras
        import tensorflow as tf

        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
        replicas = strategy.num_replicas_in_sync

        def replica_step(images, labels):
            with tf.GradientTape() as tape:
                per_example_loss = loss_fn(labels, model(images, training=True))
                if scale == "global":
                    loss = tf.nn.compute_average_loss(
                        per_example_loss, global_batch_size=global_batch_size
                    )
                elif scale == "mean":
                    loss = tf.reduce_mean(per_example_loss)
                elif scale == "own batch":
                    loss = tf.nn.compute_average_loss(
                        per_example_loss, global_batch_size=tf.shape(labels)[0]
                    )
                elif scale == "per-replica batch":
                    loss = tf.nn.compute_average_loss(
                        per_example_loss, global_batch_size=global_batch_size // replicas
                    )
                else:  # "default": no global_batch_size
                    loss = tf.nn.compute_average_loss(per_example_loss)
            gradients = tape.gradient(loss, model.trainable_variables)
            if apply:
                optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
            return loss

        def train_step(batch):
            if not run:
                return replica_step(*batch)
            per_replica_losses = strategy.run(replica_step, args=batch)
            if reduce is None:
                return per_replica_losses
            total = strategy.reduce(reduce, per_replica_losses, axis=None)
            return total if give_back else None

        return tf.function(train_step) if function else train_step

    return make_train_step


def answers() -> dict[str, dict]:
    """A right answer to every exercise: the namespace its check reads."""
    return {
        "q1": {"build_and_compile": _builder(), "LEARNING_RATE": LEARNING_RATE},
        "q2": {"make_distributed_dataset": make_distributed_dataset},
        "q3": {"make_train_step": _step_factory()},
        "q4": {**RECIPE, "sweep": dict(SWEEP), "MY_CHOICE": (512, 4e-3, 6)},
    }


# q4: section 9's measurements (seed 42's full run: 12,000 images, 5,000 for validation), but
# (512, 2e-3, 6), which reached 0.836 there, lowered to 0.829 to have a setting that fails alone.
RECIPE = {"GLOBAL_BATCH": 128, "LEARNING_RATE": LEARNING_RATE, "EPOCHS": 3, "N_TRAIN": 12_000}
SWEEP = {
    (128, 1e-3, 3): 0.8402,
    (512, 1e-3, 3): 0.7848,
    (512, 4e-3, 3): 0.8246,
    (512, 2e-3, 6): 0.8290,
    (512, 4e-3, 6): 0.8420,
}


# ------------------------------------------------------------------ wrong answers
def _todo(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code.")


def _q1_cases(right: dict) -> list[Case]:
    import keras

    def build(**mistake):
        return {**right, "build_and_compile": _builder(**mistake)}

    return [
        Case(
            build(inside=False),
            INCORRECT,
            "the model was built outside `strategy.scope()`: its weights live on one device, not "
            "one copy per replica, and the strategy cannot train them on its replicas. Call "
            "build_cnn() inside",
        ),
        Case(
            build(inside=False, compile_inside=False),
            INCORRECT,
            "the model was built outside `strategy.scope()`: its weights live on one device, not "
            "one copy per replica, and the strategy cannot train them on its replicas; and the "
            "optimizer was created outside",
        ),
        Case(build(other_strategy=True), INCORRECT, "another strategy"),
        Case(build(optimizer_outside=True), INCORRECT, "the optimizer was created outside"),
        Case(build(compile_inside=False), INCORRECT, "the optimizer was created outside"),
        Case(
            build(compile_inside=False, optimizer="adam"),
            INCORRECT,
            "the optimizer was created outside `strategy.scope()`",
        ),
        Case(build(compile=False), INCORRECT, "not compiled"),
        Case(build(optimizer=lambda: keras.optimizers.SGD(LEARNING_RATE)), INCORRECT, "Adam"),
        Case(build(learning_rate=1e-2), INCORRECT, "use LEARNING_RATE (0.001)"),
        Case(build(loss="sparse_categorical_crossentropy"), INCORRECT, "expects probabilities"),
        Case(build(loss=keras.losses.SparseCategoricalCrossentropy()), INCORRECT, "logits"),
        Case(build(loss=keras.losses.CategoricalCrossentropy()), INCORRECT, "one-hot"),
        Case(build(metrics=()), INCORRECT, "metrics=['accuracy']"),
        Case({**right, "build_and_compile": lambda strategy: None}, INCORRECT, "return model"),
        Case({**right, "LEARNING_RATE": "0.001"}, INCORRECT, "it should be a number"),
        Case({**right, "build_and_compile": _todo}, NOT_ATTEMPTED, "NotImplementedError"),
        Case({**right, "build_and_compile": ...}, NOT_ATTEMPTED, "not defined yet"),
    ]


def _q2_cases(right: dict) -> list[Case]:
    import tensorflow as tf

    def pipeline(
        images, labels, *, shuffle=True, seed=0, batch=None, before=True, repeat=False, drop=True
    ):
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        if shuffle and before:
            dataset = dataset.shuffle(len(images), seed=seed)
        dataset = dataset.batch(batch, drop_remainder=drop)
        if shuffle and not before:
            dataset = dataset.shuffle(len(images), seed=seed)
        return dataset.repeat() if repeat else dataset

    def made(batch=None, **mistake):
        def make(strategy, images, labels, global_batch_size):
            size = global_batch_size if batch is None else batch
            if callable(size):
                size = size(strategy, global_batch_size)
            dataset = pipeline(images, labels, batch=size, **mistake)
            return strategy.experimental_distribute_dataset(dataset)

        return {"make_distributed_dataset": make}

    def separately(strategy, images, labels, global_batch_size):
        both = tf.data.Dataset.zip(
            tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=0),
            tf.data.Dataset.from_tensor_slices(labels).shuffle(len(images), seed=1),
        )
        return strategy.experimental_distribute_dataset(
            both.batch(global_batch_size, drop_remainder=True)
        )

    def plain(strategy, images, labels, global_batch_size):
        return pipeline(images, labels, batch=global_batch_size)

    per_replica = made(batch=lambda strategy, size: size // strategy.num_replicas_in_sync)
    return [
        Case({"make_distributed_dataset": plain}, INCORRECT, "returns a tf.data.Dataset"),
        Case(per_replica, INCORRECT, "per-replica batch size"),
        Case(made(batch=32, drop=False), INCORRECT, "4 each"),
        Case(made(shuffle=False), INCORRECT, "neighbouring examples"),
        Case(made(before=False), INCORRECT, "only reorders whole batches"),
        Case(made(seed=None), INCORRECT, "give shuffle a seed"),
        Case(made(repeat=True), INCORRECT, "do not .repeat()"),
        Case(made(drop=False), INCORRECT, "drop_remainder=True"),
        Case(made(drop=False), INCORRECT, "27 examples in batches of 8 leave a last batch of 3"),
        Case(made(drop=False), INCORRECT, "12,000 images in batches of 128 leave one of 96"),
        Case({"make_distributed_dataset": separately}, INCORRECT, "no longer match"),
        Case({"make_distributed_dataset": lambda *args: [1, 2]}, INCORRECT, "not a list"),
        Case({"make_distributed_dataset": _todo}, NOT_ATTEMPTED, "NotImplementedError"),
        Case({}, NOT_ATTEMPTED, "not defined yet"),
    ]


def _q3_cases(right: dict) -> list[Case]:
    def made(**mistake):
        return {"make_train_step": _step_factory(**mistake)}

    return [
        Case(made(scale="mean"), INCORRECT, "averaged the loss over its own examples"),
        Case(made(scale="own batch"), INCORRECT, "averaged the loss over its own examples"),
        Case(made(scale="per-replica batch"), INCORRECT, "per-replica batch size"),
        Case(made(scale="default"), INCORRECT, "without global_batch_size"),
        Case(made(reduce="MEAN"), INCORRECT, "ReduceOp.MEAN"),
        Case(made(reduce=None), INCORRECT, "one loss per replica"),
        Case(made(function=False), INCORRECT, "tf.function"),
        Case(made(apply=False), INCORRECT, "did not change"),
        Case(made(run=False), INCORRECT, "strategy.run(replica_step"),
        Case(made(give_back=False), INCORRECT, "returns nothing"),
        Case({"make_train_step": lambda *args: None}, INCORRECT, "step function"),
        Case({"make_train_step": _todo}, NOT_ATTEMPTED, "NotImplementedError"),
    ]


def _q4_cases(right: dict) -> list[Case]:
    def chose(choice, measured=None):
        return {**right, "MY_CHOICE": choice, "sweep": {**SWEEP, **(measured or {})}}

    baseline_gone = {k: v for k, v in SWEEP.items() if k[0] != 128}
    return [
        Case(chose((512, 1e-3, 3)), INCORRECT, "Scale the learning rate up"),
        Case(chose((512, 4e-3, 3)), INCORRECT, "Train more epochs"),
        Case(chose((512, 2e-3, 6)), INCORRECT, "0.011 below the one-device recipe's 0.8402"),
        Case(chose((128, 1e-3, 3)), INCORRECT, "(512, 0.004, 6) keeps it too (0.8420) in 144"),
        Case(chose((128, 1e-3, 6), {(128, 1e-3, 6): 0.85}), INCORRECT, "in 564 steps"),
        Case(chose((256, 2e-3, 3)), INCORRECT, "(256, 0.002, 3) was not measured: add it"),
        Case(chose((130, 1e-3, 6), {(130, 1e-3, 6): 0.85}), INCORRECT, "between 4 replicas"),
        Case(chose(512), INCORRECT, "a triple (global batch, learning rate, epochs)"),
        Case(chose((512, float("nan"), 6)), INCORRECT, "it should be a triple"),
        Case(chose((512, True, 6)), INCORRECT, "it should be a triple"),
        Case({**chose((512, 4e-3, 6)), "sweep": baseline_gone}, INCORRECT, "first of SWEEP"),
        Case(chose((512, 4e-3, 6), {(512, 1e-3, 3): float("nan")}), INCORRECT, "accuracies"),
        Case({**right, "sweep": [0.84]}, INCORRECT, "run the cell of section 9 again"),
        Case({**right, "MY_CHOICE": ...}, NOT_ATTEMPTED),
    ]


def wrong_answers() -> dict[str, list[Case]]:
    """Wrong answers to every exercise, with the status and words each must get."""
    right = answers()
    cases = {"q1": _q1_cases, "q2": _q2_cases, "q3": _q3_cases, "q4": _q4_cases}
    return {q: make(right[q]) for q, make in cases.items()}


test_the_right_answer_is_correct, test_wrong_answers_are_incorrect_with_a_useful_reason = (
    verdict_tests(lab09, answers, wrong_answers)
)


def test_q1_an_optimizer_made_in_the_scope_may_be_compiled_outside_it() -> None:
    """Where compile() runs does not matter when the optimizer was made in the scope: fit builds
    its state in the model's strategy's scope (Keras 3). The check judges where the variables
    are, so this answer is right."""
    import keras

    def build_and_compile(strategy):
        with strategy.scope():
            model, optimizer = _cnn(), keras.optimizers.Adam(LEARNING_RATE)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer, loss, metrics=["accuracy"])
        return model

    namespace = {"build_and_compile": build_and_compile, "LEARNING_RATE": LEARNING_RATE}
    result = lab09.q1.result(namespace)
    assert result.status is Status.CORRECT, result
    assert "one copy per replica" in result.message


def test_without_several_devices_the_checks_say_to_restart_the_kernel(monkeypatch) -> None:
    import tensorflow as tf

    one = tf.config.list_logical_devices("CPU")[:1]
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: one)
    for exercise in lab09.EXERCISES[:3]:  # q4 judges numbers the notebook measured: no replica
        result = exercise.result(answers()[exercise.id])
        assert result.status is NOT_ATTEMPTED and "Restart the kernel" in result.message, result


def test_this_process_has_the_logical_devices_the_checks_need() -> None:
    import tensorflow as tf

    assert len(tf.config.list_logical_devices("CPU")) >= lab09.CHECK_REPLICAS, (
        "conftest splits the CPU for tests marked `replicas`: did a module run TensorFlow "
        "while pytest collected the tests?"
    )
    assert os.environ.get("TF_CONFIG") is None  # nothing here is part of a cluster
