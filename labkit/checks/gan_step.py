"""One step of GAN training, simulated: what lab 08's q4 compares a learner's ``train_step`` with.

``probe_networks`` builds a tiny conditional generator and discriminator (seeded weights) whose
first layer logs every call: which inputs, which ``training`` flag. After the learner's
``train_step`` has run once on them, ``Simulator`` recomputes that step with plain SGD on twins
of the same networks, from the same noise the learner drew: the right step (both networks from
one forward pass, the discriminator first, or the generator first) and each classic mistake of
``STEP_VARIANTS``; ``same_step`` says which one the learner's weights match, and ``judge_step``
turns that into the verdict (``check_calls`` first judges how the networks were called).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labkit.checks.answers import close, expect
from labkit.checks.exercise import Incorrect
from labkit.checks.learner_code import call_learner
from labkit.checks.models import seed_weights
from labkit.checks.values import as_scalar, learner_value
from labkit.errors import first_line

IMAGE_SHAPE = (28, 28, 1)

PROBE_LATENT, PROBE_BATCH, PROBE_HIDDEN = 8, 32, 8
D_RATE, G_RATE = 0.1, 0.03  # the check's SGD learning rates: different, to tell them apart


@dataclass
class Call:
    """One call of a probe network during the learner's train_step."""

    network: str  # "G" or "D"
    training: Any
    inputs: list[np.ndarray] = field(default_factory=list)


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


@dataclass
class _Step:
    """The losses of one forward pass and their gradients for both networks."""

    d_loss: float
    g_loss: float
    d_by_d: list  # d(d_loss)/d(discriminator weights)
    g_by_d: list  # d(d_loss)/d(generator weights)
    d_by_g: list  # d(g_loss)/d(discriminator weights)
    g_by_g: list  # d(g_loss)/d(generator weights)


class Simulator:
    """Steps of SGD on twins of the probe networks, for the right train_step and its mistakes."""

    def __init__(self, real: np.ndarray, labels: np.ndarray) -> None:
        self.log: list[Call] = []
        self.generator, self.discriminator = probe_networks(self.log)
        self.real, self.labels = real, labels
        self.done: dict[bytes, _Step] = {}  # the candidates share many forward passes

    def forward(
        self,
        g_weights: list,
        d_weights: list,
        z: np.ndarray,
        d_variant: str = "",
        g_variant: str = "",
    ) -> _Step:
        import tensorflow as tf

        key = hashlib.blake2b(f"{d_variant}/{g_variant}".encode())
        for array in (*g_weights, *d_weights, z):
            key.update(np.ascontiguousarray(array).tobytes())
        if key.digest() in self.done:
            return self.done[key.digest()]
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        for var, value in [
            *zip(g_vars, g_weights, strict=True),
            *zip(d_vars, d_weights, strict=True),
        ]:
            var.assign(value)
        real, labels = tf.constant(self.real), tf.constant(self.labels)
        with tf.GradientTape(persistent=True) as tape:
            fake = self.generator([tf.constant(z), labels], training=True)
            real_logits = self.discriminator([real, labels], training=True)
            fake_logits = self.discriminator([fake, labels], training=True)
            d_loss, g_loss = _tf_losses(real_logits, fake_logits, d_variant, g_variant)
        grads = [
            tape.gradient(loss, variables, unconnected_gradients="zero")
            for loss in (d_loss, g_loss)
            for variables in (d_vars, g_vars)
        ]
        del tape
        self.log.clear()
        as_arrays = [[np.asarray(tf.convert_to_tensor(g)) for g in group] for group in grads]
        self.done[key.digest()] = _Step(float(d_loss), float(g_loss), *as_arrays)
        return self.done[key.digest()]


def _tf_losses(real_logits: Any, fake_logits: Any, d_variant: str, g_variant: str) -> tuple:
    import tensorflow as tf

    def bce(target: float, logits: Any) -> Any:
        return tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(tf.fill(tf.shape(logits), target), logits)
        )

    d_loss = bce(1.0, real_logits) + bce(0.0, fake_logits)
    if d_variant == "swapped":
        d_loss = bce(0.0, real_logits) + bce(1.0, fake_logits)
    g_loss = bce(1.0, fake_logits)
    if g_variant == "saturating":
        g_loss = -bce(0.0, fake_logits)
    elif g_variant == "label 0":
        g_loss = bce(0.0, fake_logits)
    return d_loss, g_loss


def _minus(weights: list, *terms: tuple[float, list]) -> list:
    out = [w.copy() for w in weights]
    for rate, grads in terms:
        if rate:
            out = [w - rate * g for w, g in zip(out, grads, strict=True)]
    return out


# The right step and the classic mistakes, as (message, d_variant, g_variant, rates): the rates
# are (a, b, c, e) of D -= a * d(d_loss)/dD + b * d(g_loss)/dD, G -= c * d(g_loss)/dG + e *
# d(d_loss)/dG. None as the message: a right step.
_RIGHT = (D_RATE, 0.0, G_RATE, 0.0)
STEP_VARIANTS: list[tuple[str | None, str, str, tuple[float, float, float, float]]] = [
    (None, "", "", _RIGHT),
    (
        "the discriminator's weights did not change: apply its gradients with "
        "self.d_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_variables)).",
        "",
        "",
        (0.0, 0.0, G_RATE, 0.0),
    ),
    (
        "the generator's weights did not change: apply its gradients with "
        "self.g_optimizer.apply_gradients(zip(gradients, self.generator.trainable_variables)).",
        "",
        "",
        (D_RATE, 0.0, 0.0, 0.0),
    ),
    (
        "the optimizers are swapped: the discriminator was updated by self.g_optimizer and the "
        "generator by self.d_optimizer.",
        "",
        "",
        (G_RATE, 0.0, D_RATE, 0.0),
    ),
    (
        "the discriminator was updated by self.g_optimizer: each network has its own optimizer "
        "(self.d_optimizer for the discriminator).",
        "",
        "",
        (G_RATE, 0.0, G_RATE, 0.0),
    ),
    (
        "the generator was updated by self.d_optimizer: each network has its own optimizer "
        "(self.g_optimizer for the generator).",
        "",
        "",
        (D_RATE, 0.0, D_RATE, 0.0),
    ),
    (
        "the generator's step also changed the discriminator (with the generator's loss): take the "
        "generator's gradients with respect to self.generator.trainable_variables only, so that the "
        "discriminator is never trained to be fooled.",
        "",
        "",
        (D_RATE, G_RATE, G_RATE, 0.0),
    ),
    (
        "the discriminator's step also changed the generator (with the discriminator's loss): take "
        "the discriminator's gradients with respect to self.discriminator.trainable_variables only.",
        "",
        "",
        (D_RATE, 0.0, G_RATE, D_RATE),
    ),
    (
        "the discriminator learned with the labels swapped (real images must get 1, generated ones "
        "0): pass real_logits first to discriminator_loss(real_logits, fake_logits).",
        "swapped",
        "",
        _RIGHT,
    ),
    (
        "the generator minimised the saturating loss log(1 - D(G(z))): use generator_loss, the "
        "non-saturating -log D(G(z)).",
        "",
        "saturating",
        _RIGHT,
    ),
    (
        "the generator learned to make the discriminator say 'fake' (label 0): use "
        "generator_loss(fake_logits), which asks for 'real'.",
        "",
        "label 0",
        _RIGHT,
    ),
]


def candidate(
    sim: Simulator,
    start: tuple[list, list],
    order: str,
    z_d: np.ndarray,
    z_g: np.ndarray,
    d_variant: str,
    g_variant: str,
    rates: tuple[float, float, float, float],
) -> tuple[list, list, float, float]:
    """(generator weights, discriminator weights, d_loss, g_loss) after one step: "together" (one
    forward pass, both updates), "D first" (then the generator against the updated discriminator)
    or "G first"."""
    a, b, c, e = rates
    g0, d0 = start
    if order == "together":
        s = sim.forward(g0, d0, z_d, d_variant, g_variant)
        return (
            _minus(g0, (c, s.g_by_g), (e, s.g_by_d)),
            _minus(d0, (a, s.d_by_d), (b, s.d_by_g)),
            s.d_loss,
            s.g_loss,
        )
    if order == "D first":
        s = sim.forward(g0, d0, z_d, d_variant, g_variant)
        d1, g_mid = _minus(d0, (a, s.d_by_d)), _minus(g0, (e, s.g_by_d))
        t = sim.forward(g_mid, d1, z_g, d_variant, g_variant)
        return _minus(g_mid, (c, t.g_by_g)), _minus(d1, (b, t.d_by_g)), s.d_loss, t.g_loss
    s = sim.forward(g0, d0, z_g, d_variant, g_variant)
    g1, d_mid = _minus(g0, (c, s.g_by_g)), _minus(d0, (b, s.d_by_g))
    t = sim.forward(g1, d_mid, z_d, d_variant, g_variant)
    return _minus(g1, (e, t.g_by_d)), _minus(d_mid, (a, t.d_by_d)), t.d_loss, s.g_loss


def same_step(before: list, after: list, expected: list) -> bool:
    """Whether the weights moved as expected: the difference of the moves is small relative to
    the expected move (or both are ~0)."""
    moved = np.concatenate([(x - w).ravel() for x, w in zip(after, before, strict=True)])
    want = np.concatenate([(x - w).ravel() for x, w in zip(expected, before, strict=True)])
    scale = max(float(np.linalg.norm(want)), 1e-7)
    return float(np.linalg.norm(moved - want)) <= 1e-3 * scale


def orders(calls: list[Call]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The step orders the logged calls allow, with the noise of the discriminator's step and of
    the generator's step."""
    zs = [call.inputs[0] for call in calls if call.network == "G"]
    if len(zs) == 1:
        return [("together", zs[0], zs[0]), ("D first", zs[0], zs[0])]
    return [
        ("D first", zs[0], zs[1]),
        ("G first", zs[1], zs[0]),
        ("together", zs[0], zs[0]),
        ("together", zs[1], zs[1]),
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
    if not g_calls:
        raise Incorrect(
            "train_step never called self.generator: generate images from noise "
            "and the batch's labels."
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
    if not isinstance(out, dict) or not {"d_loss", "g_loss"} <= set(out):
        raise Incorrect(
            "train_step should return a dictionary {'d_loss': d_loss, 'g_loss': "
            f"g_loss}}; it returned {type(out).__name__} "
            f"{sorted(out) if isinstance(out, dict) else ''}."
        )
    return (
        as_scalar(out["d_loss"], "the returned d_loss"),
        as_scalar(out["g_loss"], "the returned g_loss"),
    )


HOW = {
    "together": "both networks from one forward pass (as in the TensorFlow DCGAN tutorial)",
    "D first": "the discriminator, then the generator against it",
    "G first": "the generator, then the discriminator",
}


def judge_step(
    calls: list[Call],
    start: tuple[list, list],
    end: tuple[list, list],
    losses: tuple[float, float],
    real: np.ndarray,
    labels: np.ndarray,
) -> str:
    """How the learner's step updated the networks (``HOW``), when it is one of the right steps
    and returned its losses; Incorrect naming the classic mistake it matches otherwise."""
    (g_start, d_start), (g_end, d_end) = start, end
    sim = Simulator(real, labels)
    for message, d_variant, g_variant, rates in STEP_VARIANTS:
        for order, z_d, z_g in orders(calls):
            g_want, d_want, *losses_want = candidate(
                sim, start, order, z_d, z_g, d_variant, g_variant, rates
            )
            if not (same_step(g_start, g_end, g_want) and same_step(d_start, d_end, d_want)):
                continue
            expect(message is None, message or "")
            for name, got, want in zip(("d_loss", "g_loss"), losses, losses_want, strict=True):
                expect(
                    close(got, want, rtol=1e-3),
                    f"the step is right, but the returned {name} is {got:.5g} where the loss of "
                    f"this step is {want:.5g}: return the losses you took the gradients of.",
                )
            return HOW[order]
    for who, before, after in (("discriminator", d_start, d_end), ("generator", g_start, g_end)):
        expect(
            any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True)),
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
    networks = (probes.generator, probes.discriminator)
    start = tuple([np.asarray(v) for v in net.trainable_variables] for net in networks)
    gan = call_learner(cls, *networks, PROBE_LATENT)
    call_learner(
        gan.compile,
        d_optimizer=keras.optimizers.SGD(D_RATE),
        g_optimizer=keras.optimizers.SGD(G_RATE),
    )
    out = run_learner_step(gan, (tf.constant(real), tf.constant(labels)), probes.log)
    calls = list(probes.log)
    check_calls(calls, real, labels)
    end = tuple([np.asarray(v) for v in net.trainable_variables] for net in networks)
    return judge_step(calls, start, end, returned_losses(out), real, labels)


def check_optimizers(ns: Any) -> str:
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
