"""Seed every random generator for the length of a check, then give the learner's back.

A check builds the learner's models and calls their functions; their random draws (Keras'
initialisers, ``tf.random``, NumPy, Python) then depend on the global seed and on what ran
before. Inside ``seeded(seed)`` every generator that ``keras.utils.set_random_seed`` sets starts
from ``seed``, so the same answer always gets the same verdict; afterwards each is restored, so
checking never changes the learner's own random numbers.

TensorFlow's part is set on its eager context directly: ``tf.random.set_seed`` would also clear
TensorFlow's kernel caches, which makes every check about half as fast again. The caches are
cleared only after a check whose code drew from ``tf.random`` (their kernels keep state), so
that the next check draws the same numbers.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np

# Where Keras 3 keeps its global seed and seed generator (keras.src.utils.rng_utils and
# keras.src.random.seed_generator), read and written with Keras' own global_state helpers.
_KERAS_ATTRIBUTES = ("global_random_seed", "global_seed_generator")


def _keras_global_state() -> Any | None:
    """Keras' module of global state, when it is where Keras 3 keeps it."""
    try:
        from keras.src.backend.common import global_state
    except ImportError:
        return None
    return global_state if hasattr(global_state, "set_global_attribute") else None


def _tensorflow_context() -> Any | None:
    """TensorFlow's eager context, when it has the attributes tf.random.set_seed sets."""
    try:
        from tensorflow.python.eager import context
    except ImportError:
        return None
    ctx = context.context()
    needed = ("_seed", "_rng", "_set_global_seed")
    return ctx if all(hasattr(ctx, name) for name in needed) else None


def _save() -> dict[str, Any]:
    ctx, keras_state = _tensorflow_context(), _keras_global_state()
    keras_attributes = {}
    if keras_state is not None:
        keras_attributes = {n: keras_state.get_global_attribute(n) for n in _KERAS_ATTRIBUTES}
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "tensorflow": (ctx._seed, ctx._rng) if ctx is not None else None,
        "keras": keras_attributes,
    }


def _restore(saved: dict[str, Any]) -> None:
    random.setstate(saved["python"])
    np.random.set_state(saved["numpy"])
    ctx = _tensorflow_context()
    if ctx is not None and saved["tensorflow"] is not None:
        ctx._seed, ctx._rng = saved["tensorflow"]
    keras_state = _keras_global_state()
    for name, value in saved["keras"].items():
        keras_state.set_global_attribute(name, value)


def _seed_all(seed: int) -> None:
    """What keras.utils.set_random_seed does, without clearing TensorFlow's caches."""
    import keras

    ctx, keras_state = _tensorflow_context(), _keras_global_state()
    if ctx is None or keras_state is None:  # other versions: the public way, caches cleared
        keras.utils.set_random_seed(seed)
        return
    random.seed(seed)
    np.random.seed(seed)
    ctx._seed, ctx._rng = seed, random.Random(seed)
    keras_state.set_global_attribute("global_random_seed", seed)
    keras_state.set_global_attribute("global_seed_generator", None)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Every generator seeded with ``seed`` inside the block; the learner's restored after."""
    saved = _save()
    fresh = random.Random(seed).getstate()
    try:
        _seed_all(seed)
        yield
    finally:
        ctx = _tensorflow_context()
        if ctx is not None and ctx._rng is not None and ctx._rng.getstate() != fresh:
            ctx._set_global_seed(seed)  # tf.random was used: clear its kernels' state
        _restore(saved)
