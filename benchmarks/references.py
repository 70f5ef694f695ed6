"""The reference models the labs are compared with, trained in the same run as the notebook.

Each records its test metric after every epoch (training time only, evaluation excluded), so
the benchmark knows when it first reached any value. ``seed`` varies between the benchmark's
repeats; the fast mode (``--smoke``) trains one epoch on a subset.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.compare import Curve


def _curve_callback(curve: Curve, evaluate: Callable[[], float]):
    """A Keras callback that appends (training seconds, evaluate()) to `curve` after each epoch."""
    import keras

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.excluded = time.perf_counter(), 0.0

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            curve.seconds.append(now - self.start - self.excluded)
            curve.values.append(float(evaluate()))
            self.excluded += time.perf_counter() - now

    return Record()


def _fashion_mnist(fast: bool):
    from labkit.datasets import load_fashion_mnist

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    train, test = (2000, 500) if fast else (None, None)  # fast: a subset, for --smoke
    x_train, y_train, x_test, y_test = (
        x_train[:train],
        y_train[:train],
        x_test[:test],
        y_test[:test],
    )
    return (x_train / 255.0).astype("float32"), y_train, (x_test / 255.0).astype("float32"), y_test


def tutorial_mlp(fast: bool = False, seed: int = 0) -> Curve:
    """The TensorFlow tutorial's classifier: Flatten -> Dense(128) -> Dense(10), Adam, 10 epochs."""
    import keras

    x_train, y_train, x_test, y_test = _fashion_mnist(fast)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    curve = Curve("Flatten -> Dense(128) -> Dense(10), 10 epochs", "test_accuracy")
    record = _curve_callback(curve, lambda: model.evaluate(x_test, y_test, verbose=0)[1])
    model.fit(x_train, y_train, epochs=1 if fast else 10, callbacks=[record], verbose=0)
    return curve


def keras_io_convnet(fast: bool = False, seed: int = 0) -> Curve:
    """keras-io's mnist_convnet on Fashion-MNIST: 15 epochs, batch 128, on all training images."""
    import keras
    from keras import layers

    x_train, y_train, x_test, y_test = _fashion_mnist(fast)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    curve = Curve("keras-io mnist_convnet, 15 epochs, batch 128", "test_accuracy")
    record = _curve_callback(
        curve, lambda: model.evaluate(x_test[..., None], y_test, batch_size=1000, verbose=0)[1]
    )
    epochs = 1 if fast else 15
    model.fit(
        x_train[..., None], y_train, batch_size=128, epochs=epochs, callbacks=[record], verbose=0
    )
    return curve


def lstm_tagger(fast: bool = False, seed: int = 0) -> Curve:
    """Embedding(150) -> LSTM(300) -> a softmax per word, Adam, batch 32, 10 epochs; slot F1."""
    import keras
    import numpy as np
    from seqeval.metrics import f1_score

    from labkit.datasets import load_atis

    atis = load_atis()
    train = atis.train.queries[:300] if fast else atis.train.queries
    slots = atis.train.slots[: len(train)]
    test_queries, test_slots = atis.test.queries, atis.test.slots
    if fast:
        test_queries, test_slots = test_queries[:100], test_slots[:100]

    def padded(seqs, shift=1):  # word ids + 1, so that 0 is the padding
        return keras.utils.pad_sequences([s + shift for s in seqs], padding="post")

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(len(atis.words) + 1, 150, mask_zero=True),
            keras.layers.LSTM(300, return_sequences=True),
            keras.layers.Dense(len(atis.slot_labels), activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x_test = padded(test_queries)
    true = [atis.decode_slots(s[1:-1]) for s in test_slots]

    def slot_f1() -> float:
        probs = model.predict(x_test, batch_size=256, verbose=0)
        pred = [
            atis.decode_slots(np.argmax(p[1 : len(q) - 1], axis=-1))
            for p, q in zip(probs, test_queries, strict=True)
        ]
        return f1_score(true, pred)

    curve = Curve("Embedding(150) -> LSTM(300), Adam, 10 epochs", "slot_f1")
    model.fit(
        padded(train),
        padded(slots, shift=0),
        batch_size=32,
        epochs=1 if fast else 10,
        callbacks=[_curve_callback(curve, slot_f1)],
        verbose=0,
    )
    return curve


# The trainers that a lab's entry in LABS (`reference=`) can name.
REFERENCES: dict[str, Callable[..., Curve]] = {
    "tutorial_mlp": tutorial_mlp,
    "keras_io_convnet": keras_io_convnet,
    "lstm_tagger": lstm_tagger,
}
