"""Checking the Keras models a learner builds: that they are models whose layers and shapes can
be read (not subclassed, not empty, started with ``keras.Input``), their layers, and seeded
weights that make a check's verdict independent of the model's random initialisation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from labkit.checks.exercise import Incorrect
from labkit.checks.values import describe


def learner_model(value: Any, what: str) -> Any:
    """``value`` when it is a Sequential or functional Keras model with an input and at least
    one layer; Incorrect with the reason otherwise."""
    import keras

    if not isinstance(value, keras.Model):
        raise Incorrect(
            f"{what} should be a Keras model (keras.Sequential([...]) or keras.Model(inputs, "
            f"outputs)), not {describe(value)}."
        )
    try:
        value.inputs, value.outputs  # noqa: B018 - subclassed and input-less models have none
    except AttributeError:
        if isinstance(value, keras.Sequential):
            raise Incorrect(
                f"{what} has no input: start it with keras.Input(shape=...), so that its shapes "
                "are known."
            ) from None
        raise Incorrect(
            f"{what} is a subclass of keras.Model; build it with keras.Sequential([...]) or "
            "keras.Model(inputs, outputs), as the exercise does, so that its layers can be "
            "checked."
        ) from None
    if not value.layers:
        raise Incorrect(f"{what} has no layers.")
    return value


def expect_inputs(model: Any, what: str, *inputs: tuple[str, tuple, str, str]) -> None:
    """The model's inputs, in order, each ``(name, shape per example, dtype prefix, how to make
    it)``: ``("label", (), "int", "keras.Input(shape=(), dtype='int32')")``."""
    names = ", ".join(f"the {name}" for name, *_ in inputs)
    if len(model.inputs) != len(inputs):
        raise Incorrect(
            f"{what} has {len(model.inputs)} input(s); it needs "
            f"{('one', 'two', 'three')[len(inputs) - 1]}, in order: {names}."
        )
    for tensor, (name, shape, dtype, how) in zip(model.inputs, inputs, strict=True):
        got = tuple(tensor.shape[1:])
        if got != shape:
            raise Incorrect(f"{what}'s {name} input has shape {got} per example; make it {how}.")
        if not str(tensor.dtype).startswith(dtype):
            raise Incorrect(f"{what}'s {name} input has dtype {tensor.dtype}; make it {how}.")


def input_shape(model: Any, what: str) -> tuple:
    """The shape of a model's one input, ``(None, ...)``."""
    if len(model.inputs) != 1:
        raise Incorrect(f"{what} has {len(model.inputs)} inputs; it should have one.")
    return tuple(model.inputs[0].shape)


def output_shape(model: Any, what: str) -> tuple:
    """The shape of a model's one output, ``(None, ...)``."""
    if len(model.outputs) != 1:
        raise Incorrect(f"{what} has {len(model.outputs)} outputs; it should have one.")
    return tuple(model.outputs[0].shape)


def all_layers(model: Any) -> list:
    """Every layer of a Keras model, looking inside nested models and wrappers (Bidirectional)."""
    import keras

    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found += all_layers(layer)
        inner = getattr(layer, "forward_layer", None) or getattr(layer, "layer", None)
        if isinstance(inner, keras.layers.Layer) and not isinstance(inner, keras.Model):
            found.append(inner)
    return found


def layer_types(model: Any) -> list[str]:
    """The class names of every layer of ``model``, nested ones included ("Dense", "Conv2D", ...)."""
    return [type(layer).__name__ for layer in all_layers(model)]


def layers_of(model: Any, *kinds: type) -> list:
    """The layers of ``model`` (nested ones included) that are instances of ``kinds``."""
    return [layer for layer in all_layers(model) if isinstance(layer, kinds)]


def activation_name(layer: Any) -> str:
    """The name of a layer's activation function ("linear", "relu", "softmax", ...)."""
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation))


def set_seeded_weights(model: Any, seed: int, scale: float = 0.5) -> None:
    """Give every trainable weight of ``model`` values drawn from a seeded normal distribution,
    so that a probe of the model's behaviour does not depend on its random initialisation."""
    rng = np.random.default_rng(seed)
    for weight in model.trainable_weights:
        weight.assign(rng.normal(scale=scale, size=tuple(weight.shape)).astype(weight.dtype))


def seed_weights(model: Any, seed: int) -> None:
    """Give every weight of a model a value drawn from ``seed`` at the scale of a fresh
    initialisation (normal, 1/sqrt(fan-in); batch normalisation gets its neutral values), so
    that a model the check trains or scores behaves like a new one whatever the global seed."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if not str(variable.dtype).startswith("float"):
            continue  # e.g. the state of a random layer's seed generator
        name, shape = variable.path.split("/")[-1], tuple(variable.shape)
        if name in ("gamma", "moving_variance"):
            value = np.ones(shape)
        elif name in ("beta", "moving_mean"):
            value = np.zeros(shape)
        elif len(shape) <= 1:
            value = rng.normal(0.0, 0.1, shape)
        else:
            value = rng.normal(0.0, 1.0 / math.sqrt(math.prod(shape[:-1])), shape)
        variable.assign(value.astype(variable.dtype))
