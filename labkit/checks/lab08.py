"""Checks for lab 08: a conditional GAN that draws shoes.

q1 the generator, q2 the discriminator, q3 the two losses, q4 the custom ``train_step`` (and the
two optimizers). Every check builds what it tests with weights it sets itself (``seed_weights``),
so its verdict does not depend on the global seed; q4 runs the learner's ``train_step`` once on
tiny probe networks that record how they were called, and compares the weights it leaves with
one step of SGD simulated by ``gan_step``, for the right step and for each classic mistake.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from labkit.checks import gan_step
from labkit.checks.exercise import Exercise, Incorrect, NotAttempted
from labkit.checks.learner_code import call_learner, model_output
from labkit.checks.models import all_layers, seed_weights
from labkit.checks.values import Namespace, as_numpy, expect_shape, learner_value
from labkit.errors import first_line

LAB = "08_gans"
IMAGE_SHAPE = (28, 28, 1)
FEATURES = 7 * 7 * 64  # the discriminator's flattened features


# ----------------------------------------------------------------- shared helpers
def _positive_int(ns: Namespace, name: str) -> int:
    value = learner_value(ns, name)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise Incorrect(f"`{name}` should be a positive whole number, not {value!r}.")
    return int(value)


def _model(value: Any, what: str) -> Any:
    import keras

    if not isinstance(value, keras.Model):
        raise Incorrect(
            f"{what} is a {type(value).__name__}; it should be a Keras model "
            "(keras.Model([inputs], output))."
        )
    try:
        inputs = value.inputs
    except Exception:  # noqa: BLE001 - a subclassed or empty model has no inputs to read
        inputs = None
    if not inputs:
        raise Incorrect(
            f"{what} has no inputs: build it with keras.Input(...) and "
            "keras.Model([inputs], output), as the exercise does."
        )
    return value


def _two_inputs(model: Any, first: tuple, first_name: str, what: str) -> None:
    """The model takes [first input, label]; the label is one integer per example."""
    if len(model.inputs) != 2:
        raise Incorrect(
            f"{what} has {len(model.inputs)} input(s); it needs two, in this order: "
            f"the {first_name} and the label."
        )
    got = tuple(model.inputs[0].shape[1:])
    if got != first:
        raise Incorrect(f"{what}'s first input has shape {got}; it should be {first}.")
    label = model.inputs[1]
    if tuple(label.shape[1:]) != ():
        raise Incorrect(
            f"{what}'s label input has shape {tuple(label.shape[1:])} per example; "
            "a label is one integer: keras.Input(shape=(), dtype='int32')."
        )
    if not str(label.dtype).startswith("int"):
        raise Incorrect(
            f"{what}'s label input has dtype {label.dtype}; labels are integers: "
            "keras.Input(shape=(), dtype='int32')."
        )


def _types(model: Any) -> list[str]:
    return [type(layer).__name__ for layer in all_layers(model)]


def _activation(layer: Any) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "")


LABELS = np.array([0, 1, 2, 0, 1, 2], dtype="int32")


# ----------------------------------------------------------------- q1: the generator
def generator_params(latent_dim: int, n_classes: int) -> set[int]:
    """The parameter counts of the generator the exercise describes: Dense(7*7*64) and the first
    Conv2DTranspose may keep their biases (batch normalisation makes them useless)."""
    dense, bn1 = (latent_dim + n_classes) * 7 * 7 * 64, 4 * 7 * 7 * 64
    up1, bn2, up2 = 4 * 4 * 64 * 32, 4 * 32, 4 * 4 * 32 * 1 + 1
    base = dense + bn1 + up1 + bn2 + up2
    return {base, base + 7 * 7 * 64, base + 32, base + 7 * 7 * 64 + 32}


def _check_q1(ns: Namespace) -> str | None:
    latent, n_classes = _positive_int(ns, "LATENT_DIM"), _positive_int(ns, "N_CLASSES")
    if n_classes < 3:
        raise Incorrect(f"`N_CLASSES` is {n_classes}; there are 3 kinds of shoes.")
    make = learner_value(ns, "make_generator")
    generator = _model(call_learner(make), "make_generator()")
    _two_inputs(generator, (latent,), "noise z", "the generator")
    seed_weights(generator, 0)
    rng = np.random.default_rng(1)
    z = rng.normal(size=(len(LABELS), latent)).astype("float32")
    out = expect_shape(
        model_output(generator, [z, LABELS], "calling the generator", "the generator"),
        (len(LABELS), None, None, None),
        "the generator's output for 6 noise vectors",
    )
    if out.shape[1:] != IMAGE_SHAPE:
        raise Incorrect(
            f"the generator makes images of shape {out.shape[1:]}; it should make "
            f"{IMAGE_SHAPE}: 7x7 maps, then two Conv2DTranspose layers with strides=2 "
            "and padding='same' (7 -> 14 -> 28), the last with 1 filter."
        )
    big = model_output(generator, [5.0 * z, LABELS], "calling the generator", "the generator")
    if big.min() >= 0.0 and big.max() <= 1.0:
        raise Incorrect(
            "the generator's pixels are all in [0, 1], as a sigmoid makes them; the "
            "training images are scaled to [-1, 1]: end with activation='tanh'."
        )
    if big.min() < -1.0 - 1e-5 or big.max() > 1.0 + 1e-5:
        raise Incorrect(
            f"the generator's pixels go from {big.min():.3g} to {big.max():.3g}; the "
            "training images are in [-1, 1]: end with activation='tanh'."
        )
    same_z = np.repeat(z[:1], 3, axis=0)
    per_label = model_output(
        generator, [same_z, LABELS[:3]], "calling the generator", "the generator"
    )
    if np.abs(per_label - per_label[:1]).max() < 1e-6:
        raise Incorrect(
            "the same noise gives the same image whatever the label: the label must "
            "enter the network (one-hot, concatenated with z before the Dense layer)."
        )
    if np.abs(out[3] - out[0]).max() < 1e-6:
        raise Incorrect(
            "two different noise vectors give the same image: z must enter the network."
        )
    types = _types(generator)
    if "Reshape" not in types or "Dense" not in types:
        raise Incorrect(
            "start like lab 05's decoder: a Dense layer of 7 * 7 * 64 units, then "
            "layers.Reshape((7, 7, 64))."
        )
    if types.count("Conv2DTranspose") != 2:
        raise Incorrect(
            f"the generator has {types.count('Conv2DTranspose')} Conv2DTranspose "
            "layers; it should upsample with exactly two (7 -> 14 -> 28)."
        )
    if types.count("BatchNormalization") != 2:
        raise Incorrect(
            f"the generator has {types.count('BatchNormalization')} "
            "BatchNormalization layers; put one after the Dense layer and one after "
            "the first Conv2DTranspose, each followed by ReLU."
        )
    params, wanted = generator.count_params(), generator_params(latent, n_classes)
    if params not in wanted:
        raise Incorrect(
            f"the generator has {params:,} parameters; the one described has "
            f"{min(wanted):,}: check the sizes (Dense(7 * 7 * 64), "
            "Conv2DTranspose(32, 4, ...), Conv2DTranspose(1, 4, ...))."
        )
    return (
        f"noise ({latent}) + one-hot label ({n_classes}) -> 7x7x64 -> 14x14x32 -> 28x28x1 in "
        f"[-1, 1], {params:,} parameters."
    )


q1 = Exercise(
    LAB,
    "q1",
    "The generator: lab 05's decoder, fed with noise and a label",
    _check_q1,
    hints=[
        "Two inputs: z = keras.Input((LATENT_DIM,)) and label = keras.Input(shape=(), "
        "dtype='int32'). Turn the label into a one-hot vector, concatenate it with z, then "
        "decode as in lab 05 (Dense, Reshape, two Conv2DTranspose).",
        "layers.CategoryEncoding(N_CLASSES, output_mode='one_hot')(label) makes the one-hot "
        "vector; layers.Concatenate()([z, one_hot]) joins them. After Dense(7 * 7 * 64, "
        "use_bias=False) and after Conv2DTranspose(32, 4, strides=2, padding='same', "
        "use_bias=False): BatchNormalization() then ReLU(). The last layer: "
        "Conv2DTranspose(1, 4, strides=2, padding='same', activation='tanh').",
        "z = keras.Input((LATENT_DIM,))\n"
        "label = keras.Input(shape=(), dtype='int32')\n"
        "x = layers.Concatenate()([z, layers.CategoryEncoding(N_CLASSES, "
        "output_mode='one_hot')(label)])\n"
        "x = layers.Dense(7 * 7 * 64, use_bias=False)(x)\n"
        "x = layers.ReLU()(layers.BatchNormalization()(x))\n"
        "x = layers.Reshape((7, 7, 64))(x)\n"
        "x = layers.Conv2DTranspose(32, 4, strides=2, padding='same', use_bias=False)(x)\n"
        "x = layers.ReLU()(layers.BatchNormalization()(x))\n"
        "image = layers.Conv2DTranspose(1, 4, strides=2, padding='same', "
        "activation='tanh')(x)\n"
        "return keras.Model([z, label], image, name='generator')",
    ],
)


# ----------------------------------------------------------------- q2: the discriminator
def discriminator_params(n_classes: int) -> int:
    """The parameter count of the projection discriminator the exercise describes."""
    conv1, conv2 = 4 * 4 * 1 * 32 + 32, 4 * 4 * 32 * 64 + 64
    return conv1 + conv2 + FEATURES + 1 + n_classes * FEATURES


def _leaky_count(discriminator: Any) -> int:
    return sum(
        type(layer).__name__ == "LeakyReLU" or _activation(layer) == "leaky_relu"
        for layer in all_layers(discriminator)
    )


def _check_q2(ns: Namespace) -> str | None:
    n_classes = _positive_int(ns, "N_CLASSES")
    make = learner_value(ns, "make_discriminator")
    discriminator = _model(call_learner(make), "make_discriminator()")
    _two_inputs(discriminator, IMAGE_SHAPE, "image", "the discriminator")
    seed_weights(discriminator, 0)
    rng = np.random.default_rng(2)
    images = rng.uniform(-1, 1, size=(len(LABELS), *IMAGE_SHAPE)).astype("float32")
    images[0], images[1] = -1.0, 1.0  # an all-black and an all-white image
    out = model_output(
        discriminator, [images, LABELS], "calling the discriminator", "the discriminator"
    )
    if out.shape == (len(LABELS),):
        out = out[:, None]
    expect_shape(out, (len(LABELS), 1), "the discriminator's output for 6 images")
    logit_please = (
        "return the logit (no activation at the end); the losses apply the sigmoid themselves "
        "(from_logits=True), which stays exact even for very confident outputs."
    )
    if "sigmoid" in map(_activation, all_layers(discriminator)):
        raise Incorrect(f"the discriminator applies a sigmoid: {logit_please}")
    if out.min() >= 0.0 and out.max() <= 1.0:
        raise Incorrect(f"the discriminator's outputs are all between 0 and 1: {logit_please}")
    same = np.repeat(images[2:3], 3, axis=0)
    per_label = model_output(
        discriminator, [same, LABELS[:3]], "calling the discriminator", "the discriminator"
    ).reshape(-1)
    if np.abs(per_label - per_label[0]).max() < 1e-6:
        raise Incorrect(
            "the same image gets the same score whatever the label: the "
            "discriminator must judge 'a real image of this class', so the label has "
            "to enter (the projection: Embedding(N_CLASSES, features) dotted with the "
            "features)."
        )
    if np.abs(out[2:] - out[2]).max() < 1e-6:
        raise Incorrect("different images get the same score: the image must enter the network.")
    types = _types(discriminator)
    if "Conv2DTranspose" in types:
        raise Incorrect(
            "the discriminator reads images: it downsamples with Conv2D(..., "
            "strides=2), it has no Conv2DTranspose."
        )
    convs = [la for la in all_layers(discriminator) if type(la).__name__ == "Conv2D"]
    if len(convs) != 2 or any(tuple(la.strides) != (2, 2) for la in convs):
        raise Incorrect(
            "the discriminator should have exactly two Conv2D layers with strides=2 "
            "(28 -> 14 -> 7), mirroring the generator."
        )
    if _leaky_count(discriminator) < 2:
        raise Incorrect(
            "put a LeakyReLU(0.2) after each convolution: a plain ReLU passes no "
            "gradient for negative inputs, and the discriminator's gradient is all "
            "the generator learns from."
        )
    slopes = {
        round(float(layer.negative_slope), 4)
        for layer in all_layers(discriminator)
        if type(layer).__name__ == "LeakyReLU"
    }
    if slopes - {0.2}:
        raise Incorrect(
            f"the LeakyReLU layers have the slope(s) {sorted(slopes)}; use LeakyReLU(0.2), "
            "the DCGAN value (Keras' default is 0.3)."
        )
    if "Embedding" not in types:
        raise Incorrect(
            "condition with a projection: an Embedding(N_CLASSES, features) of the "
            "label, dotted with the image's features and added to the logit."
        )
    params, wanted = discriminator.count_params(), discriminator_params(n_classes)
    if params != wanted:
        raise Incorrect(
            f"the discriminator has {params:,} parameters; the one described has "
            f"{wanted:,}: check the sizes (Conv2D(32, 4, ...), Conv2D(64, 4, ...), "
            f"Dense(1), Embedding(N_CLASSES, {FEATURES}))."
        )
    return (
        f"image -> 14x14x32 -> 7x7x64 -> {FEATURES} features -> a logit, plus the projection "
        f"on the label's embedding; {params:,} parameters."
    )


q2 = Exercise(
    LAB,
    "q2",
    "The discriminator, with a projection of the label",
    _check_q2,
    hints=[
        "The image goes through two stride-2 convolutions (28 -> 14 -> 7) with LeakyReLU, then "
        "Flatten gives the features h. The logit is Dense(1)(h) plus the dot product of h with "
        "the label's embedding (a vector as long as h).",
        "layers.Embedding(N_CLASSES, h.shape[-1])(label) is the label's vector; "
        "layers.Dot(axes=1)([embedded, h]) their dot product, shape (batch, 1); "
        "layers.Add()([layers.Dense(1)(h), ...]) the logit. No sigmoid at the end.",
        "image = keras.Input(IMAGE_SHAPE)\n"
        "label = keras.Input(shape=(), dtype='int32')\n"
        "x = layers.LeakyReLU(0.2)(layers.Conv2D(32, 4, strides=2, padding='same')(image))\n"
        "x = layers.LeakyReLU(0.2)(layers.Conv2D(64, 4, strides=2, padding='same')(x))\n"
        "features = layers.Flatten()(x)\n"
        "projection = layers.Dot(axes=1)(\n"
        "    [layers.Embedding(N_CLASSES, features.shape[-1])(label), features])\n"
        "logit = layers.Add()([layers.Dense(1)(features), projection])\n"
        "return keras.Model([image, label], logit, name='discriminator')",
    ],
)


# ----------------------------------------------------------------- q3: the two losses
REAL_LOGITS = np.array([2.0, -1.0, 0.5, 3.0, -2.5, 12.0, -7.0, 0.0])
FAKE_LOGITS = np.array([-2.0, 1.5, -0.5, 9.0, -11.0, 0.25, -3.0, 1.0])


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _keras_bce(target: float, values: np.ndarray, from_logits: bool) -> float:
    import keras

    y = np.full((len(values), 1), target, dtype="float32")
    bce = keras.losses.BinaryCrossentropy(from_logits=from_logits)
    return float(bce(y, values[:, None].astype("float32")))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def reference_losses(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    """(discriminator loss, non-saturating generator loss) from logits."""
    d = float(np.mean(_softplus(-real)) + np.mean(_softplus(fake)))
    return d, float(np.mean(_softplus(-fake)))


AS_PROBABILITIES = (
    "the loss treats the logits as probabilities: use the cross-entropy from logits "
    "(from_logits=True)."
)
DOUBLE_SIGMOID = (
    "the logits went through a sigmoid before a cross-entropy that applies one itself: pass the "
    "logits directly."
)
SUMMED = "that is {n} times too large: take the mean over the batch, not the sum."
SIGN = "the sign is flipped: a cross-entropy is positive, and the {who} minimises it."
SATURATING = (
    "that is the saturating loss log(1 - D(G(z))) of the original minimax game: its gradient "
    "vanishes while the discriminator confidently rejects the fakes, which is exactly when the "
    "generator needs it. Minimise -log D(G(z)) instead: the cross-entropy with the label 1."
)


def _d_mistakes(real: np.ndarray, fake: np.ndarray) -> list[tuple[float, str]]:
    """The discriminator loss's classic mistakes: (the value each gives, what to say)."""
    right, _ = reference_losses(real, fake)
    swapped = float(np.mean(_softplus(real)) + np.mean(_softplus(-fake)))
    probabilities = _keras_bce(1.0, real, False) + _keras_bce(0.0, fake, False)
    double_sigmoid = _keras_bce(1.0, _sigmoid(real), True) + _keras_bce(0.0, _sigmoid(fake), True)
    return [
        (swapped, "the labels are swapped: real images must get the label 1, generated ones 0."),
        (probabilities, AS_PROBABILITIES),
        (double_sigmoid, DOUBLE_SIGMOID),
        (right / 2, "that is half the loss: add the two cross-entropies, do not average them."),
        (
            float(np.mean(_softplus(-real))),
            "only the real images count: add the cross-entropy of the generated ones (label 0).",
        ),
        (
            float(np.mean(_softplus(fake))),
            "only the generated images count: add the cross-entropy of the real ones (label 1).",
        ),
        (-right, SIGN.format(who="discriminator")),
        (right * len(real), SUMMED.format(n=len(real))),
    ]


def _g_mistakes(fake: np.ndarray) -> list[tuple[float, str]]:
    """The generator loss's classic mistakes: (the value each gives, what to say)."""
    right = float(np.mean(_softplus(-fake)))
    return [
        (float(np.mean(np.log1p(-_sigmoid(fake)))), SATURATING),
        (
            float(np.mean(_softplus(fake))),
            "that loss teaches the generator to look fake (the label 0); the generator wants the "
            "discriminator to say 'real': use the label 1.",
        ),
        (_keras_bce(1.0, fake, False), AS_PROBABILITIES),
        (_keras_bce(1.0, _sigmoid(fake), True), DOUBLE_SIGMOID),
        (-right, SIGN.format(who="generator")),
        (right * len(fake), SUMMED.format(n=len(fake))),
    ]


def _scalar(value: Any, what: str) -> float:
    array = as_numpy(value, what)
    if array.size != 1:
        raise Incorrect(
            f"{what} returns {array.size} numbers (shape {array.shape}); it should "
            "return one: the mean over the batch."
        )
    try:
        return float(array.reshape(()))
    except (TypeError, ValueError):
        raise Incorrect(f"{what} should return a number, not {array.dtype} values.") from None


def _call_loss(func: Any, name: str, *logits: np.ndarray) -> float:
    import tensorflow as tf

    args = [tf.constant(x[:, None], dtype=tf.float32) for x in logits]  # (batch, 1) like D's output
    return _scalar(call_learner(func, *args), f"{name}(...)")


def _judge_loss(got: float, right: float, mistakes: list[tuple[float, str]], name: str) -> None:
    if not math.isfinite(got):
        raise Incorrect(
            f"{name} returns {got}: compute the cross-entropy from the logits "
            "(from_logits=True), which stays finite for any logit."
        )
    if math.isclose(got, right, rel_tol=1e-4, abs_tol=1e-5):
        return
    for value, message in mistakes:
        if math.isclose(got, value, rel_tol=1e-4, abs_tol=1e-5):
            raise Incorrect(f"{name}: {message}")
    raise Incorrect(
        f"{name} gives {got:.5g} for our test logits; the expected value is {right:.5g}."
    )


def check_losses(ns: Namespace) -> None:
    """The q3 verdict without its message (q4 needs the learner's losses right first)."""
    d_loss, g_loss = learner_value(ns, "discriminator_loss"), learner_value(ns, "generator_loss")
    right_d, right_g = reference_losses(REAL_LOGITS, FAKE_LOGITS)
    got = _call_loss(d_loss, "discriminator_loss", REAL_LOGITS, FAKE_LOGITS)
    _judge_loss(got, right_d, _d_mistakes(REAL_LOGITS, FAKE_LOGITS), "discriminator_loss")
    got = _call_loss(g_loss, "generator_loss", FAKE_LOGITS)
    _judge_loss(got, right_g, _g_mistakes(FAKE_LOGITS), "generator_loss")
    # a very confident discriminator: logits far beyond what float32 probabilities can hold
    real, fake = np.array([-200.0, 150.0]), np.array([200.0, -150.0])
    for name, func, args, right in (
        ("discriminator_loss", d_loss, (real, fake), reference_losses(real, fake)[0]),
        ("generator_loss", g_loss, (fake,), reference_losses(real, fake)[1]),
    ):
        got = _call_loss(func, name, *args)
        if not (math.isfinite(got) and math.isclose(got, right, rel_tol=1e-3)):
            raise Incorrect(
                f"{name} gives {got:.5g} for logits of +-200 (a very confident "
                f"discriminator); the right value is {right:.5g}. Going through "
                "probabilities (a sigmoid, then a log) loses them in float32: use "
                "the cross-entropy from logits (from_logits=True)."
            )


def _check_q3(ns: Namespace) -> str | None:
    check_losses(ns)
    return (
        "both losses from logits: the discriminator's sums two cross-entropies, the "
        "generator's is the non-saturating -log D(G(z))."
    )


q3 = Exercise(
    LAB,
    "q3",
    "The two losses, from logits",
    _check_q3,
    hints=[
        "Both are binary cross-entropies on logits. The discriminator wants real images scored "
        "1 and generated ones 0; the generator wants its images scored 1.",
        "cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True) computes "
        "cross_entropy(targets, logits); tf.ones_like(logits) and tf.zeros_like(logits) make "
        "the targets.",
        "cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)\n\n\n"
        "def discriminator_loss(real_logits, fake_logits):\n"
        "    return cross_entropy(tf.ones_like(real_logits), real_logits) + cross_entropy(\n"
        "        tf.zeros_like(fake_logits), fake_logits)\n\n\n"
        "def generator_loss(fake_logits):\n"
        "    return cross_entropy(tf.ones_like(fake_logits), fake_logits)",
    ],
)


# ----------------------------------------------------------------- q4: the training step
def _check_noise(calls: list[gan_step.Call], batch: int) -> None:
    for call in calls:
        if call.network == "G" and call.inputs[0].shape != (batch, gan_step.PROBE_LATENT):
            raise Incorrect(
                f"the noise z had shape {call.inputs[0].shape}; it should be (batch size, "
                f"self.latent_dim) = {(batch, gan_step.PROBE_LATENT)}: take the batch size from the "
                "real images, tf.shape(real_images)[0], since the last batch can be smaller."
            )


def _check_calls(calls: list[gan_step.Call], real: np.ndarray, labels: np.ndarray) -> None:
    g_calls = [c for c in calls if c.network == "G"]
    d_calls = [c for c in calls if c.network == "D"]
    if not g_calls:
        raise Incorrect(
            "train_step never called self.generator: generate images from noise "
            "and the batch's labels."
        )
    _check_noise(g_calls, len(real))
    for call in g_calls:
        z, given = call.inputs
        if z.min() >= 0.0 and z.max() <= 1.0:
            raise Incorrect(
                "the noise z lies between 0 and 1, as tf.random.uniform draws it; draw it from "
                "a standard normal distribution (tf.random.normal), as the generator expects."
            )
        if abs(float(z.mean())) > 0.35 or not 0.7 < float(z.std()) < 1.3:
            raise Incorrect(
                f"the noise z has mean {z.mean():.2f} and standard deviation "
                f"{z.std():.2f}; draw it from a standard normal distribution "
                "(tf.random.normal)."
            )
        if not np.array_equal(np.asarray(given).reshape(-1), labels):
            raise Incorrect(
                "the generator did not get the batch's labels: generate each fake "
                "for the label of a real image (the labels in data), so that the "
                "discriminator compares like with like."
            )
    if not any(gan_step.sees_real(c, real) for c in d_calls):
        raise Incorrect("the discriminator never saw the real images of the batch.")
    if len(d_calls) < 2 and not any(len(c.inputs[0]) > len(real) for c in d_calls):
        raise Incorrect("the discriminator must score the real images and the generated ones.")
    for call in calls:
        if call.training is not True:
            who = "generator" if call.network == "G" else "discriminator"
            raise Incorrect(
                f"the {who} was called with training={call.training} inside "
                "train_step: pass training=True to every call there, so that layers "
                "such as BatchNormalization work in training mode (batch statistics, "
                "updated moving averages)."
            )


def _run_learner_step(gan: Any, data: tuple, log: list[gan_step.Call]) -> Any:
    import tensorflow as tf

    eager = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)  # a @tf.function train_step still logs its calls
    try:
        return call_learner(gan.train_step, data)
    except Incorrect as exc:
        _check_noise(log, len(data[0]))  # a z of the wrong shape is the usual cause
        if "of layer 'probe_g' is incompatible" in str(exc):
            raise Incorrect(
                f"the generator refused the noise z: {first_line(exc)}. z should have shape "
                "(batch size, self.latent_dim)."
            ) from None
        if "Unknown variable" in str(exc):  # Keras: an optimizer met variables it was not built for
            raise Incorrect(
                "train_step used one optimizer for the variables of both networks (Keras: "
                "'Unknown variable'): self.d_optimizer updates "
                "self.discriminator.trainable_variables only, self.g_optimizer the generator's."
            ) from None
        raise
    finally:
        tf.config.run_functions_eagerly(eager)


def _returned_losses(out: Any) -> tuple[float, float]:
    if not isinstance(out, dict) or not {"d_loss", "g_loss"} <= set(out):
        raise Incorrect(
            "train_step should return a dictionary {'d_loss': d_loss, 'g_loss': "
            f"g_loss}}; it returned {type(out).__name__} "
            f"{sorted(out) if isinstance(out, dict) else ''}."
        )
    return (
        _scalar(out["d_loss"], "the returned d_loss"),
        _scalar(out["g_loss"], "the returned g_loss"),
    )


def _check_optimizers(ns: Namespace, cls: type) -> str:
    import keras

    gan = learner_value(ns, "gan")
    if not isinstance(gan, cls) and type(gan).__name__ == cls.__name__:
        raise Incorrect(
            "`gan` was made from an earlier version of the ConditionalGAN class: run the cell "
            "that makes and compiles `gan` again."
        )
    if not isinstance(gan, cls):
        raise Incorrect(
            f"`gan` is a {type(gan).__name__}; make it with "
            "ConditionalGAN(make_generator(), make_discriminator(), LATENT_DIM)."
        )
    d_opt, g_opt = getattr(gan, "d_optimizer", None), getattr(gan, "g_optimizer", None)
    if d_opt is None or g_opt is None:
        raise Incorrect("`gan` is not compiled yet: gan.compile(d_optimizer=..., g_optimizer=...).")
    if d_opt is g_opt:
        raise Incorrect(
            "gan.d_optimizer and gan.g_optimizer are the same object: an optimizer "
            "keeps state for the variables it updates (Adam: two moving averages "
            "per weight, and a step count), so each network needs its own "
            "(training would stop with 'Unknown variable')."
        )
    rate = ns.get("LEARNING_RATE")
    for name, opt in (("d_optimizer", d_opt), ("g_optimizer", g_opt)):
        if not isinstance(opt, keras.optimizers.Adam):
            raise Incorrect(
                f"gan.{name} is a {type(opt).__name__}; use "
                "keras.optimizers.Adam(LEARNING_RATE, beta_1=0.5)."
            )
        if not math.isclose(float(opt.beta_1), 0.5):
            raise Incorrect(
                f"gan.{name} has beta_1={float(opt.beta_1):g}; GANs train more "
                "steadily with beta_1=0.5 (a shorter memory of past gradients, "
                "since the opponent keeps changing)."
            )
        learning_rate = float(np.asarray(opt.learning_rate))
        if isinstance(rate, float) and not math.isclose(learning_rate, rate, rel_tol=1e-4):
            raise Incorrect(
                f"gan.{name} has the learning rate {learning_rate:g}; use LEARNING_RATE ({rate:g})."
            )
    return "two Adam optimizers, one per network"


def _check_q4(ns: Namespace) -> str | None:
    import keras
    import tensorflow as tf

    try:
        check_losses(ns)
    except NotAttempted:
        raise NotAttempted(
            "train_step uses discriminator_loss and generator_loss: write them first (q3)."
        ) from None
    except Incorrect as exc:
        raise Incorrect(
            "train_step uses your discriminator_loss and generator_loss, which are "
            f"not right yet (q3: {str(exc).rstrip('.')}): fix q3 first (q3.check())."
        ) from None
    cls = learner_value(ns, "ConditionalGAN")
    if not (isinstance(cls, type) and issubclass(cls, keras.Model)):
        raise Incorrect("`ConditionalGAN` should be the class defined above (a keras.Model).")
    real, labels = gan_step.probe_batch()
    probes = gan_step.Simulator(real, labels)  # the learner's step trains these networks
    generator, discriminator = probes.generator, probes.discriminator
    g_start = [np.asarray(v) for v in generator.trainable_variables]
    d_start = [np.asarray(v) for v in discriminator.trainable_variables]
    gan = call_learner(cls, generator, discriminator, gan_step.PROBE_LATENT)
    call_learner(
        gan.compile,
        d_optimizer=keras.optimizers.SGD(gan_step.D_RATE),
        g_optimizer=keras.optimizers.SGD(gan_step.G_RATE),
    )
    out = _run_learner_step(gan, (tf.constant(real), tf.constant(labels)), probes.log)
    calls = list(probes.log)
    _check_calls(calls, real, labels)
    d_loss, g_loss = _returned_losses(out)
    g_end = [np.asarray(v) for v in generator.trainable_variables]
    d_end = [np.asarray(v) for v in discriminator.trainable_variables]

    sim = gan_step.Simulator(real, labels)
    for message, d_variant, g_variant, rates in gan_step.STEP_VARIANTS:
        for order, z_d, z_g in gan_step.orders(calls):
            g_want, d_want, d_loss_want, g_loss_want = gan_step.candidate(
                sim, (g_start, d_start), order, z_d, z_g, d_variant, g_variant, rates
            )
            if not (
                gan_step.same_step(g_start, g_end, g_want)
                and gan_step.same_step(d_start, d_end, d_want)
            ):
                continue
            if message is not None:
                raise Incorrect(message)
            for name, got, want in (
                ("d_loss", d_loss, d_loss_want),
                ("g_loss", g_loss, g_loss_want),
            ):
                if not math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-5):
                    raise Incorrect(
                        f"the step is right, but the returned {name} is {got:.5g} "
                        f"where the loss of this step is {want:.5g}: return the "
                        "losses you took the gradients of."
                    )
            done = _check_optimizers(ns, cls)
            how = {
                "together": "both networks from one forward pass (as in the TensorFlow DCGAN "
                "tutorial)",
                "D first": "the discriminator, then the generator against it",
                "G first": "the generator, then the discriminator",
            }[order]
            return f"one step updates {how}, each with its own loss; {done}."
    d_moved = any(not np.array_equal(a, b) for a, b in zip(d_start, d_end, strict=True))
    g_moved = any(not np.array_equal(a, b) for a, b in zip(g_start, g_end, strict=True))
    if not d_moved or not g_moved:
        who = "discriminator" if not d_moved else "generator"
        raise Incorrect(
            f"the {who}'s weights did not change in train_step: compute its "
            "gradients with its tape and apply them with its optimizer."
        )
    raise Incorrect(
        "after one step, the weights are not where one step of SGD on the two "
        "losses puts them: the discriminator's gradients of d_loss for "
        "self.discriminator.trainable_variables with self.d_optimizer, the "
        "generator's gradients of g_loss for self.generator.trainable_variables "
        "with self.g_optimizer."
    )


q4 = Exercise(
    LAB,
    "q4",
    "A custom train_step with two optimizers",
    _check_q4,
    hints=[
        "Draw the noise, generate fakes for the batch's labels, score real and fake images, "
        "compute the two losses, then update each network with the gradients of its own loss "
        "and its own optimizer. Then build `gan` and compile it with two Adam optimizers.",
        "Record the forward pass under two tapes: `with tf.GradientTape() as d_tape, "
        "tf.GradientTape() as g_tape:`. Then d_tape.gradient(d_loss, "
        "self.discriminator.trainable_variables) and self.d_optimizer.apply_gradients(zip(...)); "
        "the same for the generator with g_tape, g_loss and self.g_optimizer.",
        "real_images, labels = data\n"
        "z = tf.random.normal((tf.shape(real_images)[0], self.latent_dim))\n"
        "with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:\n"
        "    fake_images = self.generator([z, labels], training=True)\n"
        "    real_logits = self.discriminator([real_images, labels], training=True)\n"
        "    fake_logits = self.discriminator([fake_images, labels], training=True)\n"
        "    d_loss = discriminator_loss(real_logits, fake_logits)\n"
        "    g_loss = generator_loss(fake_logits)\n"
        "d_vars = self.discriminator.trainable_variables\n"
        "g_vars = self.generator.trainable_variables\n"
        "self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))\n"
        "self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))\n"
        "return {'d_loss': d_loss, 'g_loss': g_loss}\n\n"
        "# and, after the class:\n"
        "gan.compile(d_optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=0.5),\n"
        "            g_optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=0.5))",
    ],
)

EXERCISES = (q1, q2, q3, q4)
