"""Checks for lab 05: autoencoders (dense, convolutional, denoising; anomaly scores). The models
are read layer by layer and run on probes; q3 judges noise by its statistics, q4 the score by an
``Answer`` with its declared mistakes (a sum, a root, absolute values)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import close, expect, expect_close, expect_finite
from labkit.checks.autoencoders import (
    FALSE_ALARM_BUDGET,
    IMAGE_SHAPE,
    best_threshold,
    half_model,
    images,
    score_answer,
)
from labkit.checks.exercise import Exercise, Incorrect
from labkit.checks.learner_code import call_learner, model_output, traced_op_types
from labkit.checks.models import activation_name, input_shape, layers_of, learner_model
from labkit.checks.values import (
    Namespace,
    as_numpy,
    as_scalar,
    describe,
    expect_shape,
    learner_function,
    learner_value,
    returned,
)

LAB = "05_autoencoders"
DENSE_PARAMS_64 = 784 * 64 + 64 + 64 * 784 + 784  # 101,200: Dense(64) + Dense(784)


def _sequential(value: Any, what: str) -> Any:
    """A keras.Sequential started with keras.Input, as the exercises build them."""
    import keras

    model = learner_model(value, what)
    expect(
        isinstance(model, keras.Sequential),
        f"{what} is a functional model; the exercise asks for keras.Sequential.",
    )
    return model


def _run(model: Any, x: np.ndarray, what: str) -> np.ndarray:
    """The model's output for ``x``, as a finite NumPy array."""
    return model_output(model, x, f"{what}, on input of shape {x.shape},", f"the output of {what}")


def _check_range(out: np.ndarray, what: str) -> None:
    expect(
        out.min() >= 0 and out.max() <= 1,
        f"{what} has values from {out.min():.3g} to {out.max():.3g}; pixels are in [0, 1]. End "
        "the decoder with a sigmoid activation.",
    )


# ----------------------------------------------------------------- q1: the dense autoencoder
def _check_q1(ns: Namespace) -> str | None:
    import keras

    make = learner_function(ns, "make_dense_autoencoder")
    out = returned(
        call_learner(make, 64), 2, "make_dense_autoencoder", "models: (encoder, decoder)"
    )
    encoder, decoder = _sequential(out[0], "the encoder"), _sequential(out[1], "the decoder")
    shape = input_shape(encoder, "the encoder")
    expect(
        shape == (None, *IMAGE_SHAPE),
        f"the encoder's input shape is {shape}; start it with keras.Input((28, 28, 1)).",
    )
    shape = input_shape(decoder, "the decoder")
    expect(
        shape == (None, 64),
        f"make_dense_autoencoder(64)'s decoder has input shape {shape}; start it with "
        "keras.Input((code_size,)).",
    )
    expect(
        layers_of(encoder, keras.layers.Flatten),
        "the encoder has no Flatten layer: Dense takes vectors, not images.",
    )
    x = images()
    code = _run(encoder, x, "the encoder")
    expect(
        code.shape[1:] != (784,),
        "the encoder outputs 784 numbers per image: the code is the output of Dense(code_size), "
        "so the encoder ends there.",
    )
    expect_shape(code, (len(x), 64), "the encoder's output (the code) for 4 images")
    expect(
        (code >= 0).all(),
        "the code has negative values: give the encoder's Dense layer the ReLU activation, as "
        "in the TensorFlow tutorial.",
    )
    big = np.random.default_rng(1).normal(scale=50.0, size=(len(x), 64)).astype("float32")
    recon = _run(decoder, big, "the decoder")
    expect(
        recon.shape[1:] != (784,),
        "the decoder outputs flat vectors of 784 numbers: end it with layers.Reshape((28, 28, "
        "1)) so that it gives back images.",
    )
    expect_shape(recon, (len(x), *IMAGE_SHAPE), "the decoder's output for 4 codes")
    _check_range(recon, "the decoder's output for large codes")
    params = encoder.count_params() + decoder.count_params()
    expect(
        params == DENSE_PARAMS_64,
        f"the encoder and decoder have {params:,} parameters together; the tutorial's model "
        f"(Flatten, Dense(64), Dense(784), Reshape) has {DENSE_PARAMS_64:,}. Use exactly those "
        "layers.",
    )
    small = returned(call_learner(make, 8), 2, "make_dense_autoencoder(8)", "models too")
    code8 = _run(_sequential(small[0], "make_dense_autoencoder(8)[0]"), x, "the encoder")
    expect(
        code8.shape == (len(x), 8),
        f"make_dense_autoencoder(8) gives codes of shape {code8.shape}; use the argument "
        "code_size for the size of the code.",
    )
    return (
        f"784 pixels -> 64 numbers -> 784 pixels, {DENSE_PARAMS_64:,} parameters; "
        "the code is 12x smaller than the image."
    )


q1 = Exercise(
    "A dense autoencoder",
    _check_q1,
    hints=[
        "The encoder flattens the image and squeezes it into code_size numbers; the decoder "
        "blows them back up to 784 pixels and gives them the image's shape again.",
        "Encoder: Input((28, 28, 1)), Flatten(), Dense(code_size, activation='relu'). Decoder: "
        "Input((code_size,)), Dense(784, activation='sigmoid'), Reshape((28, 28, 1)).",
    ],
)


# ----------------------------------------------------------------- q2: the conv decoder
def _check_q2(ns: Namespace) -> str | None:
    import keras

    encoder = learner_model(learner_value(ns, "conv_encoder"), "`conv_encoder`")
    make = learner_function(ns, "make_conv_decoder")
    decoder = _sequential(call_learner(make), "make_conv_decoder()")
    code_shape = tuple(encoder.outputs[0].shape[1:]) if len(encoder.outputs) == 1 else None
    shape = input_shape(decoder, "the decoder")
    if code_shape is None or shape[1:] != code_shape:
        raise Incorrect(
            f"the decoder's input shape is {shape}; the encoder's codes have shape "
            f"{code_shape}: start with keras.Input((CODE_SIZE,))."
        )
    x = images()
    code = _run(encoder, x, "conv_encoder")
    recon = _run(decoder, code, "the decoder, on the encoder's codes")
    if recon.shape[1:] != IMAGE_SHAPE:
        raise Incorrect(
            f"the decoder turns codes of shape {code_shape} into shape {recon.shape[1:]}; it "
            "should give back (28, 28, 1) images. Each Conv2DTranspose with strides=2 and "
            "padding='same' doubles height and width, and the last layer needs 1 filter."
        )
    ups = layers_of(decoder, keras.layers.Conv2DTranspose)
    if not ups:
        raise Incorrect(
            "the decoder has no Conv2DTranspose layer: upsample with "
            "layers.Conv2DTranspose(filters, 4, strides=2, padding='same')."
        )
    dense = layers_of(decoder, keras.layers.Dense)
    if len(dense) != 1 or activation_name(dense[0]) != "relu":
        raise Incorrect(
            "the decoder starts with one Dense layer with the ReLU activation, "
            "Dense(7 * 7 * 32, activation='relu')."
        )
    reshapes = layers_of(decoder, keras.layers.Reshape)
    if not reshapes or tuple(reshapes[0].target_shape) != (7, 7, 32):
        raise Incorrect(
            "reshape the Dense layer's output to 7x7 feature maps with 32 channels: "
            "layers.Reshape((7, 7, 32))."
        )
    settings = [(u.filters, tuple(u.kernel_size), tuple(u.strides), u.padding) for u in ups]
    wanted = [(16, (4, 4), (2, 2), "same"), (1, (4, 4), (2, 2), "same")]
    if settings != wanted:
        found = "; ".join(
            f"{f} filters, kernel {k[0]}x{k[1]}, strides {s[0]}, padding '{p}'"
            for f, k, s, p in settings
        )
        raise Incorrect(
            f"the Conv2DTranspose layers have {found}. The exercise asks for two, both with 4x4 "
            "kernels, strides=2 and padding='same': 16 filters (7 -> 14), then 1 filter "
            "(14 -> 28)."
        )
    if [activation_name(u) for u in ups] != ["relu", "sigmoid"]:
        raise Incorrect(
            "the first Conv2DTranspose has the ReLU activation, the last one the sigmoid, which "
            "keeps the pixels in [0, 1]."
        )
    if decoder.layers[-1] is not ups[-1]:
        raise Incorrect("the decoder ends with the second Conv2DTranspose, which makes the image.")
    scaled = _run(decoder, (code * 50.0 + 5.0).astype("float32"), "the decoder")
    _check_range(scaled, "the decoder's output for large codes")
    return (
        f"codes of shape {code_shape} upsampled to (None, 28, 28, 1) with two transposed "
        "convolutions."
    )


q2 = Exercise(
    "A convolutional decoder with Conv2DTranspose",
    _check_q2,
    hints=[
        "Mirror the encoder: where it goes 28 -> 14 -> 7 with stride-2 convolutions, the "
        "decoder goes 7 -> 14 -> 28 with stride-2 transposed convolutions.",
        "Start from keras.Input((CODE_SIZE,)); Dense(7 * 7 * 32, activation='relu') and "
        "Reshape((7, 7, 32)) make feature maps again; then Conv2DTranspose(16, 4, strides=2, "
        "padding='same', activation='relu') and Conv2DTranspose(1, 4, strides=2, "
        "padding='same', activation='sigmoid').",
    ],
)


# ----------------------------------------------------------------- q3: the noise function
def _check_q3(ns: Namespace) -> str | None:
    import tensorflow as tf

    add_noise = learner_function(ns, "add_noise")
    grey = tf.fill((64, *IMAGE_SHAPE), 0.5)
    what = "add_noise(images, 0.1) for 64 images"
    noisy = expect_shape(call_learner(add_noise, grey, 0.1), (64, *IMAGE_SHAPE), what)
    expect_finite(noisy, what)
    diff = noisy.astype(np.float64) - 0.5
    for same, message in (
        (0 * diff, "add_noise returned the images unchanged: add random Gaussian noise."),
        (diff[:1], "every image got the same noise: draw noise of the batch's full shape."),
        (
            diff[:, :1, :1, :],
            "every pixel of an image got the same noise: draw one number per pixel, noise of "
            "the batch's full shape (tf.shape(images)).",
        ),
    ):
        expect(not close(diff, np.broadcast_to(same, diff.shape)), message)
    expect(
        abs(diff.mean()) <= 0.01,
        f"the noise has mean {diff.mean():.3f}; Gaussian noise has mean 0 (tf.random.normal "
        "draws it around 0 by default).",
    )
    expect(
        0.09 < diff.std() < 0.11,
        f"with stddev=0.1 the noise has standard deviation {diff.std():.3f}; pass stddev to "
        "tf.random.normal.",
    )
    dark = call_learner(add_noise, tf.zeros((64, *IMAGE_SHAPE)), 0.5)
    dark = expect_shape(dark, (64, *IMAGE_SHAPE), "add_noise(zeros, 0.5)")
    expect(
        dark.min() >= 0 and dark.max() <= 1,
        f"add_noise(zeros, 0.5) has values from {dark.min():.2f} to {dark.max():.2f}: clip the "
        "result to [0, 1] (tf.clip_by_value).",
    )
    expect_close(np.mean(dark == 0), 0.5, "the share of black pixels that stay at 0", atol=0.03)
    dtype = f"add_noise returns {noisy.dtype}; keep float32 like the images."
    expect(noisy.dtype == np.float32, dtype)
    # The notebook calls it inside a tf.data pipeline, that is, as a graph.
    ops = traced_op_types(add_noise, grey, 0.1, what="`add_noise` inside tf.data")
    expect(
        any("Random" in op for op in ops),
        "add_noise draws its noise outside TensorFlow (NumPy?): inside the tf.data pipeline "
        "that noise would be drawn once and reused for every batch. Use tf.random.normal.",
    )
    return "noise with mean 0 and the standard deviation you asked for, clipped to [0, 1]."


q3 = Exercise(
    "Noise for the denoising autoencoder",
    _check_q3,
    hints=[
        "Draw Gaussian noise of the same shape as the images, add it, and keep the result "
        "a valid image (pixels in [0, 1]).",
        "tf.random.normal(tf.shape(images), stddev=stddev) draws the noise; "
        "tf.clip_by_value(x, 0.0, 1.0) clips.",
    ],
)


# ----------------------------------------------------------------- q4: the anomaly score
def _check_q4(ns: Namespace) -> str | None:
    score = learner_function(ns, "reconstruction_error")
    x = images(n=6, seed=2)
    x[0] = 0.0  # an all-black image: reconstructed perfectly, error 0
    out = call_learner(score, half_model(), x)
    got = as_numpy(out, "reconstruction_error(model, images)")
    if got.ndim == 0:
        raise Incorrect(
            "reconstruction_error returns one number for all the images; return "
            "one per image: average over the pixel axes (1, 2, 3) only."
        )
    if got.shape in ((6, 28, 28), (6, 28, 28, 1)):
        raise Incorrect(
            f"reconstruction_error returns shape {got.shape}: one value per pixel. "
            "Average over the pixel axes to get one number per image."
        )
    expect_shape(got, (6,), "reconstruction_error(model, images) for 6 images")
    score_answer(x).judge(got, "reconstruction_error(model, images)")
    if not isinstance(out, np.ndarray):
        raise Incorrect(
            f"reconstruction_error returns {describe(out)}; return a NumPy array (compute it "
            "with np.mean on the reconstructions that model.predict returns)."
        )
    return "one mean squared error per image: small for images like the training set."


q4 = Exercise(
    "The anomaly score: per-image reconstruction error",
    _check_q4,
    hints=[
        "Reconstruct the images with the model, then compare each reconstruction with its "
        "input: one number per image.",
        "model.predict(images, verbose=0) gives the reconstructions; square the differences "
        "and average over the axes (1, 2, 3) (height, width, channels), not over the batch.",
    ],
)


# ----------------------------------------------------------------- q5: your threshold (a decision)


def _errors(value: Any, what: str) -> np.ndarray:
    """A 1-D array of per-image errors, finite, not empty."""
    errors = as_numpy(value, what)
    if errors.ndim != 1 or errors.size == 0:
        raise Incorrect(
            f"{what} has shape {errors.shape}; it should hold one error per image (shape (n,)): "
            "run the cell that computes it again."
        )
    return expect_finite(errors.astype(np.float64), what)


def _check_q5(ns: Namespace) -> str | None:
    import numbers

    threshold = learner_value(ns, "my_threshold")
    one_number = f"`my_threshold` is {describe(threshold)}; it should be one number."
    is_bool = isinstance(threshold, bool)
    expect(not is_bool and isinstance(threshold, numbers.Real | np.ndarray), one_number)
    threshold_array = as_numpy(threshold, "`my_threshold`")
    expect(threshold_array.size == 1 and np.isfinite(threshold_array).all(), one_number)
    t = as_scalar(threshold_array, "`my_threshold`")
    held = _errors(learner_value(ns, "held_out_errors"), "`held_out_errors`")
    scores = learner_value(ns, "scores")
    if not isinstance(scores, dict) or "digits" not in scores:
        raise Incorrect(
            f"`scores` is {describe(scores)}; it should be the dict of section 6 with the "
            "errors of each set, 'digits' included: run that cell again."
        )
    digits = _errors(scores["digits"], "`scores['digits']`")
    false_alarms = float(np.mean(held > t))
    if false_alarms > FALSE_ALARM_BUDGET:
        raise Incorrect(
            f"your threshold flags {false_alarms:.1%} of the held-out normal images; the budget "
            f"is {FALSE_ALARM_BUDGET:.0%}. Raise it."
        )
    caught = float(np.mean(digits > t))
    best = float(np.mean(digits > best_threshold(held)))
    if caught < best - 0.02:
        raise Incorrect(
            f"within the budget you flag {false_alarms:.1%} of the held-out images and catch "
            f"{caught:.0%} of the digits; a lower threshold that still keeps to the budget "
            f"catches {best:.0%}. Lower it: spend the false alarms you are allowed."
        )
    return (
        f"{false_alarms:.1%} of the held-out normal images flagged (budget "
        f"{FALSE_ALARM_BUDGET:.0%}), {caught:.0%} of the digits caught."
    )


q5 = Exercise(
    "Your threshold: a false-alarm budget",
    _check_q5,
    hints=[
        "A lower threshold catches more digits and flags more normal images. The budget says "
        "how many normal images you may flag: use all of it, and no more.",
        "Flagging at most 2% of the held-out images means a threshold at (or just above) the "
        "98th percentile of their errors: np.percentile(held_out_errors, 98).",
    ],
)

EXERCISES = (q1, q2, q3, q4, q5)
