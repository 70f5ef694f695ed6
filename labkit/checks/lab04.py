"""Checks for lab 04: convolutional networks. q1-q3 and q6 compare values with TensorFlow's on
probes, naming the classic mistakes by what they compute; q4, q5 and q7 read the layers built."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.checks.answers import Answer, Mistake, close, expect
from labkit.checks.convolution import (
    OUTPUT_SIZE_CASES,
    downsampling_model,
    mean_conv_answer,
    output_size_answer,
    reference_filters,
    reference_output_size,
    reference_x_image,
)
from labkit.checks.exercise import Exercise, Incorrect
from labkit.checks.learner_code import call_learner, call_model, run_learner_code
from labkit.checks.models import (
    activation_name,
    input_shape,
    layers_of,
    learner_model,
    output_shape,
)
from labkit.checks.values import Namespace, as_numpy, expect_shape, learner_function, learner_value

LAB = "04_convolutional_networks"


def _float_array(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A float array of ``shape``: the convolution (tf.nn.conv2d) takes floats only."""
    array = expect_shape(value, shape, f"`{name}`")
    expect(
        array.dtype.kind == "f",
        f"`{name}` has dtype {array.dtype.name}; make it a float array (e.g. dtype=np.float32): "
        "tf.nn.conv2d works on floats only.",
    )
    return array


def _check_q1(ns: Namespace) -> str | None:
    image = _float_array(learner_value(ns, "x_image"), (9, 9), "x_image")
    only = "`x_image` should hold only +1 (the X) and -1 (the background)."
    expect(np.isin(image, (-1.0, 1.0)).all(), only)
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    expect(
        border.max() <= 0, "the border ring of `x_image` should be -1: the X is in the inner 7x7."
    )
    Answer(reference_x_image()).judge(image, "`x_image`")
    for name, ref in reference_filters().items():
        f = _float_array(learner_value(ns, name), (3, 3), name)
        expect(np.isin(f, (-1.0, 1.0)).all(), f"`{name}` should hold only +1 and -1.")
        mirrored = Mistake("it is mirrored: it follows the other diagonal.", ref[:, ::-1])
        Answer(ref, [mirrored]).judge(f, f"`{name}`")
    return "the X and its three filters are ready."


def _check_q2(ns: Namespace) -> str | None:
    import tensorflow as tf

    f = learner_function(ns, "mean_conv")
    x = tf.constant(reference_x_image()[None, :, :, None])
    x_filters = tf.constant(np.stack(list(reference_filters().values()), -1)[:, :, None, :])
    out = expect_shape(call_learner(f, x, x_filters), (1, None, None, 3), "mean_conv(X, filters)")
    expect(
        out.shape[1:3] != (9, 9),
        "the maps are 9x9: only positions where the whole 3x3 filter fits count ('VALID').",
    )
    sums = "a mean divides the sum of products."
    mean_conv_answer(x, x_filters, 9, sums).judge(out, "mean_conv(X, filters)")
    rng = np.random.default_rng(4)  # two random 2-channel images and four 3x3 filters
    images = tf.constant(rng.normal(size=(2, 6, 5, 2)), tf.float32)
    kernels = tf.constant(rng.normal(size=(3, 3, 2, 4)), tf.float32)
    channels = (
        "with 2 channels each position has 3 x 3 x 2 = 18 products; divide by all of them (use "
        "the filter's shape)."
    )
    mean_conv_answer(images, kernels, 2, channels).judge(
        call_learner(f, images, kernels),
        "mean_conv on 2 random 6x5 images with 2 channels and 4 filters",
    )
    strided = expect_shape(
        call_learner(f, x, x_filters, strides=2),
        (1, None, None, 3),
        "mean_conv(X, filters, strides=2)",
    )
    expect(
        strided.shape[1:3] == (4, 4),
        f"mean_conv(X, filters, strides=2) gives {strided.shape[1]}x{strided.shape[2]} maps; "
        "pass `strides` on to tf.nn.conv2d ((9 - 3) / 2 + 1 = 4).",
    )
    return "each value is the mean agreement between the filter and one 3x3 patch."


def _check_q3(ns: Namespace) -> str | None:
    import tensorflow as tf

    f = learner_function(ns, "max_pool_s2")
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(1, 7, 7, 3)).astype(np.float32)
    what = "max_pool_s2 on a (1, 7, 7, 3) input"
    out = expect_shape(call_learner(f, tf.constant(maps)), (1, None, None, 3), what)
    expect(
        out.shape[1:3] != (3, 3),
        "the output is 3x3: with 'VALID' the last row and column of the 7x7 map are dropped; "
        "'SAME' pads so that every pixel is seen (ceil(7 / 2) = 4).",
    )
    expect(
        out.shape[1:3] not in ((6, 6), (7, 7)),
        f"the output is {out.shape[1]}x{out.shape[2]}: the window should move 2 pixels at a time.",
    )
    averages = Mistake(
        "those are averages: max pooling keeps the largest value of each window.",
        tf.nn.avg_pool2d(maps, ksize=2, strides=2, padding="SAME").numpy(),
    )
    want = tf.nn.max_pool2d(maps, ksize=2, strides=2, padding="SAME").numpy()
    Answer(want, [averages]).judge(out, what)
    return "a 7x7 map becomes 4x4, and each value is the strongest response in its 2x2 window."


def _check_q4(ns: Namespace) -> str | None:
    import keras

    model = learner_model(call_learner(learner_function(ns, "build_cnn")), "build_cnn()")
    shape = input_shape(model, "the model")
    expect(shape[1:] == (28, 28, 1), f"the model's input shape is {shape}; images are (28, 28, 1).")
    shape = output_shape(model, "the model")
    expect(shape == (None, 10), f"the model's output has shape {shape}; there are 10 classes.")
    expect(
        any(type(la).__name__.startswith("Random") for la in layers_of(model, object)),
        "the model has no augmentation: pass the inputs through `augment` first, "
        "`x = augment(inputs)`.",
    )
    convs = layers_of(model, keras.layers.Conv2D)
    filters = [c.filters for c in convs]
    expect(
        filters == [32, 64],
        f"the model's Conv2D layers have {filters} filters; use two convolution blocks, with 32 "
        "then 64 filters: `conv_block(x, 32)`, then `conv_block(x, 64, dropout=0.1)`.",
    )
    pools = layers_of(model, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    expect(
        pools or any(max(c.strides) > 1 for c in convs),
        "nothing makes the maps smaller: add MaxPooling2D (or a strided Conv2D).",
    )
    expect(
        layers_of(model, keras.layers.Flatten),
        "the model has no Flatten layer before its Dense layers.",
    )
    dense = layers_of(model, keras.layers.Dense)
    expect(
        len(dense) == 2 and dense[0].units == 128,
        f"the model's Dense layers have {[d.units for d in dense]} units; use a hidden "
        "Dense(128) and a Dense(10) output.",
    )
    expect(
        not dense[0].use_bias and activation_name(dense[0]) == "linear",
        "the hidden Dense(128) should have no bias and no activation: "
        "`layers.Dense(128, use_bias=False)`, then BatchNormalization and ReLU.",
    )
    batchnorm = layers_of(model, keras.layers.BatchNormalization)
    expect(batchnorm, "the model has no BatchNormalization layer after the hidden Dense(128).")
    rates = sorted(round(d.rate, 6) for d in layers_of(model, keras.layers.Dropout))
    expect(
        rates == [0.1, 0.3],
        f"the model's dropout rates are {rates}; the second convolution block has dropout "
        "0.1 (`conv_block(x, 64, dropout=0.1)`) and the hidden layer 0.3.",
    )
    expect(
        activation_name(dense[-1]) == "linear" and isinstance(model.layers[-1], type(dense[-1])),
        "the model ends in a softmax (or another activation): the loss takes logits "
        "(from_logits=True), so end with Dense(10) and no activation.",
    )
    params = model.count_params()
    expect(params <= 2_000_000, f"the model has {params:,} parameters: too many for a CPU.")
    return f"{len(convs)} convolutions and {params:,} parameters."


def _check_q5(ns: Namespace) -> str | None:
    import keras

    model = learner_model(learner_value(ns, "model"), "`model` (the trained CNN)")
    extractor = learner_model(learner_value(ns, "feature_model"), "`feature_model`")
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    expect(convs, "`model` has no Conv2D layer: run the cells that build and train the CNN again.")
    expect(
        len(extractor.outputs) == len(convs),
        f"`feature_model` has {len(extractor.outputs)} output(s); the model has {len(convs)} "
        "Conv2D layers: one output per convolution.",
    )
    expect(
        input_shape(extractor, "`feature_model`") == input_shape(model, "`model`"),
        "`feature_model` should take the same input as `model` (model.input).",
    )
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 8:20, 8:20, 0] = 1.0
    maps = keras.tree.flatten(call_model(extractor, image, "calling `feature_model` on an image"))
    reference = keras.tree.flatten(
        run_learner_code(
            "reading the Conv2D outputs of `model`",
            lambda: keras.Model(model.inputs[0], [c.output for c in convs])(image, training=False),
        )
    )
    expect(len(maps) == len(convs), f"`feature_model` returns {len(maps)} maps; not {len(convs)}.")
    for i, (conv, got, want) in enumerate(zip(convs, maps, reference, strict=True)):
        got = as_numpy(got, "a feature map")
        expect(
            got.ndim == 4 and got.shape[-1] == conv.filters,
            f"an output has shape {got.shape}; the matching Conv2D has {conv.filters} "
            "filters, so its maps have shape (1, height, width, filters).",
        )
        expect(
            close(got, as_numpy(want, "a Conv2D output"), atol=1e-4),
            f"output {i + 1} is not the output of the Conv2D layer {conv.name} of `model`: "
            "use [la.output for la in conv_layers], in order, with model.input.",
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
def _check_q6(ns: Namespace) -> str | None:
    import numbers

    f = learner_function(ns, "output_size")
    for n, k, s, padding in OUTPUT_SIZE_CASES:
        got = call_learner(f, n, k, s, padding)
        if isinstance(got, np.ndarray) and got.shape == () and got.dtype.kind in "iu":
            got = int(got)  # a 0-d integer array is a whole number too
        answer = output_size_answer(n, k, s, padding)
        call = f"output_size({n}, {k}, {s}, {padding!r})"
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            expect(
                not (isinstance(got, numbers.Real) and float(got) == answer.right),
                f"{call} returns {got!r}, a float; a size is a whole number: use integer "
                "division (//) or int().",
            )
            raise Incorrect(f"{call} returns {got!r}; it should return a whole number of rows.")
        answer.judge(got, f"{call} returns {got}")
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
def _whole(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _design(value: Any) -> list[tuple[int, int, str]]:
    """The learner's list of (kernel, stride, padding), validated."""
    expect(
        isinstance(value, list | tuple) and 1 <= len(value) <= 3,
        "`DOWNSAMPLING` should be a list of 1 to 3 (kernel, stride, padding) tuples, e.g. "
        "[(3, 1, 'same'), ...].",
    )
    design = []
    for k, layer in enumerate(value, start=1):
        expect(
            isinstance(layer, list | tuple) and len(layer) == 3,
            f"layer {k} of `DOWNSAMPLING` is not a (kernel, stride, padding) tuple.",
        )
        kernel, stride, padding = layer
        expect(
            _whole(kernel) and _whole(stride) and 1 <= kernel <= 28 and 1 <= stride <= 28,
            f"layer {k}: kernel {kernel!r} and stride {stride!r} should be whole numbers from 1 "
            "to 28.",
        )
        expect(
            padding in ("valid", "same"),
            f"layer {k}: padding should be 'valid' or 'same', not {padding!r}.",
        )
        expect(
            stride <= kernel,
            f"layer {k} has stride {stride} and a {kernel}-pixel kernel: it skips "
            f"{stride - kernel} pixel(s) between windows, which no layer ever sees. Keep "
            "stride <= kernel.",
        )
        design.append((int(kernel), int(stride), padding))
    return design


def _check_q7(ns: Namespace) -> str | None:
    design = _design(learner_value(ns, "DOWNSAMPLING"))
    size = 28
    for k, (kernel, stride, padding) in enumerate(design, start=1):
        expect(
            padding == "same" or kernel <= size,
            f"layer {k}: its {kernel}-pixel kernel does not fit the {size}x{size} map it gets "
            "with 'valid' padding.",
        )
        size = reference_output_size(size, kernel, stride, padding)
    model = run_learner_code("building your DOWNSAMPLING stack", lambda: downsampling_model(design))
    shape = tuple(model.output_shape[1:3])
    if shape != (size, size):  # the formula and Keras disagree: a bug here, not the learner's
        raise RuntimeError(f"output size {size} from the formula, {shape} from Keras")
    expect(
        shape == (7, 7),
        f"your layers turn a 28x28 image into a {shape[0]}x{shape[1]} map; the target is 7x7. "
        "Work it out with your output_size from q6, layer by layer.",
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
    ],
)

EXERCISES = (q1, q2, q3, q4, q5, q6, q7)
