"""Lab 08's two networks, judged by what they make: the generator's image size and pixel range
(q1), the sizes each network is described with (their parameter counts), and Keras' errors when
two of the learner's sizes disagree (a Dense layer too small for its Reshape, an embedding as
long as something else than the features), told as the derivation that is off."""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

from labkit.checks.answers import expect
from labkit.checks.exercise import Incorrect
from labkit.checks.models import all_layers, layer_types

IMAGE_SHAPE = (28, 28, 1)
FEATURES = 7 * 7 * 64  # the discriminator's flattened features
DERIVE_MAPS = (
    "Work backwards from 28: two doublings, 28 / 2 / 2 = 7, so 7x7 maps of 64 channels, made by "
    "a Dense layer of 7 * 7 * 64 units."
)
DERIVE_FEATURES = (
    "Flatten gives the last maps' height x width x channels: 28 -> 14 -> 7 with 64 channels, "
    f"7 * 7 * 64 = {FEATURES}, so Embedding(N_CLASSES, {FEATURES})."
)
_RESHAPE = re.compile(
    r"total size of the tensor must be unchanged. Received: input_shape=\((\d+),\)"
)
_DOT = re.compile(r"Incompatible input shapes: axis values (\d+) \(at axis 1\) != (\d+)")


def sizes_explained(make: Any) -> Any:
    """``make`` (the learner's make_generator or make_discriminator), with Keras' errors for
    sizes that disagree turned into what the learner should work out; anything else as is."""
    if not callable(make):
        return make

    @functools.wraps(make)
    def explained(*args: Any, **kwargs: Any) -> Any:
        try:
            return make(*args, **kwargs)
        except ValueError as exc:
            reshape, dot = _RESHAPE.search(str(exc)), _DOT.search(str(exc))
            if reshape:
                raise Incorrect(
                    f"the Dense layer makes {reshape[1]} numbers, which Reshape cannot turn into "
                    f"the maps you asked for: it needs one unit per number of the first maps. "
                    f"{DERIVE_MAPS}"
                ) from None
            if dot:
                raise Incorrect(
                    f"the dot product gets two vectors of different lengths, {dot[1]} and "
                    f"{dot[2]}: the label's embedding must be as long as the image's features. "
                    f"{DERIVE_FEATURES}"
                ) from None
            raise

    return explained


def generator_params(latent_dim: int, n_classes: int) -> set[int]:
    """The parameter counts of the generator the exercise describes: Dense(7*7*64) and the first
    Conv2DTranspose may keep their biases (batch normalisation makes them useless)."""
    dense, bn1 = (latent_dim + n_classes) * 7 * 7 * 64, 4 * 7 * 7 * 64
    up1, bn2, up2 = 4 * 4 * 64 * 32, 4 * 32, 4 * 4 * 32 * 1 + 1
    base = dense + bn1 + up1 + bn2 + up2
    return {base, base + 7 * 7 * 64, base + 32, base + 7 * 7 * 64 + 32}


def first_maps(model: Any) -> tuple | None:
    """The shape of the first image-like (height, width, channels) output in ``model``."""
    for layer in all_layers(model):
        try:
            shape = tuple(layer.output.shape)
        except Exception:  # noqa: BLE001 - a layer used twice, or never called
            continue
        if len(shape) == 4:
            return shape[1:]
    return None


def expect_image_size(generator: Any, shape: tuple) -> None:
    """The generator's output is 28x28x1; else which derivation is off."""
    if shape == IMAGE_SHAPE:
        return
    made = f"the generator makes images of {'x'.join(map(str, shape))}, not 28x28x1"
    maps, ups = first_maps(generator), layer_types(generator).count("Conv2DTranspose")
    expect(
        shape[-1] == 1 or shape[:2] != IMAGE_SHAPE[:2],
        f"{made}: the last Conv2DTranspose makes the image's channels, and Fashion-MNIST's "
        "images have one (grey levels): give it 1 filter.",
    )
    if maps is not None and maps[0] != 7 and ups == 2:
        raise Incorrect(
            f"{made}: your first maps are {maps[0]}x{maps[1]}, and two doublings make "
            f"{4 * maps[0]}x{4 * maps[1]}. {DERIVE_MAPS}"
        )
    raise Incorrect(
        f"{made}: check each layer's output size. Each Conv2DTranspose with strides=2 and "
        "padding='same' doubles the maps, so two of them take 7x7 maps to 28x28."
    )


def expect_image_range(pixels: np.ndarray) -> None:
    """The generator's pixels (for large noise) cover the real images' range, [-1, 1], and no
    more; else what the last activation makes and why that gives the fakes away."""
    low, high = float(pixels.min()), float(pixels.max())
    why = (
        "the real images are scaled to [-1, 1], so the discriminator could tell the fakes by "
        "their range alone"
    )
    tanh = "end with an activation whose outputs span [-1, 1]: tanh"
    expect(
        low < 0.0 or high > 1.0 or (pixels == 0).any(),
        f"the generator's pixels are all in [0, 1], a sigmoid's range: {why} (no generated "
        f"pixel could be as dark as a real background, -1). {tanh}.",
    )
    expect(
        low < 0.0,
        f"the generator's pixels are never negative (from {low:.3g} to {high:.3g}), as after a "
        f"ReLU: {why} (a real background is -1). {tanh}.",
    )
    expect(
        low >= -1.0 - 1e-5 and high <= 1.0 + 1e-5,
        f"the generator's pixels go from {low:.3g} to {high:.3g}, beyond [-1, 1], as with no "
        f"activation: {why} (no real pixel is outside it). {tanh}.",
    )


def discriminator_params(n_classes: int) -> int:
    """The parameter count of the projection discriminator the exercise describes."""
    conv1, conv2 = 4 * 4 * 1 * 32 + 32, 4 * 4 * 32 * 64 + 64
    return conv1 + conv2 + FEATURES + 1 + n_classes * FEATURES
