"""Checks for lab 08: a conditional GAN that draws shoes.

q1 the generator and q2 the discriminator (``gan_networks``: judged by the image they make and the
sizes the learner derives), q3 the two losses (``gan_losses``: ``Answer``s with
their mistakes), q4 the custom ``train_step`` and the two optimizers (``gan_step``: the learner's
step on tiny probe networks against one simulated SGD step, right or with each classic mistake),
q5 the epoch to keep (a decision, judged by the learner's own table of the checkpoints' scores).
Every check sets the weights of what it tests (``seed_weights``): no verdict depends on the
global seed.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from labkit.checks import gan_losses, gan_step
from labkit.checks.answers import close, expect
from labkit.checks.exercise import Exercise
from labkit.checks.gan_networks import (
    DERIVE_FEATURES,
    DERIVE_MAPS,
    FEATURES,
    IMAGE_SHAPE,
    discriminator_params,
    expect_image_range,
    expect_image_size,
    first_maps,
    generator_params,
    sizes_explained,
)
from labkit.checks.learner_code import call_learner, model_output
from labkit.checks.models import (
    activation_name,
    all_layers,
    expect_inputs,
    layer_types,
    learner_model,
    seed_weights,
)
from labkit.checks.values import Namespace, expect_shape, learner_int, learner_value

LAB = "08_gans"


# the second input of both networks: one integer label per example
LABEL = "one integer (labels are integers): keras.Input(shape=(), dtype='int32')"
LABEL_INPUT = ("label", (), "int", LABEL)
LABELS = np.array([0, 1, 2, 0, 1, 2], dtype="int32")
TABLE_COLUMNS = ("squared_frechet", "g_loss")  # q5 reads these of the checkpoints' table


# ----------------------------------------------------------------- q1: the generator
def _generator_output(generator: Any, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return model_output(generator, [z, labels], "calling the generator", "the generator")


def _check_q1(ns: Namespace) -> str | None:
    latent, n_classes = learner_int(ns, "LATENT_DIM"), learner_int(ns, "N_CLASSES")
    expect(n_classes >= 3, f"`N_CLASSES` is {n_classes}; there are 3 kinds of shoes.")
    make = sizes_explained(learner_value(ns, "make_generator"))
    generator = learner_model(call_learner(make), "make_generator()")
    noise = ("noise z", (latent,), "float", "keras.Input((LATENT_DIM,))")
    expect_inputs(generator, "the generator", noise, LABEL_INPUT)
    seed_weights(generator, 0)
    z = np.random.default_rng(1).normal(size=(len(LABELS), latent)).astype("float32")
    out = expect_shape(
        _generator_output(generator, z, LABELS),
        (len(LABELS), None, None, None),
        "the generator's output for 6 noise vectors",
    )
    expect_image_size(generator, out.shape[1:])
    expect_image_range(_generator_output(generator, 5.0 * z, LABELS))
    per_label = _generator_output(generator, np.repeat(z[:1], 3, axis=0), LABELS[:3])
    expect(
        np.abs(per_label - per_label[:1]).max() >= 1e-6,
        "the same noise gives the same image whatever the label: the label must enter the "
        "network (one-hot, concatenated with z before the Dense layer).",
    )
    expect(
        np.abs(out[3] - out[0]).max() >= 1e-6,
        "two different noise vectors give the same image: z must enter the network.",
    )
    types, maps = layer_types(generator), first_maps(generator)
    expect(
        "Reshape" in types and "Dense" in types,
        f"start like lab 05's decoder: a Dense layer, then layers.Reshape. {DERIVE_MAPS}",
    )
    expect(
        maps is None or maps[-1] == 64,
        f"your first maps have {maps and maps[-1]} channels; the generator starts from 64. "
        f"{DERIVE_MAPS}",
    )
    expect(
        types.count("Conv2DTranspose") == 2,
        f"the generator has {types.count('Conv2DTranspose')} Conv2DTranspose layers; it should "
        "upsample with exactly two (7 -> 14 -> 28).",
    )
    expect(
        types.count("BatchNormalization") == 2,
        f"the generator has {types.count('BatchNormalization')} BatchNormalization layers; put "
        "one after the Dense layer and one after the first Conv2DTranspose, each followed by ReLU.",
    )
    params, wanted = generator.count_params(), generator_params(latent, n_classes)
    expect(
        params in wanted,
        f"the generator has {params:,} parameters; the one described has {min(wanted):,}: check "
        "the sizes (Conv2DTranspose(32, 4, ...), Conv2DTranspose(1, 4, ...), and the Dense "
        "layer's units, one per number of the first maps).",
    )
    return (
        f"noise ({latent}) + one-hot label ({n_classes}) -> 7x7x64 -> 14x14x32 -> 28x28x1 in "
        f"[-1, 1], {params:,} parameters."
    )


q1 = Exercise(
    "The generator: lab 05's decoder, fed with noise and a label",
    _check_q1,
    hints=[
        "Work backwards from the image: each Conv2DTranspose with strides=2 and padding='same' "
        "doubles the height and width, and there are two. How large must the first maps be, "
        "and so how many units does the Dense layer need (one per number of those maps)? For "
        "the last activation: which range are the real pixels in (section 1)?",
        "layers.CategoryEncoding(N_CLASSES, output_mode='one_hot')(label) makes the one-hot "
        "vector; layers.Concatenate()([z, one_hot]) joins them. 28 / 2 / 2 = 7: "
        "Dense(7 * 7 * 64, use_bias=False), then Reshape((7, 7, 64)); after the Dense layer and "
        "after Conv2DTranspose(32, 4, strides=2, padding='same', use_bias=False): "
        "BatchNormalization() then ReLU(). The last layer: Conv2DTranspose(1, 4, strides=2, "
        "padding='same', activation='tanh'), whose outputs lie between -1 and 1, as the real "
        "pixels do.",
    ],
)


# ----------------------------------------------------------------- q2: the discriminator
def _scores(discriminator: Any, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return model_output(
        discriminator, [images, labels], "calling the discriminator", "the discriminator"
    )


def _check_q2(ns: Namespace) -> str | None:
    n_classes = learner_int(ns, "N_CLASSES")
    make = sizes_explained(learner_value(ns, "make_discriminator"))
    discriminator = learner_model(call_learner(make), "make_discriminator()")
    image = ("image", IMAGE_SHAPE, "float", "keras.Input(IMAGE_SHAPE)")
    expect_inputs(discriminator, "the discriminator", image, LABEL_INPUT)
    seed_weights(discriminator, 0)
    images = np.random.default_rng(2).uniform(-1, 1, size=(len(LABELS), *IMAGE_SHAPE))
    images = images.astype("float32")
    images[0], images[1] = -1.0, 1.0  # an all-black and an all-white image
    out = _scores(discriminator, images, LABELS)
    out = out[:, None] if out.shape == (len(LABELS),) else out
    expect_shape(out, (len(LABELS), 1), "the discriminator's output for 6 images")
    logit_please = (
        "D answers with a logit (section 2), and the losses take logits (from_logits=True): "
        "they apply the sigmoid themselves, exactly even for very confident outputs. No "
        "activation at the end."
    )
    layers = all_layers(discriminator)
    expect(
        "sigmoid" not in map(activation_name, layers),
        f"the discriminator applies a sigmoid: {logit_please}",
    )
    expect(
        out.min() < 0.0 or out.max() > 1.0,
        f"the discriminator's outputs are all between 0 and 1: {logit_please}",
    )
    per_label = _scores(discriminator, np.repeat(images[2:3], 3, axis=0), LABELS[:3]).reshape(-1)
    expect(
        np.abs(per_label - per_label[0]).max() >= 1e-6,
        "the same image gets the same score whatever the label: the discriminator must judge 'a "
        "real image of this class', so the label has to enter (the projection: "
        "Embedding(N_CLASSES, features) dotted with the features).",
    )
    expect(
        np.abs(out[2:] - out[2]).max() >= 1e-6,
        "different images get the same score: the image must enter the network.",
    )
    types = layer_types(discriminator)
    expect(
        "Conv2DTranspose" not in types,
        "the discriminator reads images: it downsamples with Conv2D(..., strides=2), it has no "
        "Conv2DTranspose.",
    )
    convs = [layer for layer in layers if type(layer).__name__ == "Conv2D"]
    expect(
        len(convs) == 2 and all(tuple(layer.strides) == (2, 2) for layer in convs),
        "the discriminator should have exactly two Conv2D layers with strides=2 (28 -> 14 -> 7), "
        "mirroring the generator.",
    )
    leaky = [la for la in layers if type(la).__name__ == "LeakyReLU"]
    expect(
        len(leaky) + sum(activation_name(la) == "leaky_relu" for la in layers) >= 2,
        "after the convolutions, a ReLU passes no gradient where it is off (for negative "
        "inputs), and the discriminator's gradient with respect to the image is all the "
        "generator learns from: put a LeakyReLU(0.2) after each convolution.",
    )
    slopes = {round(float(layer.negative_slope), 4) for layer in leaky}
    expect(
        not slopes - {0.2},
        f"the LeakyReLU layers have the slope(s) {sorted(slopes)}; use LeakyReLU(0.2), the "
        "DCGAN value (Keras' default is 0.3).",
    )
    expect(
        "Embedding" in types,
        "condition with a projection: an Embedding(N_CLASSES, features) of the label, dotted "
        "with the image's features and added to the logit.",
    )
    params, wanted = discriminator.count_params(), discriminator_params(n_classes)
    expect(
        params == wanted,
        f"the discriminator has {params:,} parameters; the one described has {wanted:,}: check "
        "the sizes (Conv2D(32, 4, ...), Conv2D(64, 4, ...), Dense(1), and the embedding). "
        f"{DERIVE_FEATURES}",
    )
    return (
        f"image -> 14x14x32 -> 7x7x64 -> {FEATURES} features -> a logit, plus the projection "
        f"on the label's embedding; {params:,} parameters."
    )


q2 = Exercise(
    "The discriminator, with a projection of the label",
    _check_q2,
    hints=[
        "Follow the sizes: two stride-2 convolutions take 28x28 to 7x7, with 64 channels at the "
        "end, and Flatten makes one vector of all those numbers; the label's embedding must be "
        "as long, for the dot product. The end: what does D answer with (section 2)? Between "
        "the layers: G learns only through D's gradient with respect to the image.",
        "layers.Embedding(N_CLASSES, 7 * 7 * 64)(label) is the label's vector, as long as the "
        "features; layers.Dot(axes=1)([embedded, features]) their dot product, shape (batch, "
        "1); layers.Add()([layers.Dense(1)(features), ...]) the logit, with no activation (the "
        "losses take logits). LeakyReLU(0.2) after each Conv2D: a ReLU passes no gradient "
        "where it is off.",
    ],
)


# ----------------------------------------------------------------- q3: the two losses
def _check_q3(ns: Namespace) -> str | None:
    d_loss, g_loss = learner_value(ns, "discriminator_loss"), learner_value(ns, "generator_loss")
    gan_losses.judge_losses(d_loss, g_loss)
    return (
        "both losses from logits: the discriminator's sums two cross-entropies, the "
        "generator's is the non-saturating -log D(G(z))."
    )


q3 = Exercise(
    "The two losses, from logits",
    _check_q3,
    hints=[
        "Both are binary cross-entropies on logits. The discriminator wants real images scored "
        "1 and generated ones 0; the generator wants its images scored 1.",
        "keras.losses.BinaryCrossentropy(from_logits=True) computes the cross-entropy of "
        "(targets, logits); tf.ones_like(logits) and tf.zeros_like(logits) make the targets.",
    ],
)


# ----------------------------------------------------------------- q4: the training step
def _check_optimizers(ns: Any) -> str:
    """The notebook's `gan`: made from the ConditionalGAN class, with its own Adam per network."""
    import keras

    cls, gan = learner_value(ns, "ConditionalGAN"), learner_value(ns, "gan")
    expect(
        isinstance(gan, cls) or type(gan).__name__ != cls.__name__,
        "`gan` was made from an earlier version of the ConditionalGAN class: run the cell that "
        "makes and compiles `gan` again.",
    )
    expect(
        isinstance(gan, cls),
        f"`gan` is a {type(gan).__name__}; make it with "
        "ConditionalGAN(make_generator(), make_discriminator(), LATENT_DIM).",
    )
    d_opt, g_opt = getattr(gan, "d_optimizer", None), getattr(gan, "g_optimizer", None)
    expect(
        d_opt is not None and g_opt is not None,
        "`gan` is not compiled yet: gan.compile(d_optimizer=..., g_optimizer=...).",
    )
    expect(
        d_opt is not g_opt,
        "gan.d_optimizer and gan.g_optimizer are the same object: an optimizer keeps state for "
        "the variables it updates (Adam: two moving averages per weight, and a step count), so "
        "each network needs its own (training would stop with 'Unknown variable').",
    )
    rate = ns.get("LEARNING_RATE")
    for name, opt in (("d_optimizer", d_opt), ("g_optimizer", g_opt)):
        expect(
            isinstance(opt, keras.optimizers.Adam),
            f"gan.{name} is a {type(opt).__name__}; use "
            "keras.optimizers.Adam(LEARNING_RATE, beta_1=0.5).",
        )
        expect(
            close(float(opt.beta_1), 0.5),
            f"gan.{name} has beta_1={float(opt.beta_1):g}; GANs train more steadily with "
            "beta_1=0.5 (a shorter memory of past gradients, since the opponent keeps changing).",
        )
        learning_rate = float(np.asarray(opt.learning_rate))
        if isinstance(rate, float):
            expect(
                close(learning_rate, rate),
                f"gan.{name} has the learning rate {learning_rate:g}; use LEARNING_RATE "
                f"({rate:g}).",
            )
    return "two Adam optimizers, one per network"


def _check_q4(ns: Namespace) -> str | None:
    how = gan_step.judge_learner_step(learner_value(ns, "ConditionalGAN"))
    return f"one step updates {how}, each with its own loss; {_check_optimizers(ns)}."


q4 = Exercise(
    "A custom train_step with two optimizers",
    _check_q4,
    needs=[q3],
    hints=[
        "Draw the noise, generate fakes for the batch's labels, score real and fake images, "
        "compute the two losses, then update each network with the gradients of its own loss "
        "and its own optimizer. Then build `gan` and compile it with two Adam optimizers.",
        "Record the forward pass under two gradient tapes opened in one `with` statement, d_tape "
        "and g_tape. Then d_tape.gradient(d_loss, self.discriminator.trainable_variables) and "
        "self.d_optimizer.apply_gradients(zip(...)); the same for the generator with g_tape, "
        "g_loss and self.g_optimizer.",
    ],
)


# ----------------------------------------------------------------- q5: the epoch (a decision)
SLACK = 1.1  # within 10% of the smallest distance: as good, given a sample's noise


def _check_q5(ns: Namespace) -> str | None:
    table, epoch = learner_value(ns, "checkpoint_scores"), learner_value(ns, "BEST_EPOCH")
    try:  # a DataFrame (or a dict of columns) indexed by the epochs, from 1
        fd, g_loss = ({int(e): float(v) for e, v in table[c].items()} for c in TABLE_COLUMNS)
    except Exception:  # noqa: BLE001 - anything but part 9's table
        fd = g_loss = {}
    expect(
        fd and np.isfinite(list(fd.values())).all(),
        f"`checkpoint_scores` should be part 9's table of the checkpoints, with the columns "
        f"{TABLE_COLUMNS}: run its cell again.",
    )
    expect(
        isinstance(epoch, Real) and not isinstance(epoch, bool) and epoch in fd,
        f"`BEST_EPOCH` is {epoch!r:.40}; it should be an epoch of the table, 1 to {max(fd)}.",
    )
    best, epoch = min(fd, key=fd.get), int(epoch)
    said = f"epoch {epoch}'s squared Fréchet distance is {fd[epoch]:.4g}" + (
        f", {fd[epoch] / fd[best]:.2f} times epoch {best}'s {fd[best]:.4g}" if epoch != best else ""
    )
    why = {  # what leads to each wrong epoch; the last one that applies is named
        min(g_loss, key=g_loss.get): "the lowest generator loss says how well G fooled the "
        "discriminator of that moment, which learns too, not how good the shoes are",
        max(fd): "the last epoch is not the best: a GAN's quality goes up and down",
        max(fd, key=fd.get): "that is the largest distance; smaller is better",
        best - 1: "np.argmin counts from 0, the epochs from 1",
    }
    expect(fd[epoch] <= SLACK * fd[best], f"{said}: {why.get(epoch, 'keep a better one')}.")
    return f"{said}: {'the smallest' if epoch == best else f'within {SLACK - 1:.0%} of the best'}."


q5 = Exercise(
    "The generator you ship: the epoch",
    _check_q5,
    hints=[
        "The losses do not measure the shoes; the squared Fréchet distance does: the smaller "
        "the better. The table's index is the epoch, from 1.",
        "`checkpoint_scores['squared_frechet'].idxmin()` is the epoch of the smallest distance.",
    ],
)

EXERCISES = (q1, q2, q3, q4, q5)
