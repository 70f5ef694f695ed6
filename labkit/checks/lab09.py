"""Checks for lab 09: from one device to many with tf.distribute.

Each check runs the learner's code on a strategy of its own: two replicas on two logical CPU
devices (the lab splits the CPU first; on a GPU machine too, so that every machine gets the same
verdicts), with small inputs and one training step, so that nothing can run for long. What the
check builds has fixed weights (seeded initialisers), so its verdict does not depend on the
global seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.exercise import Exercise, Incorrect, NotAttempted
from labkit.checks.learner_code import call_learner
from labkit.checks.values import Namespace, describe, expect_shape, learner_value
from labkit.errors import first_line

LAB = "09_distributed_training"
CHECK_REPLICAS = 2
STEP_SIZES = (5, 4)  # the check's training step: 9 examples, split unevenly between 2 replicas
STEP_LEARNING_RATE = 1.0  # plain SGD: the change of each weight is minus its gradient
PER_REPLICA_HINT = (
    "the distributed batch (one part per replica) reached code that expects tensors: run the "
    "replica step on every replica with strategy.run(replica_step, args=batch)."
)


# ------------------------------------------------------------------ shared by the checks
def check_strategy() -> Any:
    """A MirroredStrategy over the first two logical CPU devices. It reduces through one device
    instead of TensorFlow's collective ops, which allow one group of devices per process: the
    learner's strategies (1, 2 or 4 replicas) and the checks' then coexist in one kernel."""
    import tensorflow as tf

    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    if len(cpus) < CHECK_REPLICAS:
        raise NotAttempted(
            "this check runs your code on 2 replicas, but TensorFlow has only one CPU device in "
            "this kernel: the cell of part 1 that splits the CPU has not run first. Restart the "
            "kernel (Kernel > Restart Kernel) and run the notebook from the top."
        )
    return tf.distribute.MirroredStrategy(
        cpus[:CHECK_REPLICAS], cross_device_ops=tf.distribute.ReductionToOneDevice()
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
def _variable_of(weight: Any) -> Any:
    """The TensorFlow variable behind a Keras weight."""
    return getattr(weight, "value", weight)


def _check_q1(ns: Namespace) -> str | None:
    import keras
    import tensorflow as tf

    build = learner_value(ns, "build_and_compile")
    learning_rate = _learning_rate(learner_value(ns, "LEARNING_RATE"))
    strategy = check_strategy()
    model = _call(build, strategy)
    if not isinstance(model, keras.Model):
        raise Incorrect(
            f"build_and_compile(strategy) should return the compiled Keras model, not "
            f"{describe(model)}: end with `return model`."
        )
    if not model.weights:
        raise Incorrect("the model has no weights: build it with build_cnn(), inside the scope.")
    variables = [_variable_of(w) for w in model.weights]
    if not all(strategy.extended.variable_created_in_scope(v) for v in variables):
        if any(isinstance(v, tf.distribute.DistributedValues) for v in variables):
            raise Incorrect(
                "the model was built in the scope of another strategy: use the `strategy` the "
                "function receives (`with strategy.scope():`), not a new one."
            )
        raise Incorrect(
            "the model was built outside `strategy.scope()`: its weights live on one device, "
            "not one copy per replica. Call build_cnn() inside `with strategy.scope():`."
        )
    if not getattr(model, "compiled", False):
        raise Incorrect("the model is not compiled: call model.compile(...) inside the scope.")
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # mixed precision
    if not isinstance(optimizer, keras.optimizers.Adam):
        raise Incorrect(f"the optimizer is {describe(optimizer)}; the exercise asks for Adam.")
    rate = float(np.asarray(keras.ops.convert_to_numpy(optimizer.learning_rate)))
    if not np.isclose(rate, float(learning_rate), rtol=1e-5):
        raise Incorrect(f"the learning rate is {rate:g}; use LEARNING_RATE ({learning_rate:g}).")
    _expect_logits_loss(model.loss)
    logs = _one_training_step(model)
    if not any("accuracy" in name for name in logs):
        raise Incorrect(
            f"fit() would report {sorted(logs)}, without the accuracy: compile with "
            "metrics=['accuracy']."
        )
    return (
        f"{len(model.weights)} weights, each with one copy per replica "
        f"({strategy.num_replicas_in_sync} here), and an optimizer made in the same scope."
    )


def _learning_rate(value: Any) -> float:
    """``LEARNING_RATE`` of the notebook, which must be a positive number."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Incorrect(f"LEARNING_RATE should be a number such as 1e-3, not {describe(value)}.")
    if not (np.isfinite(value) and value > 0):
        raise Incorrect(f"LEARNING_RATE should be a positive number such as 1e-3, not {value}.")
    return float(value)


def _expect_logits_loss(loss: Any) -> None:
    import keras

    wanted = "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"
    if isinstance(loss, str):
        if loss.replace("_", "") == "sparsecategoricalcrossentropy":
            raise Incorrect(
                f"the loss '{loss}' expects probabilities, but build_cnn() ends with scores "
                f"(logits): use {wanted}."
            )
        raise Incorrect(f"the loss is '{loss}'; use {wanted}.")
    if isinstance(loss, keras.losses.CategoricalCrossentropy):
        raise Incorrect(f"the labels are class numbers (0-9), not one-hot vectors: use {wanted}.")
    if not isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        raise Incorrect(f"the loss is {describe(loss)}; use {wanted}.")
    if not loss.get_config().get("from_logits"):
        raise Incorrect(f"build_cnn() ends with scores (logits), not probabilities: use {wanted}.")


def _one_training_step(model: Any) -> dict:
    """What one ``train_on_batch`` on four blank images reports; Incorrect when Keras refuses
    to train the model (an optimizer made outside the scope, say)."""
    images = np.zeros((4, 28, 28, 1), np.float32)
    labels = np.arange(4, dtype=np.int64)
    try:
        logs = model.train_on_batch(images, labels, return_dict=True)
    except RuntimeError as exc:
        if "Mixing different tf.distribute.Strategy" in str(exc):
            raise Incorrect(
                "the model's optimizer was made outside `strategy.scope()`, so Keras refuses to "
                "train: compile the model inside the scope too (the optimizer keeps one copy of "
                "its state per replica)."
            ) from None
        raise Incorrect(f"one training step failed: {first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - the learner's model: any error is feedback
        raise Incorrect(
            f"one training step failed: {type(exc).__name__}: {first_line(exc)}"
        ) from None
    return dict(logs) if isinstance(logs, dict) else {}


# ------------------------------------------------------------------ q2: a distributed dataset
def _numbered_examples(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Images filled with their own index, and that index as label: any mix-up shows."""
    images = np.arange(count, dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 2, 1))
    return images.astype(np.float32), np.arange(count, dtype=np.int64)


def _read_epoch(strategy: Any, dataset: Any, most: int) -> list[list[tuple[np.ndarray, ...]]]:
    """Up to ``most`` steps of a distributed dataset: for each step, each replica's (images,
    labels) as arrays."""
    steps = []
    try:
        for element in dataset:
            if not isinstance(element, (tuple, list)) or len(element) != 2:
                raise Incorrect(
                    "each batch should be a pair (images, labels): make the dataset with "
                    "tf.data.Dataset.from_tensor_slices((images, labels))."
                )
            parts = [strategy.experimental_local_results(value) for value in element]
            step = [tuple(np.asarray(t) for t in pair) for pair in zip(*parts, strict=True)]
            for images, labels in step:
                if images.shape[1:] != (2, 2, 1) or labels.ndim != 1:
                    raise Incorrect(
                        f"a replica got images of shape {images.shape} and labels of shape "
                        f"{labels.shape}; with 2x2 images, expected (n, 2, 2, 1) and (n,): keep "
                        "the examples as they are, only shuffle, batch and distribute them."
                    )
            steps.append(step)
            if len(steps) == most:
                break
    except Incorrect:
        raise
    except Exception as exc:  # noqa: BLE001 - the learner's dataset: any error is feedback
        raise Incorrect(
            f"reading your dataset raised {type(exc).__name__}: {first_line(exc)}"
        ) from None
    return steps


def _check_q2(ns: Namespace) -> str | None:
    import tensorflow as tf

    make = learner_value(ns, "make_distributed_dataset")
    strategy = check_strategy()
    count, batch = 24, 8
    per_replica = batch // CHECK_REPLICAS
    images, labels = _numbered_examples(count)
    dataset = _call(make, strategy, images, labels, batch)
    if isinstance(dataset, tf.data.Dataset):
        raise Incorrect(
            "it returns a tf.data.Dataset: hand it to strategy.experimental_distribute_dataset("
            "...), which gives each replica its share of every batch."
        )
    if not isinstance(dataset, tf.distribute.DistributedDataset):
        raise Incorrect(
            f"it should return strategy.experimental_distribute_dataset(...), not "
            f"{describe(dataset)}."
        )
    steps = _read_epoch(strategy, dataset, most=2 * count // batch + 1)
    if not steps:
        raise Incorrect("the dataset is empty: batch the examples, do not filter them out.")
    sizes = [len(part[1]) for part in steps[0]]
    if sum(sizes) == per_replica:
        raise Incorrect(
            f"a step carries {sum(sizes)} examples in all, {sizes[0]} per replica: you batched "
            f"with the per-replica batch size. Batch with the global batch size "
            f"(global_batch_size, {batch} here): the strategy splits each batch between the "
            f"replicas, {per_replica} each."
        )
    if sizes != [per_replica] * CHECK_REPLICAS:
        raise Incorrect(
            f"a step gives the replicas {sizes} examples; with global_batch_size={batch} and "
            f"{CHECK_REPLICAS} replicas it should give {per_replica} each: .batch(global_batch_size)."
        )
    if len(steps) > count // batch:
        raise Incorrect(
            f"{count} examples in batches of {batch} make {count // batch} steps, but the dataset "
            "goes on: do not .repeat() it; each pass over it is one epoch."
        )
    seen = np.concatenate([labels for step in steps for _, labels in step])
    pictured = np.concatenate([images[:, 0, 0, 0] for step in steps for images, _ in step])
    if sorted(seen.tolist()) != list(range(count)):
        raise Incorrect(f"an epoch should give each of the {count} examples once.")
    if not np.array_equal(pictured, seen.astype(np.float32)):
        raise Incorrect(
            "the images and the labels no longer match: shuffle the (images, labels) pairs "
            "together, in one dataset."
        )
    if all(
        np.array_equal(np.sort(s), np.arange(s.min(), s.min() + batch)) for s in _by_step(steps)
    ):
        raise Incorrect(
            "each batch holds neighbouring examples of the original order: shuffle the examples "
            "before batching, .shuffle(len(images), seed=0) then .batch(...) (shuffling after "
            ".batch() only reorders whole batches)."
        )
    again = _read_epoch(strategy, _call(make, strategy, images, labels, batch), most=len(steps))
    if not np.array_equal(np.concatenate([b for step in again for _, b in step]), seen):
        raise Incorrect(
            "a second dataset shuffles in another order: give shuffle a seed "
            "(.shuffle(len(images), seed=0)), so that the runs of this lab compare."
        )
    extra = CHECK_REPLICAS + 1  # examples beyond the full batches: a last, smaller batch
    ragged = _read_epoch(
        strategy,
        _call(make, strategy, *_numbered_examples(count + extra), batch),
        most=len(steps) + 1,
    )
    if len(ragged) > len(steps):
        raise Incorrect(
            f"{count + extra} examples in batches of {batch} leave a last batch of {extra}, and "
            f"your dataset keeps it: its loss, divided by the global batch size ({batch}), would "
            f"give a step {extra}/{batch} as long as it should be. Drop it: "
            ".batch(global_batch_size, drop_remainder=True)."
        )
    return (
        f"every step splits a batch of {batch} shuffled examples between the "
        f"{CHECK_REPLICAS} replicas, {per_replica} each, and no smaller batch is left at the end."
    )


def _by_step(steps: list) -> list[np.ndarray]:
    return [np.concatenate([labels for _, labels in step]) for step in steps]


# ------------------------------------------------------------------ q3: the training step
def _step_model() -> Any:
    """A small model with fixed weights (seeded initialisers)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            layers.Conv2D(3, 3, activation="relu", kernel_initializer=_seeded(1)),
            layers.Flatten(),
            layers.Dense(10, kernel_initializer=_seeded(2), bias_initializer=_seeded(3)),
        ]
    )


def _seeded(seed: int) -> Any:
    import keras

    return keras.initializers.RandomNormal(stddev=0.5, seed=seed)


def _step_batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(9)
    images = rng.uniform(size=(sum(STEP_SIZES), 6, 6, 1)).astype(np.float32)
    return images, rng.integers(0, 10, size=sum(STEP_SIZES)).astype(np.int64)


def _slice_gradients(weights: list, images: np.ndarray, labels: np.ndarray) -> tuple[list, list]:
    """For each replica's slice of the batch: the gradient of its *summed* loss (flattened) and
    that sum, computed on one device."""
    import keras
    import tensorflow as tf

    model = _step_model()
    model.set_weights(weights)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    gradients, sums, start = [], [], 0
    for size in STEP_SIZES:
        part = slice(start, start + size)
        with tf.GradientTape() as tape:
            total = loss(labels[part], model(images[part], training=True))
        gradient = tape.gradient(total, model.trainable_variables)
        gradients.append(np.concatenate([np.ravel(g) for g in gradient]))
        sums.append(float(total))
        start += size
    return gradients, sums


def _distributed_batch(strategy: Any, images: np.ndarray, labels: np.ndarray) -> tuple:
    """(images, labels) as the replicas get them: replica r gets STEP_SIZES[r] examples."""
    starts = np.cumsum((0, *STEP_SIZES))

    def part(context: Any) -> tuple:
        r = context.replica_id_in_sync_group
        return images[starts[r] : starts[r + 1]], labels[starts[r] : starts[r + 1]]

    return tuple(strategy.experimental_distribute_values_from_function(part))


def _scalar(loss: Any) -> float:
    """The loss ``train_step`` returned, as a number."""
    if loss is None:
        raise Incorrect("train_step returns nothing: return the loss of the batch.")
    value = expect_shape(loss, (), "the loss train_step returns")
    if not np.issubdtype(value.dtype, np.number):
        raise Incorrect(f"train_step should return the loss, a number, not {describe(loss)}.")
    return float(value)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.linalg.norm(a - b) <= 1e-3 * max(np.linalg.norm(b), 1e-12))


def _check_q3(ns: Namespace) -> str | None:
    import keras
    import tensorflow as tf

    make = learner_value(ns, "make_train_step")
    strategy = check_strategy()
    with strategy.scope():
        model = _step_model()
        optimizer = keras.optimizers.SGD(STEP_LEARNING_RATE)
        optimizer.build(model.trainable_variables)
    before = [w.numpy() for w in model.trainable_variables]
    images, labels = _step_batch()
    global_batch = sum(STEP_SIZES)
    step = _call(make, strategy, model, optimizer, global_batch)
    if not callable(step):
        raise Incorrect(
            f"make_train_step should return the step function (train_step), not {describe(step)}."
        )
    if not hasattr(step, "get_concrete_function"):
        raise Incorrect(
            "train_step should be a tf.function (decorate it with @tf.function): run eagerly, "
            "strategy.run steps through the replicas one Python thread at a time, very slowly."
        )
    loss = _call(step, _distributed_batch(strategy, images, labels))
    if isinstance(loss, tf.distribute.DistributedValues):
        raise Incorrect(
            "train_step returns one loss per replica: add them up with "
            "strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_losses, axis=None)."
        )
    after = [w.numpy() for w in model.trainable_variables]
    update = np.concatenate([np.ravel(a - b) for a, b in zip(before, after, strict=True)])
    gradients, sums = _slice_gradients(before, images, labels)
    _expect_the_one_device_update(update / STEP_LEARNING_RATE, gradients)
    value = _scalar(loss)
    mean = sum(sums) / global_batch
    if np.isclose(value, mean / CHECK_REPLICAS, rtol=1e-4):
        raise Incorrect(
            f"train_step returns {value:.4f}, half the batch's loss ({mean:.4f}): ReduceOp.MEAN "
            "averages the replicas' losses, which are already divided by the global batch "
            "size; add them up with ReduceOp.SUM."
        )
    if not np.isclose(value, mean, rtol=1e-4, atol=1e-6):
        raise Incorrect(
            f"train_step returns {value:.4f}; the loss of this batch on one device is {mean:.4f}: "
            "return strategy.reduce(ReduceOp.SUM, ...) of the replicas' scaled losses."
        )
    return (
        "one step on 2 replicas changes the weights exactly as one step on one device with the "
        "same batch (5 + 4 examples), and returns the batch's loss."
    )


def _expect_the_one_device_update(gradient: np.ndarray, parts: list[np.ndarray]) -> None:
    """``gradient`` (from the learner's step) against the one-device gradient of the batch's
    mean loss, naming the scaling mistakes that give the others."""
    total = sum(STEP_SIZES)
    sizes = STEP_SIZES
    wanted = sum(parts) / total
    if _same(gradient, wanted):
        return
    if not np.any(gradient):
        raise Incorrect(
            "the weights did not change: apply the gradients in the replica step, "
            "optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))."
        )
    each_own = sum(p / n for p, n in zip(parts, sizes, strict=True))
    per_replica_batch = [total // CHECK_REPLICAS, total / CHECK_REPLICAS]
    default_scaling = sum(p / (n * CHECK_REPLICAS) for p, n in zip(parts, sizes, strict=True))
    if _same(gradient, each_own):
        raise Incorrect(
            f"each replica averaged the loss over its own examples ({sizes[0]} and {sizes[1]} "
            f"here), so the replicas' gradients add up to about {CHECK_REPLICAS} times the "
            "right one: divide each replica's summed loss by the global batch size, "
            "tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_batch_size)."
        )
    if any(_same(gradient, sum(parts) / n) for n in per_replica_batch):
        raise Incorrect(
            f"you divided the loss by the per-replica batch size (global_batch_size / "
            f"{CHECK_REPLICAS}), so the replicas' gradients add up to {CHECK_REPLICAS} times the "
            "right one: divide by the global batch size itself."
        )
    if _same(gradient, default_scaling):
        raise Incorrect(
            "without global_batch_size, compute_average_loss divides by this replica's batch "
            "size times the number of replicas: wrong when the replicas get different numbers "
            f"of examples ({sizes[0]} and {sizes[1]} here, as in an epoch's last batch). Pass "
            "global_batch_size=global_batch_size."
        )
    ratio = float(np.dot(gradient, wanted) / np.dot(wanted, wanted))
    if _same(gradient, ratio * wanted):
        raise Incorrect(
            f"the weights moved {ratio:.3g} times as far as one step on one device with the "
            "same batch: the replica loss should be the sum of its per-example losses divided "
            "by the global batch size, and the gradients applied once."
        )
    raise Incorrect(
        "the weights moved differently from one step on one device with the same batch: "
        "compute the per-example losses of the replica's examples, scale them with "
        "tf.nn.compute_average_loss(..., global_batch_size=...), and apply their gradients."
    )


q1 = Exercise(
    "A model built and compiled in the strategy's scope",
    _check_q1,
    hints=[
        "Everything that creates variables goes inside `with strategy.scope():`: the model's "
        "layers and the optimizer, which compile() creates.",
        "Open the strategy's scope (a `with` block on `strategy.scope()`), build the model with "
        "`build_cnn()` and compile it inside that block; return the model after it.",
    ],
)
q2 = Exercise(
    "A tf.data pipeline, distributed",
    _check_q2,
    hints=[
        "Build an ordinary tf.data pipeline with the *global* batch size, then give it to "
        "strategy.experimental_distribute_dataset: it splits every batch between the replicas.",
        "A dataset of (image, label) pairs from the arrays (`from_tensor_slices`), shuffled over "
        "all the images with seed=0, batched by the global batch size with the last, smaller "
        "batch dropped (`drop_remainder=True`), prefetched (tf.data.AUTOTUNE).",
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

EXERCISES = (q1, q2, q3)
