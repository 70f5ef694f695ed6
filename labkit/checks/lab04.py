"""Checks for lab 04: convolutional networks."""

from __future__ import annotations

import warnings

import numpy as np

from labkit.checks.exercise import (
    Exercise,
    Incorrect,
    all_layers,
    as_numpy,
    call_learner,
    expect_close,
    expect_shape,
    learner_value,
)

LAB = "04_convolutional_networks"


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


def _check_q1(ns) -> str | None:
    image = expect_shape(learner_value(ns, "x_image"), (9, 9), "`x_image`")
    if not np.isin(image, (-1.0, 1.0)).all():
        raise Incorrect("`x_image` should hold only +1 (the X) and -1 (the background).")
    want = reference_x_image()
    if image[0].max() > 0 or image[-1].max() > 0 or image[:, 0].max() > 0 or image[:, -1].max() > 0:
        raise Incorrect("the border ring of `x_image` should be -1: the X sits in the inner 7x7.")
    expect_close(image, want, "`x_image`")
    for name, ref in reference_filters().items():
        f = expect_shape(learner_value(ns, name), (3, 3), f"`{name}`")
        if not np.isin(f, (-1.0, 1.0)).all():
            raise Incorrect(f"`{name}` should hold only +1 and -1.")
        if name != "small_x" and np.allclose(f, ref[:, ::-1]):
            raise Incorrect(f"`{name}` is mirrored: it follows the other diagonal.")
        expect_close(f, ref, f"`{name}`")
    return "the X and its three filters are ready."


def _reference_mean_conv(images, filters):
    import tensorflow as tf

    k = filters.shape
    return tf.nn.conv2d(images, filters, strides=1, padding="VALID") / (k[0] * k[1] * k[2])


def _check_q2(ns) -> str | None:
    import tensorflow as tf

    f = learner_value(ns, "mean_conv")
    image = reference_x_image()[None, :, :, None]
    filters = np.stack(list(reference_filters().values()), axis=-1)[:, :, None, :]
    out = expect_shape(
        call_learner(f, tf.constant(image), tf.constant(filters)), (1, None, None, 3),
        "mean_conv(X, filters)",
    )  # fmt: skip
    if out.shape[1:3] == (9, 9):
        raise Incorrect(
            "the maps are 9x9: only positions where the whole 3x3 filter fits count ('VALID')."
        )
    expect_shape(out, (1, 7, 7, 3), "mean_conv(X, filters)")
    want = _reference_mean_conv(image, filters).numpy()
    if np.allclose(out, 9 * want, atol=1e-4):
        raise Incorrect("the values are 9 times too large: a mean divides the sum of products.")
    expect_close(out, want, "mean_conv(X, filters)")
    # Another input: a batch of two random 2-channel images and four 3x3 filters.
    rng = np.random.default_rng(4)
    images = rng.normal(size=(2, 6, 5, 2)).astype(np.float32)
    kernels = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    out = expect_shape(
        call_learner(f, tf.constant(images), tf.constant(kernels)), (2, 4, 3, 4),
        "mean_conv on 2 random 6x5 images with 2 channels and 4 filters",
    )  # fmt: skip
    if np.allclose(out, _reference_mean_conv(images, kernels).numpy() * 2, atol=1e-4):
        raise Incorrect(
            "on 2-channel images your values are twice too large: with 2 channels each position "
            "has 3 x 3 x 2 = 18 products; divide by all of them (use the filter's shape)."
        )
    expect_close(out, _reference_mean_conv(images, kernels), "mean_conv on random images",
                 rtol=1e-3, atol=1e-4)  # fmt: skip
    strided = expect_shape(
        call_learner(f, tf.constant(image), tf.constant(filters), strides=2), (1, None, None, 3),
        "mean_conv(X, filters, strides=2)",
    )  # fmt: skip
    if strided.shape[1:3] != (4, 4):
        raise Incorrect(
            f"mean_conv(X, filters, strides=2) gives {strided.shape[1]}x{strided.shape[2]} maps; "
            "pass `strides` on to tf.nn.conv2d ((9 - 3) / 2 + 1 = 4)."
        )
    return "each value is the mean agreement between the filter and one 3x3 patch."


def _check_q3(ns) -> str | None:
    import tensorflow as tf

    f = learner_value(ns, "max_pool_s2")
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(1, 7, 7, 3)).astype(np.float32)
    out = expect_shape(call_learner(f, tf.constant(maps)), (1, None, None, 3),
                       "max_pool_s2 on a (1, 7, 7, 3) input")  # fmt: skip
    if out.shape[1:3] == (3, 3):
        raise Incorrect(
            "the output is 3x3: with 'VALID' the last row and column of the 7x7 map are dropped; "
            "'SAME' pads so that every pixel is seen (ceil(7 / 2) = 4)."
        )
    if out.shape[1:3] in ((6, 6), (7, 7)):
        raise Incorrect(f"the output is {out.shape[1]}x{out.shape[2]}: the window should move 2 pixels at a time.")  # fmt: skip
    expect_shape(out, (1, 4, 4, 3), "max_pool_s2 on a (1, 7, 7, 3) input")
    want = tf.nn.max_pool2d(maps, ksize=2, strides=2, padding="SAME").numpy()
    avg = tf.nn.avg_pool2d(maps, ksize=2, strides=2, padding="SAME").numpy()
    if np.allclose(out, avg, atol=1e-5):
        raise Incorrect("those are averages: max pooling keeps the largest value of each window.")
    expect_close(out, want, "max_pool_s2 on random maps")
    return "a 7x7 map becomes 4x4, and each value is the strongest response in its 2x2 window."


def _check_q4(ns) -> str | None:
    import keras

    build = learner_value(ns, "build_cnn")
    model = call_learner(build)
    if not isinstance(model, keras.Model):
        raise Incorrect(f"build_cnn() should return a keras Model, not a {type(model).__name__}.")
    shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
    if shape is None or shape[1:] != (28, 28, 1):
        raise Incorrect(f"the model's input shape is {model.input_shape}; the images are (28, 28, 1).")  # fmt: skip
    if tuple(model.output_shape) != (None, 10):
        raise Incorrect(f"the model's output has shape {model.output_shape}; there are 10 classes.")  # fmt: skip
    layers = all_layers(model)
    convs = [la for la in layers if isinstance(la, keras.layers.Conv2D)]
    if len(convs) < 2:
        raise Incorrect(f"the model has {len(convs)} Conv2D layer(s); stack at least two.")
    pools = [la for la in layers if isinstance(la, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D))]  # fmt: skip
    strided = [c for c in convs if max(c.strides) > 1]
    if not pools and not strided:
        raise Incorrect("nothing makes the maps smaller: add MaxPooling2D (or a strided Conv2D).")
    for kind in (keras.layers.BatchNormalization, keras.layers.Dropout):
        if not any(isinstance(la, kind) for la in layers):
            raise Incorrect(f"the model has no {kind.__name__} layer.")
    if model.count_params() > 2_000_000:
        raise Incorrect(f"the model has {model.count_params():,} parameters: too many to train on a CPU in minutes.")  # fmt: skip
    return f"{len(convs)} convolutions and {model.count_params():,} parameters."


def _check_q5(ns) -> str | None:
    import keras

    model = learner_value(ns, "model")
    extractor = learner_value(ns, "feature_model")
    if not isinstance(extractor, keras.Model):
        raise Incorrect(f"`feature_model` should be a keras Model, not a {type(extractor).__name__}.")  # fmt: skip
    convs = [la for la in all_layers(model) if isinstance(la, keras.layers.Conv2D)]
    outputs = extractor.outputs
    if len(outputs) != len(convs):
        raise Incorrect(
            f"`feature_model` has {len(outputs)} output(s); the model has {len(convs)} Conv2D layers: "
            "one output per convolution."
        )
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 8:20, 8:20, 0] = 1.0
    with warnings.catch_warnings():  # built on `model.inputs` (a list), called with one tensor
        warnings.simplefilter("ignore", UserWarning)
        maps = call_learner(extractor, image, training=False)
    maps = maps if isinstance(maps, (list, tuple)) else [maps]
    for conv, got in zip(convs, maps, strict=True):
        got = as_numpy(got, "a feature map")
        if got.shape[-1] != conv.filters or got.ndim != 4:
            raise Incorrect(
                f"an output has shape {got.shape}; the matching Conv2D has {conv.filters} filters, "
                "so its maps have shape (1, height, width, filters)."
            )
    if not all(o.shape[1:] == c.output.shape[1:] for o, c in zip(outputs, convs, strict=True)):
        raise Incorrect("the outputs are not the Conv2D layers' outputs, in order.")
    return "you can now look at what every convolution sees."


q1 = Exercise(
    LAB, "q1", "The X image and three filters", _check_q1,
    hints=[
        "Start from a 9x9 array full of -1 (`-np.ones((9, 9))`), then set the diagonal pixels to +1.",
        "The X runs from (1, 1) to (7, 7) and from (1, 7) to (7, 1): for i in 1..7 set "
        "`x_image[i, i]` and `x_image[i, 8 - i]`. A filter: `2 * np.eye(3) - 1` is the main diagonal.",
        "`diag = 2 * np.eye(3) - 1`, `anti_diag = diag[:, ::-1]` (mirror it), and "
        "`small_x = np.maximum(diag, anti_diag)` (+1 where either diagonal is).",
    ],
)  # fmt: skip
q2 = Exercise(
    LAB, "q2", "Convolution as a mean of products", _check_q2,
    hints=[
        "`tf.nn.conv2d(images, filters, strides=1, padding=...)` sums the products; you want their mean.",
        "Use padding='VALID' (only positions where the filter fits: 9 - 3 + 1 = 7) and divide by the "
        "number of products at each position: height x width x input channels of the filter.",
        "`kh, kw, cin, _ = filters.shape` then "
        "`return tf.nn.conv2d(images, filters, strides=1, padding='VALID') / (kh * kw * cin)`.",
    ],
)  # fmt: skip
q3 = Exercise(
    LAB, "q3", "Max pooling with stride 2", _check_q3,
    hints=[
        "`tf.nn.max_pool2d(maps, ksize=..., strides=..., padding=...)`.",
        "A 2x2 window (`ksize=2`) moving 2 pixels (`strides=2`); 'SAME' pads the odd edge so a 7x7 map "
        "gives ceil(7 / 2) = 4 rows and columns.",
        "`return tf.nn.max_pool2d(maps, ksize=2, strides=2, padding='SAME')`.",
    ],
)  # fmt: skip
q4 = Exercise(
    LAB, "q4", "A CNN in Keras", _check_q4,
    hints=[
        "Input (28, 28, 1), the augmentation, then blocks of Conv2D (with ReLU) and "
        "MaxPooling2D, Flatten, a hidden Dense layer with BatchNormalization, ReLU and Dropout, "
        "and a Dense(10) at the end.",
        "Use the helper of the cell above twice: `x = conv_block(x, 32)`, then "
        "`x = conv_block(x, 64, dropout=0.1)`, then `layers.Flatten()(x)`.",
        "Then `layers.Dense(128, use_bias=False)`, `layers.BatchNormalization()`, "
        "`layers.ReLU()`, `layers.Dropout(0.3)` and `outputs = layers.Dense(10)(x)`; return "
        "`keras.Model(inputs, outputs)`.",
    ],
)  # fmt: skip
q5 = Exercise(
    LAB, "q5", "A model that returns every feature map", _check_q5,
    hints=[
        "A functional Keras model can have several outputs: `keras.Model(inputs, [out1, out2, ...])`.",
        "Collect the Conv2D layers (`[la for la in model.layers if isinstance(la, layers.Conv2D)]`) and "
        "use each layer's `.output` as one output.",
        "`feature_model = keras.Model(model.input, [la.output for la in conv_layers])`.",
    ],
)  # fmt: skip

EXERCISES = (q1, q2, q3, q4, q5)
