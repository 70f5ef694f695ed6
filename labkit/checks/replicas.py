"""Two replicas for lab 09's checks: the strategy they run the learner's code on, the probes
(numbered examples, a training batch split unevenly between the replicas) and the reference
the training step is judged against: the same step computed on one device, with the scaling
mistakes declared beside it (q3); and reading a learner's distributed dataset, step by step,
within the time limit (q2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import Answer, Mistake, expect
from labkit.checks.exercise import NotAttempted
from labkit.checks.learner_code import run_learner_code
from labkit.checks.models import seed_weights

CHECK_REPLICAS = 2
STEP_SIZES = (5, 4)  # the check's training step: 9 examples, split unevenly between 2 replicas


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


def numbered_examples(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Images filled with their own index, and that index as label: any mix-up shows."""
    images = np.arange(count, dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 2, 1))
    return images.astype(np.float32), np.arange(count, dtype=np.int64)


def step_model() -> Any:
    """A small model with seeded weights."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            layers.Conv2D(3, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(10),
        ]
    )
    seed_weights(model, 1)
    return model


def step_batch() -> tuple[np.ndarray, np.ndarray]:
    """The training step's batch: ``sum(STEP_SIZES)`` images of 6x6 and their labels."""
    rng = np.random.default_rng(9)
    images = rng.uniform(size=(sum(STEP_SIZES), 6, 6, 1)).astype(np.float32)
    return images, rng.integers(0, 10, size=sum(STEP_SIZES)).astype(np.int64)


def distributed_batch(strategy: Any, images: np.ndarray, labels: np.ndarray) -> tuple:
    """(images, labels) as the replicas get them: replica r gets STEP_SIZES[r] examples."""
    starts = np.cumsum((0, *STEP_SIZES))

    def part(context: Any) -> tuple:
        r = context.replica_id_in_sync_group
        return images[starts[r] : starts[r + 1]], labels[starts[r] : starts[r + 1]]

    return tuple(strategy.experimental_distribute_values_from_function(part))


def slice_gradients(weights: list, images: np.ndarray, labels: np.ndarray) -> tuple[list, list]:
    """For each replica's slice of the batch: the gradient of its *summed* loss (flattened) and
    that sum, computed on one device."""
    import keras
    import tensorflow as tf

    model = step_model()
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


# ------------------------------------------------------------------ q3: what a step should do
def update_answer(parts: list[np.ndarray], got: np.ndarray) -> Answer:
    """The one-device step's gradient of the batch's mean loss (``parts``: each replica's
    gradient of its summed loss), and what the scaling mistakes leave instead (``got``, the
    learner's, gives the scale of a wrong one)."""
    total, sizes, n = sum(STEP_SIZES), STEP_SIZES, CHECK_REPLICAS
    right = sum(parts) / total
    per_replica_batch = (
        f"you divided the loss by the per-replica batch size (global_batch_size / {n}), so the "
        f"replicas' gradients add up to {n} times the right one: divide by the global batch "
        "size itself."
    )
    ratio = float(np.dot(got, right) / np.dot(right, right))
    return Answer(
        right,
        [
            Mistake(
                "the weights did not change: apply the gradients in the replica step, "
                "optimizer.apply_gradients(zip(gradients, model.trainable_variables, "
                "strict=True)).",
                np.zeros_like(right),
            ),
            Mistake(
                f"each replica averaged the loss over its own examples ({sizes[0]} and "
                f"{sizes[1]} here), so the replicas' gradients add up to about {n} times the "
                "right one: divide each replica's summed loss by the global batch size, "
                "tf.nn.compute_average_loss(per_example_loss, "
                "global_batch_size=global_batch_size).",
                sum(p / size for p, size in zip(parts, sizes, strict=True)),
            ),
            Mistake(per_replica_batch, sum(parts) / (total // n)),
            Mistake(per_replica_batch, sum(parts) / (total / n)),
            Mistake(
                "without global_batch_size, compute_average_loss divides by this replica's "
                "batch size times the number of replicas: wrong when the replicas get different "
                f"numbers of examples ({sizes[0]} and {sizes[1]} here, as in an epoch's last "
                "batch). Pass global_batch_size=global_batch_size.",
                sum(p / (size * n) for p, size in zip(parts, sizes, strict=True)),
            ),
            Mistake(
                f"the weights moved {ratio:.3g} times as far as one step on one device with the "
                "same batch: the replica loss should be the sum of its per-example losses "
                "divided by the global batch size, and the gradients applied once.",
                ratio * right,
            ),
        ],
        rtol=1e-3,
        otherwise="the weights moved differently from one step on one device with the same "
        "batch: compute the per-example losses of the replica's examples, scale them with "
        "tf.nn.compute_average_loss(..., global_batch_size=...), and apply their gradients.",
    )


# ------------------------------------------------------------------ reading a learner's dataset
def read_epoch(strategy: Any, dataset: Any, most: int) -> list[list[tuple[np.ndarray, ...]]]:
    """Up to ``most`` steps of a distributed dataset: for each step, each replica's (images,
    labels) as arrays. Reading it runs the learner's pipeline: within the time limit."""

    def read() -> list:
        steps = []
        for element in dataset:
            expect(
                isinstance(element, tuple | list) and len(element) == 2,
                "each batch should be a pair (images, labels): make the dataset with "
                "tf.data.Dataset.from_tensor_slices((images, labels)).",
            )
            parts = [strategy.experimental_local_results(value) for value in element]
            step = [tuple(np.asarray(t) for t in pair) for pair in zip(*parts, strict=True)]
            for images, labels in step:
                expect(
                    images.shape[1:] == (2, 2, 1) and labels.ndim == 1,
                    f"a replica got images of shape {images.shape} and labels of shape "
                    f"{labels.shape}; with 2x2 images, expected (n, 2, 2, 1) and (n,): keep "
                    "the examples as they are, only shuffle, batch and distribute them.",
                )
            steps.append(step)
            if len(steps) == most:
                break
        return steps

    return run_learner_code("reading your dataset", read)


def labels_of(steps: list) -> np.ndarray:
    return np.concatenate([labels for step in steps for _, labels in step])


# ------------------------------------------------------------------ q1: what the scope made
def _in_scope(strategy: Any, variables: list) -> bool:
    """Whether every variable (a Keras variable or the tf.Variable behind it) was created in
    ``strategy``'s scope: one copy per replica."""
    return all(
        strategy.extended.variable_created_in_scope(getattr(v, "value", v)) for v in variables
    )


def judge_scope(strategy: Any, model: Any, optimizer: Any) -> None:
    """Incorrect unless the model's weights and the optimizer's variables (its step count from
    the start, its moments once ``optimizer.build`` has run in the scope, as ``fit`` does) are
    variables of ``strategy``, one copy per replica; names what was made outside the scope."""
    import tensorflow as tf

    elsewhere = [  # a copy per replica, of another strategy
        v
        for v in [*model.weights, *optimizer.variables]
        if isinstance(getattr(v, "value", v), tf.distribute.DistributedValues)
        and not _in_scope(strategy, [v])
    ]
    expect(
        not elsewhere,
        "the model was built in the scope of another strategy: use the `strategy` the "
        "function receives (`with strategy.scope():`), not a new one.",
    )
    model_out = not _in_scope(strategy, model.weights)
    optimizer_out = not _in_scope(strategy, optimizer.variables)
    model_words = (
        "the model was built outside `strategy.scope()`: its weights live on one device, not "
        "one copy per replica, and the strategy cannot train them on its replicas"
    )
    optimizer_words = (
        "the optimizer was created outside `strategy.scope()`: its variables (its step count "
        "now, Adam's two moments per weight at the first training step) would live on one "
        "device, and Keras refuses to train with it ('Mixing different tf.distribute.Strategy "
        "objects')"
    )
    expect(
        not (model_out and optimizer_out),
        f"{model_words}; and {optimizer_words}. Create both inside `with strategy.scope():`.",
    )
    expect(not model_out, f"{model_words}. Call build_cnn() inside `with strategy.scope():`.")
    expect(
        not optimizer_out,
        f"{optimizer_words}. Create it inside `with strategy.scope():` (the Adam, or the "
        "compile() that makes it from a name).",
    )

    def build() -> None:
        with strategy.scope():
            optimizer.build(model.trainable_variables)

    run_learner_code("building the optimizer's state in the scope (optimizer.build)", build)
    expect(
        _in_scope(strategy, optimizer.variables),
        "the optimizer's state, built in the scope, is not one copy per replica: create the "
        "optimizer inside `with strategy.scope():`.",
    )
