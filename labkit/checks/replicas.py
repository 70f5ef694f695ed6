"""Two replicas for lab 09's checks: the strategy they run the learner's code on, the probes
(numbered examples, a training batch split unevenly between the replicas) and the reference
the training step is judged against: the same step computed on one device."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.exercise import NotAttempted
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
