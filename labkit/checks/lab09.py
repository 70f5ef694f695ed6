"""Checks for lab 09: from one device to many with tf.distribute.

Each check runs the learner's code on two replicas of its own (``replicas``: two logical CPU
devices, on every machine, so that every machine gets the same verdicts), with small inputs and
one training step, so that nothing runs for long. q3 compares the weights the learner's step
leaves with one step on one device, and names each scaling mistake by what it would leave. q4,
a decision, is judged by what the learner's setting reached in the notebook's own measurements.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from labkit.checks import replicas
from labkit.checks.answers import Answer, Mistake, close, expect
from labkit.checks.exercise import Exercise, Incorrect
from labkit.checks.learner_code import call_learner
from labkit.checks.replicas import (
    CHECK_REPLICAS,
    STEP_SIZES,
    check_strategy,
    labels_of,
    read_epoch,
    update_answer,
)
from labkit.checks.values import Namespace, as_scalar, describe, learner_float, learner_value
from labkit.errors import first_line

LAB = "09_distributed_training"
STEP_LEARNING_RATE = 1.0  # plain SGD: the change of each weight is minus its gradient
PER_REPLICA_HINT = (
    "the distributed batch (one part per replica) reached code that expects tensors: run the "
    "replica step on every replica with strategy.run(replica_step, args=batch)."
)


def _call(func: Any, *args: Any) -> Any:
    """``call_learner``, with the usual error of passing a distributed value where a tensor is
    expected explained (its raw message prints every tensor of the batch)."""
    try:
        return call_learner(func, *args)
    except Incorrect as exc:
        if "PerReplica" in str(exc):
            raise Incorrect(PER_REPLICA_HINT) from None
        raise


# ------------------------------------------------------------------ q1: a model in the scope
def _check_q1(ns: Namespace) -> str | None:
    import keras

    build = learner_value(ns, "build_and_compile")
    learning_rate = learner_float(ns, "LEARNING_RATE", 1e-8, 1.0)
    strategy = check_strategy()
    model = _call(build, strategy)
    expect(
        isinstance(model, keras.Model),
        f"build_and_compile(strategy) should return the compiled Keras model, not "
        f"{describe(model)}: end with `return model`.",
    )
    expect(model.weights, "the model has no weights: build it with build_cnn(), inside the scope.")
    expect(
        getattr(model, "compiled", False) and model.optimizer is not None,
        "the model is not compiled: call model.compile(...) before returning it.",
    )
    replicas.judge_scope(strategy, model, model.optimizer)
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # mixed precision
    expect(
        isinstance(optimizer, keras.optimizers.Adam),
        f"the optimizer is {describe(optimizer)}; the exercise asks for Adam.",
    )
    rate = float(np.asarray(keras.ops.convert_to_numpy(optimizer.learning_rate)))
    expect(
        close(rate, learning_rate),
        f"the learning rate is {rate:g}; use LEARNING_RATE ({learning_rate:g}).",
    )
    _expect_logits_loss(model.loss)
    logs = _one_training_step(model)
    expect(
        any("accuracy" in name for name in logs),
        f"fit() would report {sorted(logs)}, without the accuracy: compile with "
        "metrics=['accuracy'].",
    )
    return (
        f"{len(model.weights)} weights and the optimizer's {len(model.optimizer.variables)} "
        f"variables, each with one copy per replica ({strategy.num_replicas_in_sync} here)."
    )


def _expect_logits_loss(loss: Any) -> None:
    import keras

    wanted = "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"
    if isinstance(loss, str):
        expect(
            loss.replace("_", "") != "sparsecategoricalcrossentropy",
            f"the loss '{loss}' expects probabilities, but build_cnn() ends with scores "
            f"(logits): use {wanted}.",
        )
        raise Incorrect(f"the loss is '{loss}'; use {wanted}.")
    expect(
        not isinstance(loss, keras.losses.CategoricalCrossentropy),
        f"the labels are class numbers (0-9), not one-hot vectors: use {wanted}.",
    )
    expect(
        isinstance(loss, keras.losses.SparseCategoricalCrossentropy),
        f"the loss is {describe(loss)}; use {wanted}.",
    )
    expect(
        loss.get_config().get("from_logits"),
        f"build_cnn() ends with scores (logits), not probabilities: use {wanted}.",
    )


def _one_training_step(model: Any) -> dict:
    """What one ``train_on_batch`` on four blank images reports; Incorrect when Keras refuses
    to train the model (an optimizer made outside the scope, say)."""
    images = np.zeros((4, 28, 28, 1), np.float32)
    labels = np.arange(4, dtype=np.int64)
    try:
        logs = model.train_on_batch(images, labels, return_dict=True)
    except Exception as exc:  # noqa: BLE001 - the learner's model: any error is feedback
        expect(
            "Mixing different tf.distribute.Strategy" not in str(exc),
            "the model's optimizer was made outside `strategy.scope()`, so Keras refuses to "
            "train: compile the model inside the scope too (the optimizer keeps one copy of "
            "its state per replica).",
        )
        kind = "" if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: "
        raise Incorrect(f"one training step failed: {kind}{first_line(exc)}") from None
    return dict(logs) if isinstance(logs, dict) else {}


# ------------------------------------------------------------------ q2: a distributed dataset
def _check_q2(ns: Namespace) -> str | None:
    import tensorflow as tf

    make = learner_value(ns, "make_distributed_dataset")
    strategy = check_strategy()
    count, batch = 24, 8
    per_replica = batch // CHECK_REPLICAS
    images, labels = replicas.numbered_examples(count)
    dataset = _call(make, strategy, images, labels, batch)
    expect(
        not isinstance(dataset, tf.data.Dataset),
        "it returns a tf.data.Dataset: hand it to strategy.experimental_distribute_dataset("
        "...), which gives each replica its share of every batch.",
    )
    expect(
        isinstance(dataset, tf.distribute.DistributedDataset),
        f"it should return strategy.experimental_distribute_dataset(...), not {describe(dataset)}.",
    )
    steps = read_epoch(strategy, dataset, most=2 * count // batch + 1)
    expect(steps, "the dataset is empty: batch the examples, do not filter them out.")
    sizes = [len(part[1]) for part in steps[0]]
    expect(
        sum(sizes) != per_replica,
        f"a step carries {sum(sizes)} examples in all, {sizes[0]} per replica: you batched "
        f"with the per-replica batch size. Batch with the global batch size "
        f"(global_batch_size, {batch} here): the strategy splits each batch between the "
        f"replicas, {per_replica} each.",
    )
    expect(
        sizes == [per_replica] * CHECK_REPLICAS,
        f"a step gives the replicas {sizes} examples; with global_batch_size={batch} and "
        f"{CHECK_REPLICAS} replicas it should give {per_replica} each: .batch(global_batch_size).",
    )
    expect(
        len(steps) <= count // batch,
        f"{count} examples in batches of {batch} make {count // batch} steps, but the dataset "
        "goes on: do not .repeat() it; each pass over it is one epoch.",
    )
    seen = labels_of(steps)
    pictured = np.concatenate([images[:, 0, 0, 0] for step in steps for images, _ in step])
    expect(
        sorted(seen.tolist()) == list(range(count)),
        f"an epoch should give each of the {count} examples once.",
    )
    expect(
        np.array_equal(pictured, seen.astype(np.float32)),
        "the images and the labels no longer match: shuffle the (images, labels) pairs "
        "together, in one dataset.",
    )
    by_step = [labels_of([step]) for step in steps]
    expect(
        not all(np.array_equal(np.sort(s), np.arange(s.min(), s.min() + batch)) for s in by_step),
        "each batch holds neighbouring examples of the original order: shuffle the examples "
        "before batching, .shuffle(len(images), seed=0) then .batch(...) (shuffling after "
        ".batch() only reorders whole batches).",
    )
    again = read_epoch(strategy, _call(make, strategy, images, labels, batch), most=len(steps))
    expect(
        np.array_equal(labels_of(again), seen),
        "a second dataset shuffles in another order: give shuffle a seed "
        "(.shuffle(len(images), seed=0)), so that the runs of this lab compare.",
    )
    extra = CHECK_REPLICAS + 1  # examples beyond the full batches: a last, smaller batch
    ragged = _call(make, strategy, *replicas.numbered_examples(count + extra), batch)
    expect(
        len(read_epoch(strategy, ragged, most=len(steps) + 1)) <= len(steps),
        f"{count + extra} examples in batches of {batch} leave a last batch of {extra}, and "
        f"your dataset keeps it (the full lab's 12,000 images in batches of 128 leave one of "
        f"96). train_step divides the loss of every batch by the global batch size, {batch}: "
        f"with SGD the step of that batch would be {extra}/{batch} of the right one (96/128 = "
        "0.75 in the lab). Drop it: .batch(global_batch_size, drop_remainder=True).",
    )
    return (
        f"every step splits a batch of {batch} shuffled examples between the "
        f"{CHECK_REPLICAS} replicas, {per_replica} each, and no smaller batch is left at the end."
    )


# ------------------------------------------------------------------ q3: the training step
def _check_q3(ns: Namespace) -> str | None:
    import keras
    import tensorflow as tf

    make = learner_value(ns, "make_train_step")
    strategy = check_strategy()
    with strategy.scope():
        model = replicas.step_model()
        optimizer = keras.optimizers.SGD(STEP_LEARNING_RATE)
        optimizer.build(model.trainable_variables)
    before = [w.numpy() for w in model.trainable_variables]
    images, labels = replicas.step_batch()
    global_batch = sum(STEP_SIZES)
    step = _call(make, strategy, model, optimizer, global_batch)
    expect(
        callable(step),
        f"make_train_step should return the step function (train_step), not {describe(step)}.",
    )
    expect(
        hasattr(step, "get_concrete_function"),
        "train_step should be a tf.function (decorate it with @tf.function): run eagerly, "
        "strategy.run steps through the replicas one Python thread at a time, very slowly.",
    )
    loss = _call(step, replicas.distributed_batch(strategy, images, labels))
    expect(
        not isinstance(loss, tf.distribute.DistributedValues),
        "train_step returns one loss per replica: add them up with "
        "strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_losses, axis=None).",
    )
    after = [w.numpy() for w in model.trainable_variables]
    change = np.concatenate([np.ravel(a - b) for a, b in zip(before, after, strict=True)])
    gradients, sums = replicas.slice_gradients(before, images, labels)
    gradient = change / STEP_LEARNING_RATE
    update_answer(gradients, gradient).judge(gradient, "train_step")
    expect(loss is not None, "train_step returns nothing: return the loss of the batch.")
    value, mean = as_scalar(loss, "the loss train_step returns"), sum(sums) / global_batch
    reduce_mean = (
        f"it returns {value:.4f}, half the batch's loss ({mean:.4f}): ReduceOp.MEAN averages "
        "the replicas' losses, which are already divided by the global batch size; add them up "
        "with ReduceOp.SUM."
    )
    Answer(
        mean,
        [Mistake(reduce_mean, mean / CHECK_REPLICAS)],
        otherwise=f"it returns {value:.4f}; the loss of this batch on one device is "
        f"{mean:.4f}: return strategy.reduce(ReduceOp.SUM, ...) of the replicas' scaled losses.",
    ).judge(value, "train_step")
    return (
        "one step on 2 replicas changes the weights exactly as one step on one device with the "
        "same batch (5 + 4 examples), and returns the batch's loss."
    )


# ------------------------------------------------------------------ q4: batch and rate (a decision)
ACCURACY_SLACK = 0.005  # the validation accuracy a setting may lose against the one-device recipe
SETTING = "a triple (global batch, learning rate, epochs), e.g. (512, 4e-3, 6)"


def _setting(value: Any, what: str) -> tuple[int, float, int]:
    """A (global batch, learning rate, epochs) triple."""
    ok = isinstance(value, tuple | list) and len(value) == 3
    ok = ok and all(isinstance(v, Real) and not isinstance(v, bool) for v in value)
    batch, rate, epochs = value if ok else (0, 0, 0)
    whole = ok and float(batch).is_integer() and float(epochs).is_integer()
    expect(
        whole and batch >= 4 and epochs >= 1 and 0 < rate < 1,
        f"{what} is {describe(value)}; it should be {SETTING}.",
    )
    return int(batch), float(rate), int(epochs)


def _check_q4(ns: Namespace) -> str | None:
    measured, rerun = learner_value(ns, "sweep"), "run the cell of section 9 again"
    expect(isinstance(measured, dict), f"`sweep` is {describe(measured)}: {rerun}.")
    sweep = {_setting(k, "a key of `sweep`"): v for k, v in measured.items()}
    expect(
        all(isinstance(v, Real) and 0 <= v <= 1 for v in sweep.values()),
        f"the values of `sweep` should be validation accuracies: {rerun}.",
    )
    n_train = int(learner_float(ns, "N_TRAIN", 1, 1e7))

    def measured_as(setting: tuple, missing: str) -> tuple[float, int]:
        """The accuracy of ``setting`` in the sweep, and its steps in all (the time on GPUs)."""
        batch, rate, epochs = setting
        found = [
            a for (b, r, e), a in sweep.items() if (b, e) == (batch, epochs) and close(r, rate)
        ]
        expect(found, f"{setting} was not measured: {missing}")
        return float(found[0]), epochs * -(-n_train // batch)

    recipe = [learner_value(ns, n) for n in ("GLOBAL_BATCH", "LEARNING_RATE", "EPOCHS")]
    base = base_batch, base_rate, base_epochs = _setting(
        recipe, "(GLOBAL_BATCH, LEARNING_RATE, EPOCHS)"
    )
    baseline, _ = measured_as(base, f"keep it as the first of SWEEP and {rerun}.")
    batch, rate, epochs = choice = _setting(learner_value(ns, "MY_CHOICE"), "`MY_CHOICE`")
    accuracy, steps = measured_as(choice, f"add it to SWEEP and {rerun}; the check judges it then.")
    expect(batch % 4 == 0, f"a global batch of {batch} does not split between 4 replicas.")
    k, floor = batch / base_batch, baseline - ACCURACY_SLACK
    lost = (
        f"{choice} reaches {accuracy:.4f}, {baseline - accuracy:.3f} below the one-device "
        f"recipe's {baseline:.4f}"
    )
    if accuracy < floor and k > 1:
        expect(
            not close(rate, base_rate),
            f"{lost}: {k:g} times fewer steps of the same size. Scale the learning rate up.",
        )
        expect(
            epochs > base_epochs,
            f"{lost}: with as many epochs, {k:g} times the batch makes {k:g} times fewer steps, "
            "fewer updates than the model needs. Train more epochs.",
        )
    expect(accuracy >= floor, f"{lost}; the requirement allows {ACCURACY_SLACK}. Choose another.")
    keeping = {s: measured_as(s, "") for s, a in sweep.items() if a >= floor}
    fewest = min(keeping, key=lambda s: (keeping[s][1], -keeping[s][0]))
    expect(
        steps <= keeping[fewest][1],
        f"{choice} keeps the accuracy in {steps} steps, but {fewest} keeps it too "
        f"({keeping[fewest][0]:.4f}) in {keeping[fewest][1]}: on 4 GPUs, the faster training.",
    )
    return (
        f"{choice}: validation accuracy {accuracy:.4f} (the one-device recipe {baseline:.4f}) "
        f"in {steps} steps of {batch // 4} images per replica."
    )


q1 = Exercise(
    "A model built and compiled in the strategy's scope",
    _check_q1,
    hints=[
        "Section 4's rule: whatever creates variables is created in the scope. Go through your "
        "lines: which of them create variables, now or later? Those go inside "
        "`with strategy.scope():`.",
        "build_cnn() creates the model's weights; keras.optimizers.Adam(...) creates the "
        "optimizer's step count at once (its moments come later: fit builds them in the scope "
        "of the model's strategy). Make both in the `with` block, compile there too, and "
        "return the model after it.",
    ],
)
q2 = Exercise(
    "A tf.data pipeline, distributed",
    _check_q2,
    hints=[
        "Two decisions. The strategy splits every batch the dataset yields between the "
        "replicas: which batch size should .batch() get? And every step divides the loss by "
        "global_batch_size (section 2): what would that do to a last batch smaller than it?",
        "from_tensor_slices((images, labels)), shuffled over all the images with seed=0 before "
        "batching, batched by the global batch size without the last, smaller batch "
        "(`drop_remainder=True`: its step would be too short), prefetched (tf.data.AUTOTUNE), "
        "then strategy.experimental_distribute_dataset(...).",
    ],
)
q3 = Exercise(
    "A distributed training step",
    _check_q3,
    hints=[
        "Two parts: the replica's loss (its per-example losses summed and divided by the "
        "*global* batch size), and train_step, which runs the replica step everywhere and adds "
        "up the replicas' losses.",
        "In replica_step: the loss of every example of the replica's batch (loss_fn), then "
        "`tf.nn.compute_average_loss(...)` divides their sum by the global batch size, not the "
        "replica's.",
    ],
)

q4 = Exercise(
    "The batch and the learning rate for 4 replicas",
    _check_q4,
    hints=[
        "Keep only the settings of `sweep` whose validation accuracy is at least the first "
        "row's minus 0.005. A setting makes epochs * ceil(N_TRAIN / global batch) steps.",
        "A comprehension keeps them: `[s for s, a in sweep.items() if a >= baseline - 0.005]`; "
        "then `min(..., key=...)` on their steps in all.",
    ],
)

EXERCISES = (q1, q2, q3, q4)
