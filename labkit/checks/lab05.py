"""Checks for lab 05: autoencoders (dense, convolutional, denoising; anomaly scores).

Also two small helpers the notebook uses: ``synthetic_digits`` (printed digits, the
"anomalies" of the last section) and ``show_reconstructions`` (originals above
reconstructions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.exercise import (
    Exercise,
    Incorrect,
    Namespace,
    as_numpy,
    call_learner,
    expect_close,
    expect_shape,
    learner_value,
    run_model,
)

LAB = "05_autoencoders"
IMAGE_SHAPE = (28, 28, 1)
DENSE_PARAMS_64 = 784 * 64 + 64 + 64 * 784 + 784  # 101,200: Dense(64) + Dense(784)


# ----------------------------------------------------------------- helpers for the notebook
def show_reconstructions(originals: Any, reconstructions: Any, n: int = 8, title: str = "") -> Any:
    """A figure: ``n`` originals in the top row, their reconstructions below."""
    from labkit import plots

    originals, reconstructions = np.asarray(originals[:n]), np.asarray(reconstructions[:n])
    title = f"{title}\n" if title else ""
    return plots.show_images(np.concatenate([originals, reconstructions]), ncols=n,
                             title=f"{title}top: inputs, bottom: reconstructions")  # fmt: skip


def synthetic_digits(n: int = 200, seed: int = 0) -> np.ndarray:
    """``n`` printed digits 0-9 (white on black, 28x28x1, values in [0, 1]), in 3 fonts and 2
    weights, shifted by up to 2 pixels: images that are not clothes, made without a download."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    templates = []
    for family in ("DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono"):
        for weight in ("normal", "bold"):
            for digit in range(10):
                fig = Figure(figsize=(1, 1), dpi=28, facecolor="black")  # 28x28 pixels
                fig.text(0.5, 0.5, str(digit), color="white", fontsize=66, family=family,
                         weight=weight, ha="center", va="center")  # fmt: skip
                canvas = FigureCanvasAgg(fig)
                canvas.draw()
                templates.append(np.asarray(canvas.buffer_rgba())[..., 0] / 255.0)
    rng = np.random.default_rng(seed)
    images = np.stack([templates[k] for k in rng.integers(len(templates), size=n)])
    for i in range(n):
        images[i] = np.roll(images[i], tuple(rng.integers(-2, 3, size=2)), axis=(0, 1))
    return images[..., None].astype("float32")


# ----------------------------------------------------------------- shared check helpers
def _model(value: Any, what: str) -> Any:
    import keras

    if not isinstance(value, keras.Model):
        raise Incorrect(f"{what} is a {type(value).__name__}; it should be a Keras model "
                        "(keras.Sequential([...]) or keras.Model(inputs, outputs)).")  # fmt: skip
    return value


def _images(n: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, *IMAGE_SHAPE)).astype("float32")


def _check_range(out: np.ndarray, what: str) -> None:
    if out.min() < 0 or out.max() > 1:
        raise Incorrect(
            f"{what} has values from {out.min():.3g} to {out.max():.3g}; pixels are in [0, 1]. "
            "End the decoder with a sigmoid activation."
        )


def _layer_types(model: Any) -> list[str]:
    """The class names of a model's layers, nested models included."""
    names = []
    for layer in model.layers:
        names.append(type(layer).__name__)
        if hasattr(layer, "layers"):
            names += _layer_types(layer)
    return names


# ----------------------------------------------------------------- q1: the dense autoencoder
def _check_q1(ns: Namespace) -> str | None:
    make = learner_value(ns, "make_dense_autoencoder")
    out = call_learner(make, 64)
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise Incorrect("make_dense_autoencoder should return two models: (encoder, decoder).")
    encoder, decoder = _model(out[0], "the encoder"), _model(out[1], "the decoder")
    x = _images()
    code = run_model(encoder, x, "the encoder")
    if code.shape[1:] == (784,):
        raise Incorrect("the encoder outputs 784 numbers per image: the code is the output of "
                        "Dense(code_size), so the encoder ends there.")  # fmt: skip
    expect_shape(code, (len(x), 64), "the encoder's output (the code) for 4 images")
    if (code < 0).any():
        raise Incorrect("the code has negative values: give the encoder's Dense layer the "
                        "ReLU activation, as in the TensorFlow tutorial.")  # fmt: skip
    big = np.random.default_rng(1).normal(scale=50.0, size=(len(x), 64)).astype("float32")
    recon = run_model(decoder, big, "the decoder")
    if recon.shape[1:] == (784,):
        raise Incorrect("the decoder outputs flat vectors of 784 numbers: end it with "
                        "layers.Reshape((28, 28, 1)) so that it gives back images.")  # fmt: skip
    expect_shape(recon, (len(x), *IMAGE_SHAPE), "the decoder's output for 4 codes")
    _check_range(recon, "the decoder's output for large codes")
    params = encoder.count_params() + decoder.count_params()
    if params != DENSE_PARAMS_64:
        raise Incorrect(f"the encoder and decoder have {params:,} parameters together; the "
                        f"tutorial's model (Flatten, Dense(64), Dense(784), Reshape) has "
                        f"{DENSE_PARAMS_64:,}. Use exactly those layers.")  # fmt: skip
    small = call_learner(make, 8)
    code8 = run_model(_model(small[0], "make_dense_autoencoder(8)[0]"), x, "the encoder")
    if code8.shape != (len(x), 8):
        raise Incorrect(f"make_dense_autoencoder(8) gives codes of shape {code8.shape}; use the "
                        "argument code_size for the size of the code.")  # fmt: skip
    return (f"784 pixels -> {64} numbers -> 784 pixels, {DENSE_PARAMS_64:,} parameters; "
            "the code is 12x smaller than the image.")  # fmt: skip


q1 = Exercise(
    LAB,
    "q1",
    "A dense autoencoder",
    _check_q1,
    hints=[
        "The encoder flattens the image and squeezes it into code_size numbers; the decoder "
        "blows them back up to 784 pixels and gives them the image's shape again.",
        "Encoder: Input((28, 28, 1)), Flatten(), Dense(code_size, activation='relu'). Decoder: "
        "Input((code_size,)), Dense(784, activation='sigmoid'), Reshape((28, 28, 1)).",
        "encoder = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),\n"
        "                            layers.Dense(code_size, activation='relu')])\n"
        "decoder = keras.Sequential([keras.Input((code_size,)), "
        "layers.Dense(784, activation='sigmoid'),\n"
        "                            layers.Reshape((28, 28, 1))])\n"
        "return encoder, decoder",
    ],
)


# ----------------------------------------------------------------- q2: the conv decoder
def _check_q2(ns: Namespace) -> str | None:
    encoder = _model(learner_value(ns, "conv_encoder"), "`conv_encoder`")
    make = learner_value(ns, "make_conv_decoder")
    decoder = _model(call_learner(make), "make_conv_decoder()")
    code_shape = tuple(encoder.output_shape[1:])
    x = _images()
    code = run_model(encoder, x, "conv_encoder")
    recon = run_model(decoder, code, "the decoder, on the encoder's codes,")
    if recon.shape[1:] != IMAGE_SHAPE:
        raise Incorrect(
            f"the decoder turns codes of shape {code_shape} into shape {recon.shape[1:]}; it "
            "should give back (28, 28, 1) images. Each Conv2DTranspose with strides=2 and "
            "padding='same' doubles height and width, and the last layer needs 1 filter."
        )
    types = _layer_types(decoder)
    if "Conv2DTranspose" not in types:
        raise Incorrect("the decoder has no Conv2DTranspose layer: upsample with "
                        "layers.Conv2DTranspose(filters, 3, strides=2, padding='same').")  # fmt: skip
    scaled = run_model(decoder, (code * 50.0 + 5.0).astype("float32"), "the decoder")
    _check_range(scaled, "the decoder's output for large codes")
    return (f"codes of shape {code_shape} upsampled to (None, 28, 28, 1) with "
            f"{types.count('Conv2DTranspose')} transposed convolutions.")  # fmt: skip


q2 = Exercise(
    LAB,
    "q2",
    "A convolutional decoder with Conv2DTranspose",
    _check_q2,
    hints=[
        "Mirror the encoder: where it goes 28 -> 14 -> 7 with stride-2 convolutions, the "
        "decoder goes 7 -> 14 -> 28 with stride-2 transposed convolutions.",
        "Start from keras.Input((CODE_SIZE,)); Dense(7 * 7 * 32, activation='relu') and "
        "Reshape((7, 7, 32)) make feature maps again; then Conv2DTranspose(16, 4, strides=2, "
        "padding='same', activation='relu') and Conv2DTranspose(1, 4, strides=2, "
        "padding='same', activation='sigmoid').",
        "return keras.Sequential([\n"
        "    keras.Input((CODE_SIZE,)),\n"
        "    layers.Dense(7 * 7 * 32, activation='relu'),\n"
        "    layers.Reshape((7, 7, 32)),\n"
        "    layers.Conv2DTranspose(16, 4, strides=2, padding='same', activation='relu'),\n"
        "    layers.Conv2DTranspose(1, 4, strides=2, padding='same', activation='sigmoid'),\n"
        "])",
    ],
)


# ----------------------------------------------------------------- q3: the noise function
def _check_q3(ns: Namespace) -> str | None:
    import tensorflow as tf

    add_noise = learner_value(ns, "add_noise")
    grey = tf.fill((64, *IMAGE_SHAPE), 0.5)
    noisy = expect_shape(call_learner(add_noise, grey, 0.1), (64, *IMAGE_SHAPE),
                         "add_noise(images, 0.1) for 64 images")  # fmt: skip
    diff = noisy.astype(np.float64) - 0.5
    if np.allclose(diff, 0):
        raise Incorrect("add_noise returned the images unchanged: add random Gaussian noise.")
    if abs(diff.mean()) > 0.01:
        raise Incorrect(f"the noise has mean {diff.mean():.3f}; Gaussian noise has mean 0 "
                        "(tf.random.normal draws it around 0 by default).")  # fmt: skip
    if not 0.09 < diff.std() < 0.11:
        raise Incorrect(f"with stddev=0.1 the noise has standard deviation {diff.std():.3f}; "
                        "pass stddev to tf.random.normal.")  # fmt: skip
    if np.allclose(diff, diff[0]):
        raise Incorrect("every image got the same noise: draw noise of the batch's full shape.")
    dark = call_learner(add_noise, tf.zeros((64, *IMAGE_SHAPE)), 0.5)
    dark = as_numpy(dark, "add_noise(zeros, 0.5)")
    if dark.min() < 0 or dark.max() > 1:
        raise Incorrect(f"add_noise(zeros, 0.5) has values from {dark.min():.2f} to "
                        f"{dark.max():.2f}: clip the result to [0, 1] (tf.clip_by_value).")  # fmt: skip
    expect_close(np.mean(dark == 0), 0.5, "the share of black pixels that stay at 0", atol=0.03)
    if as_numpy(noisy, "noisy").dtype != np.float32:
        raise Incorrect(f"add_noise returns {noisy.dtype}; keep float32 like the images.")
    return "noise with mean 0 and the standard deviation you asked for, clipped to [0, 1]."


q3 = Exercise(
    LAB,
    "q3",
    "Noise for the denoising autoencoder",
    _check_q3,
    hints=[
        "Draw Gaussian noise of the same shape as the images, add it, and keep the result "
        "a valid image (pixels in [0, 1]).",
        "tf.random.normal(tf.shape(images), stddev=stddev) draws the noise; "
        "tf.clip_by_value(x, 0.0, 1.0) clips.",
        "noise = tf.random.normal(tf.shape(images), stddev=stddev)\n"
        "return tf.clip_by_value(images + noise, 0.0, 1.0)",
    ],
)


# ----------------------------------------------------------------- q4: the anomaly score
def _check_q4(ns: Namespace) -> str | None:
    import keras

    score = learner_value(ns, "reconstruction_error")
    half = keras.Sequential([keras.Input(IMAGE_SHAPE), keras.layers.Rescaling(0.5)])
    x = _images(n=6, seed=2)
    x[0] = 0.0  # an all-black image: reconstructed perfectly, error 0
    reference = np.mean((x - 0.5 * x) ** 2, axis=(1, 2, 3))
    got = as_numpy(call_learner(score, half, x), "reconstruction_error(model, images)")
    if got.ndim == 0:
        raise Incorrect("reconstruction_error returns one number for all the images; return "
                        "one per image: average over the pixel axes (1, 2, 3) only.")  # fmt: skip
    if got.shape == (6, 28, 28) or got.shape == (6, 28, 28, 1):
        raise Incorrect(f"reconstruction_error returns shape {got.shape}: one value per pixel. "
                        "Average over the pixel axes to get one number per image.")  # fmt: skip
    expect_shape(got, (6,), "reconstruction_error(model, images) for 6 images")
    if np.allclose(got, reference * 784, rtol=1e-3):
        raise Incorrect("the errors are 784 times too large: take the mean over the pixels, "
                        "not the sum.")  # fmt: skip
    if np.allclose(got, np.sqrt(reference), rtol=1e-3):
        raise Incorrect("that is the root of the mean squared error; return the MSE itself.")
    if np.allclose(got, np.mean(np.abs(x - 0.5 * x), axis=(1, 2, 3)), rtol=1e-3):
        raise Incorrect("that is the mean absolute error; square the differences instead.")
    expect_close(got, reference, "reconstruction_error(model, images)", rtol=1e-4, atol=1e-7)
    return "one mean squared error per image: small for images like the training set."


q4 = Exercise(
    LAB,
    "q4",
    "The anomaly score: per-image reconstruction error",
    _check_q4,
    hints=[
        "Reconstruct the images with the model, then compare each reconstruction with its "
        "input: one number per image.",
        "model.predict(images, verbose=0) gives the reconstructions; square the differences "
        "and average over the axes (1, 2, 3) (height, width, channels), not over the batch.",
        "reconstructions = model.predict(images, verbose=0)\n"
        "return np.mean((images - reconstructions) ** 2, axis=(1, 2, 3))",
    ],
)

EXERCISES = (q1, q2, q3, q4)
