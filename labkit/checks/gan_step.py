"""One step of GAN training, simulated: what lab 08's q4 compares a learner's ``train_step`` with.

``probe_networks`` are a tiny conditional generator and discriminator (seeded weights) that log
every call (inputs, ``training`` flag). After the learner's ``train_step`` has run once on them,
``Simulator`` recomputes that step with plain SGD on their twins, from the noise the learner drew:
each right order (``HOW``) and each of ``STEP_MISTAKES``; ``judge_step`` names the one whose
weights (``same_step``) the learner's match, after ``check_calls`` judged the calls.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.checks.answers import Mistake, close, expect
from labkit.checks.exercise import Incorrect
from labkit.checks.gan_losses import D_LOSSES, G_LOSSES
from labkit.checks.learner_code import call_learner
from labkit.checks.models import seed_weights
from labkit.checks.values import as_scalar
from labkit.errors import first_line

IMAGE_SHAPE = (28, 28, 1)

PROBE_LATENT, PROBE_BATCH, PROBE_HIDDEN = 8, 32, 8
D_RATE, G_RATE = 0.1, 0.03  # the check's SGD learning rates: different, to tell them apart


@dataclass
class Call:
    """One call of a probe network during the learner's train_step."""

    network: str  # "G" or "D"
    training: Any
    inputs: list[np.ndarray]


def probe_networks(log: list[Call]) -> tuple[Any, Any]:
    """A tiny conditional generator and discriminator that log every call (eager only)."""
    import keras
    import tensorflow as tf
    from keras import layers

    class Spy(layers.Layer):
        def __init__(self, network: str, **kwargs) -> None:
            super().__init__(**kwargs)
            self.network = network

        def call(self, inputs, training=None):
            if tf.executing_eagerly():
                log.append(Call(self.network, training, [np.asarray(x) for x in inputs]))
            return inputs

    z_in, label_in = (
        keras.Input((PROBE_LATENT,), name="z"),
        keras.Input((), dtype="int32", name="label"),
    )
    z, label = Spy("G")([z_in, label_in])
    x = layers.Concatenate()([z, layers.CategoryEncoding(3, output_mode="one_hot")(label)])
    x = layers.ReLU()(layers.BatchNormalization()(layers.Dense(PROBE_HIDDEN, use_bias=False)(x)))
    x = layers.Dense(math.prod(IMAGE_SHAPE), activation="tanh")(x)
    generator = keras.Model([z_in, label_in], layers.Reshape(IMAGE_SHAPE)(x), name="probe_g")

    image_in, label_in = (
        keras.Input(IMAGE_SHAPE, name="image"),
        keras.Input((), dtype="int32", name="label"),
    )
    image, label = Spy("D")([image_in, label_in])
    h = layers.LeakyReLU(0.2)(layers.Dense(PROBE_HIDDEN)(layers.Flatten()(image)))
    projection = layers.Dot(axes=1)([layers.Embedding(3, PROBE_HIDDEN)(label), h])
    logit = layers.Add()([layers.Dense(1)(h), projection])
    discriminator = keras.Model([image_in, label_in], logit, name="probe_d")
    seed_weights(generator, 3)
    seed_weights(discriminator, 4)
    return generator, discriminator


def probe_batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    images = rng.uniform(-1, 1, size=(PROBE_BATCH, *IMAGE_SHAPE)).astype("float32")
    return images, (np.arange(PROBE_BATCH) % 3).astype("int32")


class Simulator:
    """Steps of SGD on twins of the probe networks, for the right train_step and its mistakes."""

    def __init__(self, real: np.ndarray, labels: np.ndarray) -> None:
        self.log: list[Call] = []
        self.networks = dict(zip("GD", probe_networks(self.log), strict=True))
        self.real, self.labels = real, labels
        self.done: dict[bytes, tuple] = {}  # the candidates share many forward passes

    def forward(self, weights: dict[str, list], z: np.ndarray, variant: str) -> tuple[dict, dict]:
        """One forward pass from these weights ("G", "D"): the losses ("d", "g") and their
        gradients for each network ("dD": d_loss for the discriminator, "dG", "gD", "gG")."""
        import tensorflow as tf

        key = hashlib.blake2b(variant.encode())
        for array in (*weights["G"], *weights["D"], z):
            key.update(np.ascontiguousarray(array).tobytes())
        if key.digest() not in self.done:
            nets = {k: network.trainable_variables for k, network in self.networks.items()}
            for net, variables in nets.items():
                for var, value in zip(variables, weights[net], strict=True):
                    var.assign(value)
            real, labels = tf.constant(self.real), tf.constant(self.labels)
            with tf.GradientTape(persistent=True) as tape:
                fake = self.networks["G"]([tf.constant(z), labels], training=True)
                real_logits = self.networks["D"]([real, labels], training=True)
                fake_logits = self.networks["D"]([fake, labels], training=True)
                losses = {  # right, or with the loss function that ``variant`` names wrong
                    "d": D_LOSSES.get(variant, D_LOSSES[""])(_tf_bce, real_logits, fake_logits),
                    "g": G_LOSSES.get(variant, G_LOSSES[""])(_tf_bce, fake_logits),
                }
            grads = {
                loss + net: [
                    np.asarray(tf.convert_to_tensor(g))
                    for g in tape.gradient(losses[loss], nets[net], unconnected_gradients="zero")
                ]
                for loss in "dg"
                for net in "DG"
            }
            del tape
            self.log.clear()
            self.done[key.digest()] = ({k: float(v) for k, v in losses.items()}, grads)
        return self.done[key.digest()]

    def step(self, start: dict, order: str, zs: dict, step: Any) -> tuple[dict, dict]:
        """The weights ("G", "D") and the losses ("d", "g") after one ``step`` (rates, or a
        wrong loss function's name) in this ``order`` (``HOW``), each pass on its noise ``zs``."""
        variant, rates = (step, RIGHT) if isinstance(step, str) else ("", step)
        weights, losses = dict(start), {}
        for losses_of_pass in order.split(","):
            values, grads = self.forward(weights, zs[losses_of_pass[0]], variant)
            for loss in losses_of_pass:
                losses[loss] = values[loss]
                for net in "GD":
                    rate = rates.get(loss + net, 0.0)
                    moved = zip(weights[net], grads[loss + net], strict=True)
                    weights[net] = [w - rate * g for w, g in moved]
        return weights, losses


def _tf_bce(target: float, logits: Any) -> Any:
    import tensorflow as tf

    targets = tf.fill(tf.shape(logits), target)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(targets, logits))


# A step is its SGD rates, keyed by loss and network ("dD": D -= rate * d(d_loss)/dD; "gG",
# and "gD", "dG" for a loss applied to the other network), or the name of a wrong loss function
# (stepped with the right rates). The classic mistakes, each with its step:
RIGHT = {"dD": D_RATE, "gG": G_RATE}
STEP_MISTAKES = [
    Mistake(
        "the discriminator's weights did not change: apply its gradients with "
        "self.d_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_variables)).",
        {"gG": G_RATE},
    ),
    Mistake(
        "the generator's weights did not change: apply its gradients with "
        "self.g_optimizer.apply_gradients(zip(gradients, self.generator.trainable_variables)).",
        {"dD": D_RATE},
    ),
    Mistake(
        "the optimizers are swapped: the discriminator was updated by self.g_optimizer and the "
        "generator by self.d_optimizer.",
        {"dD": G_RATE, "gG": D_RATE},
    ),
    Mistake(
        "the discriminator was updated by self.g_optimizer: each network has its own optimizer "
        "(self.d_optimizer for the discriminator).",
        {"dD": G_RATE, "gG": G_RATE},
    ),
    Mistake(
        "the generator was updated by self.d_optimizer: each network has its own optimizer "
        "(self.g_optimizer for the generator).",
        {"dD": D_RATE, "gG": D_RATE},
    ),
    Mistake(
        "the generator's step also changed the discriminator (with the generator's loss): take the "
        "generator's gradients with respect to self.generator.trainable_variables only, so that the "
        "discriminator is never trained to be fooled.",
        {**RIGHT, "gD": G_RATE},
    ),
    Mistake(
        "the discriminator's step also changed the generator (with the discriminator's loss): take "
        "the discriminator's gradients with respect to self.discriminator.trainable_variables only.",
        {**RIGHT, "dG": D_RATE},
    ),
    Mistake(
        "the discriminator learned with the labels swapped (real images must get 1, generated ones "
        "0): pass real_logits first to discriminator_loss(real_logits, fake_logits).",
        "swapped",
    ),
    Mistake(
        "the generator minimised the saturating loss log(1 - D(G(z))): use generator_loss, the "
        "non-saturating -log D(G(z)).",
        "saturating",
    ),
    Mistake(
        "the generator learned to make the discriminator say 'fake' (label 0): use "
        "generator_loss(fake_logits), which asks for 'real'.",
        "label 0",
    ),
]
# The orders of a right step: the losses of each forward pass, in turn.
HOW = {
    "dg": "both networks from one forward pass (as in the TensorFlow DCGAN tutorial)",
    "d,g": "the discriminator, then the generator against it",
    "g,d": "the generator, then the discriminator",
}


def same_step(before: list, after: list, expected: list) -> bool:
    """Whether the weights moved as expected: the difference of the moves is small relative to
    the expected move (or both are ~0)."""
    moved = np.concatenate([(x - w).ravel() for x, w in zip(after, before, strict=True)])
    want = np.concatenate([(x - w).ravel() for x, w in zip(expected, before, strict=True)])
    scale = max(float(np.linalg.norm(want)), 1e-7)
    return float(np.linalg.norm(moved - want)) <= 1e-3 * scale


def orders(calls: list[Call]) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The step orders the logged calls allow, with the noise of each loss's pass."""
    zs = [call.inputs[0] for call in calls if call.network == "G"]
    if len(zs) == 1:
        return [(order, {"d": zs[0], "g": zs[0]}) for order in ("dg", "d,g")]
    return [
        ("d,g", {"d": zs[0], "g": zs[1]}),
        ("g,d", {"d": zs[1], "g": zs[0]}),
        ("dg", {"d": zs[0], "g": zs[0]}),
        ("dg", {"d": zs[1], "g": zs[1]}),
    ]


def sees_real(call: Call, real: np.ndarray) -> bool:
    images = call.inputs[0]
    return any(
        np.array_equal(images[i : i + len(real)], real)
        for i in range(0, len(images) - len(real) + 1, len(real))
    )


# ----------------------------------------------------------------- judging the learner's step
def check_noise(calls: list[Call], batch: int) -> None:
    for call in calls:
        if call.network == "G" and call.inputs[0].shape != (batch, PROBE_LATENT):
            raise Incorrect(
                f"the noise z had shape {call.inputs[0].shape}; it should be (batch size, "
                f"self.latent_dim) = {(batch, PROBE_LATENT)}: take the batch size from the "
                "real images, tf.shape(real_images)[0], since the last batch can be smaller."
            )


def check_calls(calls: list[Call], real: np.ndarray, labels: np.ndarray) -> None:
    g_calls = [c for c in calls if c.network == "G"]
    d_calls = [c for c in calls if c.network == "D"]
    expect(
        g_calls,
        "train_step never called self.generator: generate images from noise and the batch's labels.",
    )
    check_noise(g_calls, len(real))
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
    if not any(sees_real(c, real) for c in d_calls):
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


def run_learner_step(gan: Any, data: tuple, log: list[Call]) -> Any:
    """The learner's ``gan.train_step(data)``, run eagerly (``call_learner``), so that a
    ``@tf.function`` step still logs its calls."""
    try:
        return call_learner(gan.train_step, data)
    except Incorrect as exc:
        check_noise(log, len(data[0]))  # a z of the wrong shape is the usual cause
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


def returned_losses(out: Any) -> tuple[float, float]:
    expect(
        isinstance(out, dict) and {"d_loss", "g_loss"} <= set(out),
        "train_step should return a dictionary {'d_loss': d_loss, 'g_loss': g_loss}; it returned "
        f"{type(out).__name__} {sorted(out) if isinstance(out, dict) else ''}.",
    )
    return tuple(as_scalar(out[name], f"the returned {name}") for name in ("d_loss", "g_loss"))


def judge_step(
    calls: list[Call],
    start: dict[str, list],
    end: dict[str, list],
    losses: tuple[float, float],
    real: np.ndarray,
    labels: np.ndarray,
) -> str:
    """How the learner's step updated the networks (``HOW``), when it is one of the right steps
    and returned its losses; Incorrect naming the classic mistake it matches otherwise."""
    sim = Simulator(real, labels)
    for mistake in [Mistake("", RIGHT), *STEP_MISTAKES]:
        for order, zs in orders(calls):
            want, losses_want = sim.step(start, order, zs, mistake.value)
            if not all(same_step(start[net], end[net], want[net]) for net in "DG"):
                continue
            expect(not mistake.message, mistake.message)
            for name, got in zip(("d_loss", "g_loss"), losses, strict=True):
                expect(
                    close(got, losses_want[name[0]], rtol=1e-3),
                    f"the step is right, but the returned {name} is {got:.5g} where the loss of "
                    f"this step is {losses_want[name[0]]:.5g}: return the losses you took the "
                    "gradients of.",
                )
            return HOW[order]
    for net, who in (("D", "discriminator"), ("G", "generator")):
        expect(
            any(not np.array_equal(a, b) for a, b in zip(start[net], end[net], strict=True)),
            f"the {who}'s weights did not change in train_step: compute its gradients with its "
            "tape and apply them with its optimizer.",
        )
    raise Incorrect(
        "after one step, the weights are not where one step of SGD on the two losses puts them: "
        "the discriminator's gradients of d_loss for self.discriminator.trainable_variables with "
        "self.d_optimizer, the generator's gradients of g_loss for "
        "self.generator.trainable_variables with self.g_optimizer."
    )


def judge_learner_step(cls: Any) -> str:
    """Run the learner's ``ConditionalGAN.train_step`` once on the probe networks, with SGD; how
    it updated them (``HOW``) when it is a right step, Incorrect naming its mistake otherwise."""
    import keras
    import tensorflow as tf

    expect(
        isinstance(cls, type) and issubclass(cls, keras.Model),
        "`ConditionalGAN` should be the class defined above (a keras.Model).",
    )
    real, labels = probe_batch()
    probes = Simulator(real, labels)  # the learner's step trains these networks
    networks = probes.networks

    def weights() -> dict[str, list]:
        return {k: [np.asarray(v) for v in net.trainable_variables] for k, net in networks.items()}

    start = weights()
    gan = call_learner(cls, networks["G"], networks["D"], PROBE_LATENT)
    call_learner(
        gan.compile,
        d_optimizer=keras.optimizers.SGD(D_RATE),
        g_optimizer=keras.optimizers.SGD(G_RATE),
    )
    out = run_learner_step(gan, (tf.constant(real), tf.constant(labels)), probes.log)
    calls = list(probes.log)
    check_calls(calls, real, labels)
    return judge_step(calls, start, weights(), returned_losses(out), real, labels)
