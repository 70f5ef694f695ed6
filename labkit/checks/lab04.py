"""Checks for lab 04: convolutional networks."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import expect_close
from labkit.checks.exercise import Exercise, Incorrect
from labkit.checks.learner_code import call_learner, call_model, run_learner_code
from labkit.checks.models import (
    activation_name,
    input_shape,
    layers_of,
    learner_model,
    output_shape,
)
from labkit.checks.values import (
    Namespace,
    as_numpy,
    expect_shape,
    learner_function,
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


def _float_array(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A float array of ``shape``: the convolution (tf.nn.conv2d) takes floats only."""
    array = expect_shape(value, shape, f"`{name}`")
    if array.dtype.kind != "f":
        raise Incorrect(
            f"`{name}` has dtype {array.dtype.name}; make it a float array (e.g. "
            "dtype=np.float32): tf.nn.conv2d works on floats only."
        )
    return array


def _check_q1(ns: Namespace) -> str | None:
    image = _float_array(learner_value(ns, "x_image"), (9, 9), "x_image")
    if not np.isin(image, (-1.0, 1.0)).all():
        raise Incorrect("`x_image` should hold only +1 (the X) and -1 (the background).")
    want = reference_x_image()
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    if border.max() > 0:
        raise Incorrect("the border ring of `x_image` should be -1: the X sits in the inner 7x7.")
    expect_close(image, want, "`x_image`")
    for name, ref in reference_filters().items():
        f = _float_array(learner_value(ns, name), (3, 3), name)
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


def _check_q2(ns: Namespace) -> str | None:
    import tensorflow as tf

    f = learner_function(ns, "mean_conv")
    image = reference_x_image()[None, :, :, None]
    filters = np.stack(list(reference_filters().values()), axis=-1)[:, :, None, :]
    out = expect_shape(
        call_learner(f, tf.constant(image), tf.constant(filters)),
        (1, None, None, 3),
        "mean_conv(X, filters)",
    )
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
        call_learner(f, tf.constant(images), tf.constant(kernels)),
        (2, 4, 3, 4),
        "mean_conv on 2 random 6x5 images with 2 channels and 4 filters",
    )
    if np.allclose(out, _reference_mean_conv(images, kernels).numpy() * 2, atol=1e-4):
        raise Incorrect(
            "on 2-channel images your values are twice too large: with 2 channels each position "
            "has 3 x 3 x 2 = 18 products; divide by all of them (use the filter's shape)."
        )
    expect_close(
        out,
        _reference_mean_conv(images, kernels),
        "mean_conv on random images",
        rtol=1e-3,
        atol=1e-4,
    )
    strided = expect_shape(
        call_learner(f, tf.constant(image), tf.constant(filters), strides=2),
        (1, None, None, 3),
        "mean_conv(X, filters, strides=2)",
    )
    if strided.shape[1:3] != (4, 4):
        raise Incorrect(
            f"mean_conv(X, filters, strides=2) gives {strided.shape[1]}x{strided.shape[2]} maps; "
            "pass `strides` on to tf.nn.conv2d ((9 - 3) / 2 + 1 = 4)."
        )
    return "each value is the mean agreement between the filter and one 3x3 patch."


def _check_q3(ns: Namespace) -> str | None:
    import tensorflow as tf

    f = learner_function(ns, "max_pool_s2")
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(1, 7, 7, 3)).astype(np.float32)
    out = expect_shape(
        call_learner(f, tf.constant(maps)),
        (1, None, None, 3),
        "max_pool_s2 on a (1, 7, 7, 3) input",
    )
    if out.shape[1:3] == (3, 3):
        raise Incorrect(
            "the output is 3x3: with 'VALID' the last row and column of the 7x7 map are dropped; "
            "'SAME' pads so that every pixel is seen (ceil(7 / 2) = 4)."
        )
    if out.shape[1:3] in ((6, 6), (7, 7)):
        raise Incorrect(
            f"the output is {out.shape[1]}x{out.shape[2]}: the window should move 2 pixels at a time."
        )
    expect_shape(out, (1, 4, 4, 3), "max_pool_s2 on a (1, 7, 7, 3) input")
    want = tf.nn.max_pool2d(maps, ksize=2, strides=2, padding="SAME").numpy()
    avg = tf.nn.avg_pool2d(maps, ksize=2, strides=2, padding="SAME").numpy()
    if np.allclose(out, avg, atol=1e-5):
        raise Incorrect("those are averages: max pooling keeps the largest value of each window.")
    expect_close(out, want, "max_pool_s2 on random maps")
    return "a 7x7 map becomes 4x4, and each value is the strongest response in its 2x2 window."


def _check_q4(ns: Namespace) -> str | None:
    import keras

    model = learner_model(call_learner(learner_function(ns, "build_cnn")), "build_cnn()")
    shape = input_shape(model, "the model")
    if shape[1:] != (28, 28, 1):
        raise Incorrect(f"the model's input shape is {shape}; the images are (28, 28, 1).")
    shape = output_shape(model, "the model")
    if shape != (None, 10):
        raise Incorrect(f"the model's output has shape {shape}; there are 10 classes.")
    if not any(type(la).__name__.startswith("Random") for la in layers_of(model, object)):
        raise Incorrect(
            "the model has no augmentation: pass the inputs through `augment` first, "
            "`x = augment(inputs)`."
        )
    convs = layers_of(model, keras.layers.Conv2D)
    filters = [c.filters for c in convs]
    if filters != [32, 64]:
        raise Incorrect(
            f"the model's Conv2D layers have {filters} filters; use two convolution blocks, with 32 "
            "then 64 filters: `conv_block(x, 32)`, then `conv_block(x, 64, dropout=0.1)`."
        )
    pools = layers_of(model, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    if not pools and all(max(c.strides) == 1 for c in convs):
        raise Incorrect("nothing makes the maps smaller: add MaxPooling2D (or a strided Conv2D).")
    if not layers_of(model, keras.layers.Flatten):
        raise Incorrect("the model has no Flatten layer before its Dense layers.")
    dense = layers_of(model, keras.layers.Dense)
    if len(dense) != 2 or dense[0].units != 128:
        units = [d.units for d in dense]
        raise Incorrect(
            f"the model's Dense layers have {units} units; use a hidden Dense(128) and a "
            "Dense(10) output."
        )
    if dense[0].use_bias or activation_name(dense[0]) != "linear":
        raise Incorrect(
            "the hidden Dense(128) should have no bias and no activation: "
            "`layers.Dense(128, use_bias=False)`, then BatchNormalization and ReLU."
        )
    if not layers_of(model, keras.layers.BatchNormalization):
        raise Incorrect("the model has no BatchNormalization layer after the hidden Dense(128).")
    rates = sorted(round(d.rate, 6) for d in layers_of(model, keras.layers.Dropout))
    if rates != [0.1, 0.3]:
        raise Incorrect(
            f"the model's dropout rates are {rates}; the second convolution block has dropout "
            "0.1 (`conv_block(x, 64, dropout=0.1)`) and the hidden layer 0.3."
        )
    if activation_name(dense[-1]) != "linear" or not isinstance(model.layers[-1], type(dense[-1])):
        raise Incorrect(
            "the model ends in a softmax (or another activation): the loss takes logits "
            "(from_logits=True), so end with Dense(10) and no activation."
        )
    params = model.count_params()
    if params > 2_000_000:
        raise Incorrect(
            f"the model has {params:,} parameters: too many to train on a CPU in minutes."
        )
    return f"{len(convs)} convolutions and {params:,} parameters."


def _as_list(outputs) -> list:
    """A model's outputs as a list, whether it returns one tensor, a list or a dict."""
    if isinstance(outputs, dict):
        return list(outputs.values())
    return list(outputs) if isinstance(outputs, list | tuple) else [outputs]


def _check_q5(ns: Namespace) -> str | None:
    import keras

    model = learner_model(learner_value(ns, "model"), "`model` (the trained CNN)")
    extractor = learner_model(learner_value(ns, "feature_model"), "`feature_model`")
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    if not convs:
        raise Incorrect(
            "`model` has no Conv2D layer: run the cells that build and train the CNN again."
        )
    if len(extractor.outputs) != len(convs):
        raise Incorrect(
            f"`feature_model` has {len(extractor.outputs)} output(s); the model has {len(convs)} "
            "Conv2D layers: one output per convolution."
        )
    shape = input_shape(model, "`model`")
    if input_shape(extractor, "`feature_model`") != shape:
        raise Incorrect("`feature_model` should take the same input as `model` (model.input).")
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 8:20, 8:20, 0] = 1.0
    maps = _as_list(call_model(extractor, image, "calling `feature_model` on an image"))
    reference = _as_list(
        run_learner_code(
            "reading the Conv2D outputs of `model`",
            lambda: keras.Model(model.inputs[0], [c.output for c in convs])(image, training=False),
        )
    )
    if len(maps) != len(convs):
        raise Incorrect(f"`feature_model` returns {len(maps)} maps; expected {len(convs)}.")
    for i, (conv, got, want) in enumerate(zip(convs, maps, reference, strict=True)):
        got = as_numpy(got, "a feature map")
        if got.ndim != 4 or got.shape[-1] != conv.filters:
            raise Incorrect(
                f"an output has shape {got.shape}; the matching Conv2D has {conv.filters} "
                "filters, so its maps have shape (1, height, width, filters)."
            )
        if got.shape != tuple(want.shape) or not np.allclose(got, want, atol=1e-4):
            raise Incorrect(
                f"output {i + 1} is not the output of the Conv2D layer {conv.name} of `model`: "
                "use [la.output for la in conv_layers], in order, with model.input."
            )
    return "you can now look at what every convolution sees."


q1 = Exercise(
    "The X image and three filters",
    _check_q1,
    hints=[
        "Start from a 9x9 array full of -1 (`-np.ones((9, 9))`), then set the diagonal pixels to +1.",
        "The X runs from (1, 1) to (7, 7) and from (1, 7) to (7, 1): for i in 1..7 set "
        "`x_image[i, i]` and `x_image[i, 8 - i]`. A filter: `2 * np.eye(3) - 1` is the main diagonal.",
    ],
)
q2 = Exercise(
    "Convolution as a mean of products",
    _check_q2,
    hints=[
        "`tf.nn.conv2d(images, filters, strides=1, padding=...)` sums the products; you want their mean.",
        "Use padding='VALID' (only positions where the filter fits: 9 - 3 + 1 = 7) and divide by the "
        "number of products at each position: height x width x input channels of the filter.",
    ],
)
q3 = Exercise(
    "Max pooling with stride 2",
    _check_q3,
    hints=[
        "`tf.nn.max_pool2d(maps, ksize=..., strides=..., padding=...)`.",
        "A 2x2 window (`ksize=2`) moving 2 pixels (`strides=2`); 'SAME' pads the odd edge so a 7x7 map "
        "gives ceil(7 / 2) = 4 rows and columns.",
        "`return tf.nn.max_pool2d(maps, ksize=2, strides=2, padding='SAME')`.",
    ],
)
q4 = Exercise(
    "A CNN in Keras",
    _check_q4,
    hints=[
        "Input (28, 28, 1), the augmentation, then blocks of Conv2D (with ReLU) and "
        "MaxPooling2D, Flatten, a hidden Dense layer with BatchNormalization, ReLU and Dropout, "
        "and a Dense(10) at the end.",
        "Use the helper of the cell above twice, `conv_block` with 32 filters, then with 64 "
        "filters and dropout=0.1, then flatten.",
    ],
)
q5 = Exercise(
    "A model that returns every feature map",
    _check_q5,
    hints=[
        "A functional Keras model can have several outputs: `keras.Model(inputs, [out1, out2, ...])`.",
        "Collect the Conv2D layers (`[la for la in model.layers if isinstance(la, layers.Conv2D)]`) and "
        "use each layer's `.output` as one output.",
    ],
)


# ----------------------------------------------------------------- q6: the output-size formula
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


def _check_q6(ns: Namespace) -> str | None:
    import numbers

    f = learner_function(ns, "output_size")
    for n, k, s, padding in OUTPUT_SIZE_CASES:
        got = call_learner(f, n, k, s, padding)
        if isinstance(got, np.ndarray) and got.shape == () and got.dtype.kind in "iu":
            got = int(got)  # a 0-d integer array is a whole number too
        want = reference_output_size(n, k, s, padding)
        call = f"output_size({n}, {k}, {s}, {padding!r})"
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            if isinstance(got, numbers.Real) and float(got) == want:
                raise Incorrect(
                    f"{call} returns {got!r}, a float; a size is a whole number: use integer "
                    "division (//) or int()."
                )
            raise Incorrect(f"{call} returns {got!r}; it should return a whole number of rows.")
        if got == want:
            continue
        if padding == "valid" and got == (n - k) // s:
            raise Incorrect(
                f"{call} returns {got}, one too few: the first position counts too (+ 1)."
            )
        if padding == "valid" and got == -(-(n - k) // s) + 1:
            raise Incorrect(
                f"{call} returns {got}: with 'valid' a last position where the filter does not "
                "fit is dropped, so round down, not up."
            )
        if padding == "same" and got == n:
            raise Incorrect(
                f"{call} returns {got}: 'same' keeps the size only with stride 1; with a "
                "stride it divides it (rounding up)."
            )
        if padding == "same" and got == n // s:
            raise Incorrect(
                f"{call} returns {got}: with 'same' the last, partly padded window counts, so "
                "round up, not down."
            )
        raise Incorrect(f"{call} returns {got}; TensorFlow's convolution gives {want} rows.")
    return (
        f"your formula gives TensorFlow's output size in all {len(OUTPUT_SIZE_CASES)} cases: "
        "'valid' floor((n - k) / s) + 1, 'same' ceil(n / s)."
    )


q6 = Exercise(
    "The output size of a convolution",
    _check_q6,
    hints=[
        "With 'valid' count the positions where the filter fits: the first at 0, then every "
        "`stride` pixels while the filter still ends inside the image. With 'same' the image "
        "is padded so that every `stride`-th pixel starts a window.",
        "'valid': (n - kernel) // stride + 1. 'same': n / stride, rounded up.",
    ],
)


# ----------------------------------------------------------------- q7: a downsampling design
def downsampling_model(design: Any) -> Any:
    """A stack of Conv2D(16, kernel, stride, padding) layers, one per (kernel, stride, padding)
    of ``design``, on 28x28 one-channel images."""
    import keras

    inputs = keras.Input((28, 28, 1))
    x = inputs
    for kernel, stride, padding in design:
        x = keras.layers.Conv2D(16, int(kernel), strides=int(stride), padding=padding)(x)
    return keras.Model(inputs, x)


def _design(value: Any) -> list[tuple[int, int, str]]:
    """The learner's list of (kernel, stride, padding), validated."""
    import numbers

    if not isinstance(value, list | tuple) or not 1 <= len(value) <= 3:
        raise Incorrect(
            "`DOWNSAMPLING` should be a list of 1 to 3 (kernel, stride, padding) tuples, e.g. "
            "[(3, 1, 'same'), ...]."
        )
    design = []
    for k, layer in enumerate(value, start=1):
        if not isinstance(layer, list | tuple) or len(layer) != 3:
            raise Incorrect(
                f"layer {k} of `DOWNSAMPLING` is not a (kernel, stride, padding) tuple."
            )
        kernel, stride, padding = layer
        whole = all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (kernel, stride)
        )
        if not whole or not (1 <= kernel <= 28 and 1 <= stride <= 28):
            raise Incorrect(
                f"layer {k}: kernel {kernel!r} and stride {stride!r} should be whole numbers "
                "from 1 to 28."
            )
        if padding not in ("valid", "same"):
            raise Incorrect(f"layer {k}: padding should be 'valid' or 'same', not {padding!r}.")
        if stride > kernel:
            raise Incorrect(
                f"layer {k} has stride {stride} and a {kernel}-pixel kernel: it skips "
                f"{stride - kernel} pixel(s) between windows, which no layer ever sees. Keep "
                "stride <= kernel."
            )
        design.append((int(kernel), int(stride), padding))
    return design


def _check_q7(ns: Namespace) -> str | None:
    design = _design(learner_value(ns, "DOWNSAMPLING"))
    size = 28
    for k, (kernel, stride, padding) in enumerate(design, start=1):
        if padding == "valid" and kernel > size:
            raise Incorrect(
                f"layer {k}: its {kernel}-pixel kernel does not fit the {size}x{size} map it "
                "gets with 'valid' padding."
            )
        size = reference_output_size(size, kernel, stride, padding)
    model = run_learner_code("building your DOWNSAMPLING stack", lambda: downsampling_model(design))
    shape = tuple(model.output_shape[1:3])
    if shape != (size, size):  # the formula and Keras disagree: a bug here, not the learner's
        raise RuntimeError(f"output size {size} from the formula, {shape} from Keras")
    if shape != (7, 7):
        raise Incorrect(
            f"your layers turn a 28x28 image into a {shape[0]}x{shape[1]} map; the target is "
            "7x7. Work it out with your output_size from q6, layer by layer."
        )
    return (
        f"28x28 -> 7x7 in {len(design)} layer(s), no pixel skipped; with 16 filters per layer "
        f"the stack has {model.count_params():,} parameters."
    )


q7 = Exercise(
    "Your design: from 28x28 to 7x7",
    _check_q7,
    hints=[
        "Each layer divides the size by about its stride: 28 / 7 = 4, so the strides must "
        "multiply to 4 (with 'same'), or the kernels must eat the rest (with 'valid').",
        "Two layers with stride 2 and 'same' padding halve the map twice; one layer with a "
        "4x4 kernel and stride 4 also works. Keep stride <= kernel in each layer.",
        "DOWNSAMPLING = [(3, 2, 'same'), (3, 2, 'same')]",
    ],
)

EXERCISES = (q1, q2, q3, q4, q5, q6, q7)
