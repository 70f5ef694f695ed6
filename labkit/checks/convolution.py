"""What lab 04's checks compare with: the X image and its filters, the mean-of-products
convolution, TensorFlow's output sizes and a stack of strided convolutions; with the classic
mistakes of each (``Answer``): a sum divided by too few products, a size rounded the wrong way."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import Answer, Mistake


def reference_x_image() -> np.ndarray:
    """The 9x9 X: +1 on the two diagonals of the inner 7x7, -1 everywhere else."""
    image = -np.ones((9, 9), dtype=np.float32)
    for i in range(1, 8):
        image[i, i] = image[i, 8 - i] = 1.0
    return image


def reference_filters() -> dict[str, np.ndarray]:
    """The three 3x3 filters: main diagonal, anti-diagonal, small X."""
    diag = 2 * np.eye(3, dtype=np.float32) - 1
    anti = diag[:, ::-1].copy()
    small_x = np.maximum(diag, anti)
    return {"diag": diag, "anti_diag": anti, "small_x": small_x}


def mean_conv_answer(images: np.ndarray, filters: np.ndarray, times: int, why: str) -> Answer:
    """The mean of products at each 'VALID' position, and the sum divided by too few."""
    import tensorflow as tf

    want = tf.nn.conv2d(images, filters, 1, "VALID").numpy() / np.prod(filters.shape[:3])
    too_large = Mistake(f"the values are {times} times too large: {why}", times * want)
    return Answer(want, [too_large], atol=1e-4)


OUTPUT_SIZE_CASES = [
    (n, k, s, padding)
    for n in (5, 7, 9, 28)
    for k in (1, 2, 3, 5)
    for s in (1, 2, 3)
    for padding in ("valid", "same")
    if k <= n
]


def reference_output_size(n: int, kernel: int, stride: int, padding: str) -> int:
    """Rows (or columns) of a convolution's output: what TensorFlow computes."""
    return (n - kernel) // stride + 1 if padding == "valid" else -(-n // stride)


def output_size_answer(n: int, kernel: int, stride: int, padding: str) -> Answer:
    """TensorFlow's output size for one case, and what the classic mistakes give."""
    valid = [
        Mistake("one too few: the first position counts too (+ 1).", (n - kernel) // stride),
        Mistake(
            "with 'valid' a last position where the filter does not fit is dropped, so round "
            "down, not up.",
            -(-(n - kernel) // stride) + 1,
        ),
    ]
    same = [
        Mistake("'same' keeps the size only with stride 1; with a stride it divides it.", n),
        Mistake(
            "with 'same' the last, partly padded window counts, so round up, not down.",
            n // stride,
        ),
    ]
    want = reference_output_size(n, kernel, stride, padding)
    return Answer(
        want,
        valid if padding == "valid" else same,
        otherwise=f"TensorFlow's convolution gives {want} rows.",
    )


def downsampling_model(design: Any) -> Any:
    """A stack of Conv2D(16, kernel, stride, padding) layers, one per (kernel, stride, padding)
    of ``design``, on 28x28 one-channel images."""
    import keras

    inputs = keras.Input((28, 28, 1))
    x = inputs
    for kernel, stride, padding in design:
        x = keras.layers.Conv2D(16, int(kernel), strides=int(stride), padding=padding)(x)
    return keras.Model(inputs, x)
