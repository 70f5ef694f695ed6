"""The benchmark: every lab's solution notebook in full mode, beside reference models.

``python -m labkit bench`` executes each solution notebook (nbclient), reads the metrics it
reports with ``labkit.report`` and its wall time, trains the reference models of labs 03, 04 and
06 in the same run (lab 05's reference, the dense autoencoder, is trained by the notebook
itself), times ``main.py`` against a bare ``import tensorflow``, and writes
``benchmarks/results/<device>.json`` and ``.md``. ``--smoke`` does all of it on tiny subsets
(fast mode, one epoch) to prove that it works; its numbers mean nothing.

Time to reach: a reference records its test metric after every epoch, so we know when it first
reached any value. The notebook's own model gets the same curve without a line of notebook code:
the benchmark runs the notebook with ``record_epochs()`` first, which keeps the model's weights
after every epoch with the training time until then, and with ``write_curves()`` last, which
evaluates the lab's metric on each of those weights (the notebook's own expression for it, named
in ``LABS``). The speed-up is (the reference's time to its final value) / (our time to that value).
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from labkit import metrics
from labkit.devices import gpu_names
from labkit.errors import LabkitError
from labkit.files import write_atomic
from labkit.paths import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


@dataclass
class Lab:
    """How to read one lab's result from the metrics its notebook reports."""

    metric: str  # the metric the target is about
    target: float
    higher_is_better: bool = True
    seconds: str = "train_seconds"  # the metric holding our training time
    reference: str | None = None  # the name of a reference trainer below, or "notebook"
    reference_metric: str | None = None  # for "notebook": the metric holding the reference's value
    reference_seconds: str | None = None
    reference_name: str | None = None  # for "notebook": what the notebook's reference is
    relative_target: float | None = None  # the target is this times the reference's value
    also: dict[str, float] = field(default_factory=dict)  # other metrics that must be >= these
    max_seconds: float | None = None  # the most training time the target allows
    # (model variable, expression of the metric) in the notebook's namespace: evaluated on the
    # model's weights after every epoch, for our curve (and for the notebook's own reference)
    curve: tuple[str, str] | None = None
    reference_curve: tuple[str, str] | None = None


LABS: dict[str, Lab] = {
    "01_tensorflow_operations": Lab("dense_forward_max_error", 1e-5, higher_is_better=False),
    "02_logistic_regression": Lab("test_accuracy", 0.845),
    "03_multilayer_perceptron": Lab(
        "test_accuracy",
        0.895,
        reference="tutorial_mlp",
        curve=(
            "model",
            "np.mean(np.argmax(model.predict(x_test, batch_size=1024, verbose=0), "
            "axis=1) == y_test)",
        ),
    ),
    "04_convolutional_networks": Lab(
        "test_accuracy",
        0.925,
        reference="keras_io_convnet",
        max_seconds=180,
        curve=("model", "model.evaluate(test_ds, verbose=0)[1]"),
    ),
    "05_autoencoders": Lab(
        "conv_mse",
        0.0,
        higher_is_better=False,
        seconds="conv_seconds",
        reference="notebook",
        reference_metric="dense_mse",
        reference_seconds="dense_seconds",
        reference_name="dense autoencoder, 64-unit code, 10 epochs",
        relative_target=0.8,  # the conv autoencoder's MSE <= 0.8x the dense one's
        curve=("conv_ae", "test_mse(conv_ae, x_test)"),
        reference_curve=("dense_ae", "test_mse(dense_ae, x_test)"),
    ),
    "06_rnn_slot_filling": Lab(
        "slot_f1",
        0.955,
        reference="lstm_tagger",
        also={"intent_accuracy": 0.97},
        max_seconds=300,
        curve=(
            "joint",
            "f1_score(true_tags, iob_tags(predict(joint, test.queries, decode=viterbi)[0]))",
        ),
    ),
    "07_attention_transformers": Lab(
        "slot_f1",
        0.945,
        seconds="transformer_seconds",
        reference="notebook",
        reference_metric="bilstm_slot_f1",
        reference_seconds="bilstm_seconds",
        reference_name="lab 06's joint BiLSTM, same batches and time budget",
        also={"intent_accuracy": 0.96},
        max_seconds=300,
        curve=(
            "transformer",
            "f1_score(true_tags, iob_tags(predict(transformer, test.queries, decode=viterbi)[0]))",
        ),
        reference_curve=(
            "bilstm",
            "f1_score(true_tags, iob_tags(predict(bilstm, test.queries, decode=viterbi)[0]))",
        ),
    ),
}


@dataclass
class Curve:
    """A metric after each epoch and the training time until then (evaluation excluded)."""

    name: str
    metric: str
    higher_is_better: bool = True
    seconds: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    @property
    def final(self) -> float:
        return self.values[-1]

    @property
    def time_to_final(self) -> float | None:
        return self.time_to_reach(self.final)

    def time_to_reach(self, value: float) -> float | None:
        """The training time after which the metric first was at least as good as `value`."""
        for seconds, v in zip(self.seconds, self.values, strict=True):
            if (v >= value) if self.higher_is_better else (v <= value):
                return seconds
        return None


# ----------------------------------------------------------------- running the notebooks
CURVES_ENV_VAR = "LABKIT_CURVES_FILE"
# model -> [(training seconds until the end of an epoch, the weights then)], in the kernel
_snapshots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def record_epochs() -> None:
    """In a notebook's kernel: from now on every ``fit`` keeps the model's weights after each
    epoch, with the training time until then (the copying excluded)."""
    import keras

    class Snapshots(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            earlier = _snapshots.setdefault(self.model, [])
            self.offset = earlier[-1][0] if earlier else 0.0  # a model trained again goes on
            self.start, self.excluded = time.perf_counter(), 0.0

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            seconds = self.offset + now - self.start - self.excluded
            _snapshots[self.model].append((seconds, _final_weights(self.model)))
            self.excluded += time.perf_counter() - now

    fit = keras.Model.fit

    def fit_recording(model, *args, callbacks=None, **kwargs):
        return fit(model, *args, callbacks=[*(callbacks or []), Snapshots()], **kwargs)

    keras.Model.fit = fit_recording


def _final_weights(model) -> list:
    """The weights the model would end with if training stopped now: with ``use_ema=True``,
    the optimizer's moving averages, which ``fit`` copies into the model at its end."""
    optimizer = getattr(model, "optimizer", None)
    if not getattr(optimizer, "use_ema", False):
        return model.get_weights()
    current = [v.numpy() for v in model.trainable_variables]
    optimizer.finalize_variable_values(model.trainable_variables)
    weights = model.get_weights()
    for variable, value in zip(model.trainable_variables, current, strict=True):
        variable.assign(value)
    return weights


def write_curves(curves: dict[str, tuple[str, str]]) -> None:
    """In a notebook's kernel, after the notebook: for each name, (model variable, metric
    expression) evaluated on the model's weights after every epoch; written as JSON to
    ``$LABKIT_CURVES_FILE``. The model keeps its final weights."""
    from IPython import get_ipython

    start = time.perf_counter()
    namespace = get_ipython().user_ns
    found: dict[str, Any] = {}
    for name, (variable, expression) in curves.items():
        if variable not in namespace:
            raise LabkitError(f"The notebook has no variable `{variable}` for its {name} curve: "
                              "update the lab's entry in LABS (labkit/bench.py).")  # fmt: skip
        model = namespace[variable]
        final = model.get_weights()
        points = _snapshots.get(model, [])
        found[name] = {"seconds": [seconds for seconds, _ in points], "values": []}
        for _, weights in points:
            model.set_weights(weights)
            found[name]["values"].append(float(eval(expression, namespace)))  # noqa: S307
        model.set_weights(final)
    found["evaluation_seconds"] = time.perf_counter() - start  # not part of the notebook's time
    Path(os.environ[CURVES_ENV_VAR]).write_text(json.dumps(found), encoding="utf-8")


def _bench_cells(spec: Lab) -> tuple[str, str]:
    """The code run before and after a notebook to record its curves."""
    curves = {name: value for name, value in
              (("ours", spec.curve), ("reference", spec.reference_curve)) if value}  # fmt: skip
    return ("from labkit import bench as _bench\n_bench.record_epochs()",
            f"from labkit import bench as _bench\n_bench.write_curves({curves!r})")  # fmt: skip


def run_notebook(lab: str, fast: bool = False, timeout: int = 1800) -> dict[str, Any]:
    """Execute a solution notebook; its reported metrics, its wall time in seconds and, for a
    lab with curves in ``LABS``, the curves (``"curves"``)."""
    import nbformat

    from labkit import notebooks

    path = notebooks.solution_path(lab)
    nb = notebooks.read(path)
    spec = LABS.get(lab)
    if spec and spec.curve:
        before, after = _bench_cells(spec)
        first_code = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
        nb.cells.insert(first_code + 1, nbformat.v4.new_code_cell(before))  # after start_lab()
        nb.cells.append(nbformat.v4.new_code_cell(after))
    with tempfile.TemporaryDirectory() as tmp:
        metrics_file, curves_file = Path(tmp) / "metrics.json", Path(tmp) / "curves.json"
        env = {metrics.ENV_VAR: str(metrics_file), CURVES_ENV_VAR: str(curves_file),
               "LABKIT_FAST": "1" if fast else "0", "TF_CPP_MIN_LOG_LEVEL": "2",
               "MPLBACKEND": "agg"}  # fmt: skip
        start = time.perf_counter()
        notebooks.execute(nb, path.parent, env, timeout=timeout)
        wall = time.perf_counter() - start
        result = {**metrics.read(metrics_file), "wall_seconds": wall}
        if curves_file.is_file():
            curves = json.loads(curves_file.read_text(encoding="utf-8"))
            result["wall_seconds"] -= curves.pop("evaluation_seconds")
            result["curves"] = curves
        return result


# ----------------------------------------------------------------- reference models
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
    if fast:
        x_train, y_train, x_test, y_test = (
            x_train[:2000],
            y_train[:2000],
            x_test[:500],
            y_test[:500],
        )
    return (x_train / 255.0).astype("float32"), y_train, (x_test / 255.0).astype("float32"), y_test


def tutorial_mlp(fast: bool = False) -> Curve:
    """The TensorFlow tutorial's classifier: Flatten -> Dense(128) -> Dense(10), Adam, 10 epochs."""
    import keras

    x_train, y_train, x_test, y_test = _fashion_mnist(fast)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28)), keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10),
    ])  # fmt: skip
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    curve = Curve("Flatten -> Dense(128) -> Dense(10), 10 epochs", "test_accuracy")
    record = _curve_callback(curve, lambda: model.evaluate(x_test, y_test, verbose=0)[1])
    model.fit(x_train, y_train, epochs=1 if fast else 10, callbacks=[record], verbose=0)
    return curve


def keras_io_convnet(fast: bool = False) -> Curve:
    """keras-io's mnist_convnet on Fashion-MNIST: 15 epochs, batch 128, on all training images."""
    import keras
    from keras import layers

    x_train, y_train, x_test, y_test = _fashion_mnist(fast)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    curve = Curve("keras-io mnist_convnet, 15 epochs, batch 128", "test_accuracy")
    record = _curve_callback(
        curve, lambda: model.evaluate(x_test[..., None], y_test, batch_size=1000, verbose=0)[1]
    )
    model.fit(x_train[..., None], y_train, batch_size=128, epochs=1 if fast else 15,
              callbacks=[record], verbose=0)  # fmt: skip
    return curve


def lstm_tagger(fast: bool = False) -> Curve:
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

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(len(atis.words) + 1, 150, mask_zero=True),
        keras.layers.LSTM(300, return_sequences=True),
        keras.layers.Dense(len(atis.slot_labels), activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x_test = padded(test_queries)
    true = [atis.decode_slots(s[1:-1]) for s in test_slots]

    def slot_f1() -> float:
        probs = model.predict(x_test, batch_size=256, verbose=0)
        pred = [atis.decode_slots(np.argmax(p[1 : len(q) - 1], axis=-1))
                for p, q in zip(probs, test_queries, strict=True)]  # fmt: skip
        return f1_score(true, pred)

    curve = Curve("Embedding(150) -> LSTM(300), Adam, 10 epochs", "slot_f1")
    model.fit(padded(train), padded(slots, shift=0), batch_size=32, epochs=1 if fast else 10,
              callbacks=[_curve_callback(curve, slot_f1)], verbose=0)  # fmt: skip
    return curve


REFERENCES: dict[str, Callable[[bool], Curve]] = {
    "tutorial_mlp": tutorial_mlp,
    "keras_io_convnet": keras_io_convnet,
    "lstm_tagger": lstm_tagger,
}


# ----------------------------------------------------------------- comparing
def meets_target(lab: str, row: dict[str, Any]) -> bool:
    """Whether a results row meets every part of its lab's target."""
    spec, value = LABS[lab], row.get("value")
    if value is None or not (
        value >= row["target"] if spec.higher_is_better else value <= row["target"]
    ):
        return False
    metrics_ = row.get("metrics", {})
    if any(metrics_.get(name, float("-inf")) < least for name, least in spec.also.items()):
        return False
    seconds = row.get("train_seconds")
    return spec.max_seconds is None or (seconds is not None and seconds <= spec.max_seconds)


def _curve(name: str, metric: str, higher_is_better: bool, points: dict | None) -> Curve | None:
    if not points or not points.get("values"):
        return None
    return Curve(name, metric, higher_is_better, points["seconds"], points["values"])


def compare(lab: str, ours: dict[str, Any], reference: Curve | None,
            curves: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """One row of the results: our metrics and time, the reference's, and the speed-up: (the
    reference's time to its final value) / (our time to that value), from the two curves."""
    spec, curves = LABS[lab], curves or {}
    value, seconds = ours.get(spec.metric), ours.get(spec.seconds)
    row: dict[str, Any] = {
        "lab": lab, "metric": spec.metric, "value": value, "target": spec.target,
        "train_seconds": seconds, "wall_seconds": ours.get("wall_seconds"), "metrics": ours,
    }  # fmt: skip
    if spec.reference == "notebook":
        name, metric = spec.reference_name or "reference", spec.reference_metric or ""
        ref_value, ref_seconds = ours.get(metric), ours.get(spec.reference_seconds or "")
        reference = _curve(name, metric, spec.higher_is_better, curves.get("reference"))
        if reference is None and ref_value is not None and ref_seconds is not None:
            # no curve recorded: only the final point, which the notebook reports
            reference = Curve(name, metric, spec.higher_is_better, [ref_seconds], [ref_value])
        row["reference"] = name
        if spec.relative_target and ref_value:
            row["target"] = spec.relative_target * ref_value
    row["meets_target"] = meets_target(lab, row)
    ours_curve = _curve("ours", spec.metric, spec.higher_is_better, curves.get("ours"))
    if ours_curve is not None:
        row["curve"] = asdict(ours_curve)
    if reference is None:
        return row
    row.update(reference=reference.name, reference_value=reference.final,
               reference_seconds=reference.seconds[-1], reference_curve=asdict(reference))  # fmt: skip
    row["reference_time_to_our_value"] = (
        reference.time_to_reach(value) if value is not None else None
    )
    row["reference_time_to_final"] = reference.time_to_final
    if ours_curve is not None:
        ours_to_reference = ours_curve.time_to_reach(reference.final)
        row["our_time_to_reference_value"] = ours_to_reference
        if ours_to_reference:
            row["speedup"] = (reference.time_to_final or 0.0) / ours_to_reference
    return row


def main_py_cost(repeats: int = 3) -> dict[str, float]:
    """The median wall time of `python main.py` and of a bare `import tensorflow`, and their ratio."""

    def timed(args: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, check=False)
        return time.perf_counter() - start

    main_py = statistics.median(timed(["main.py"]) for _ in range(repeats))
    bare = statistics.median(timed(["-c", "import tensorflow"]) for _ in range(repeats))
    return {"main_py_seconds": main_py, "import_tensorflow_seconds": bare, "ratio": main_py / bare}


def device_description() -> str:
    """The GPU's name when TensorFlow uses one, else the CPU model and its logical cores."""
    import tensorflow as tf

    from labkit import doctor

    names = gpu_names(tf)
    if names:
        return f"{names[0]} x{len(names)}"
    return f"{doctor.cpu_model()}, {os.cpu_count()} cores"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ----------------------------------------------------------------- writing the results
def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 0.01 else f"{value:.{digits}f}"
    return str(value)


def _speedup(row: dict[str, Any]) -> str:
    """The speed-up cell: "2.3x (95 s / 41 s)", the reference's time to its final value over
    ours, or "ours never reaches it"."""
    if "speedup" in row:
        return (f"{row['speedup']:.1f}x ({row['reference_time_to_final']:.0f} s / "
                f"{row['our_time_to_reference_value']:.0f} s)")  # fmt: skip
    if "curve" in row and "reference_curve" in row:
        return "ours never reaches it"
    return "-"


def markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown table (what the README shows)."""
    lines = [
        f"Device: {results['device']}. TensorFlow {results['tensorflow']}, Keras "
        f"{results['keras']}, Python {results['python']}, {results['date']}"
        + (" (smoke run: not a measurement)." if results["smoke"] else "."),
        "",
        "| Lab | Metric | Ours | Target | Met | Our training s | Reference | Reference's | "
        "Reference s | Speed-up to the reference's value | The reference reaches ours |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["labs"]:
        spec = LABS[row["lab"]]
        ours = [_fmt(row["value"])] + [f"{name} {_fmt(row.get('metrics', {}).get(name))}"
                                       for name in spec.also]  # fmt: skip
        target = [("<= " if not spec.higher_is_better else ">= ") + _fmt(row["target"])]
        target += [f"{name} >= {least}" for name, least in spec.also.items()]
        target += [f"training <= {spec.max_seconds:.0f} s"] if spec.max_seconds else []
        speedup = _speedup(row)
        reaches = "-"
        if "reference_curve" in row:
            when = row.get("reference_time_to_our_value")
            reaches = "never" if when is None else f"after {when:.0f} s"
        # a row kept from an earlier run (a partial rerun) says when it was measured
        lab = row["lab"] + (
            f" (run {row['date']})" if row.get("date", results["date"]) != results["date"] else ""
        )
        lines.append(
            f"| {lab} | {row['metric']} | {'; '.join(ours)} | {'; '.join(target)} | "
            f"{_fmt(row['meets_target'])} | {_fmt(row['train_seconds'], 1)} | "
            f"{row.get('reference', '-')} | {_fmt(row.get('reference_value'))} | "
            f"{_fmt(row.get('reference_seconds'), 1)} | "
            f"{speedup} | {reaches} |"
        )
    cost = results.get("main_py")
    if cost:
        lines += ["", f"`main.py`: {cost['main_py_seconds']:.1f} s against "
                      f"{cost['import_tensorflow_seconds']:.1f} s for a bare `import tensorflow` "
                      f"(ratio {cost['ratio']:.2f})."]  # fmt: skip
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write <device>.json and <device>.md atomically; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / slug(results["device"] + ("-smoke" if results["smoke"] else ""))
    paths = stem.with_suffix(".json"), stem.with_suffix(".md")
    write_atomic(paths[0], json.dumps(results, indent=2) + "\n")
    write_atomic(paths[1], markdown(results))
    return paths


def merge_earlier(results: dict[str, Any], out_dir: Path) -> None:
    """Keep the rows of the labs this run left out from the device's earlier results file."""
    earlier = out_dir / (slug(results["device"]) + ".json")
    if not earlier.is_file():
        return
    done = {row["lab"] for row in results["labs"]}
    old = json.loads(earlier.read_text(encoding="utf-8"))
    for row in old.get("labs", []):
        if row["lab"] not in done:
            row.setdefault("date", old.get("date"))
            row["meets_target"] = meets_target(row["lab"], row)
            results["labs"].append(row)
    results["labs"].sort(key=lambda row: row["lab"])


README_BEGIN, README_END = "<!-- benchmark results: begin -->", "<!-- benchmark results: end -->"


def update_readme(out_dir: Path = RESULTS_DIR, readme: Path = REPO_ROOT / "README.md") -> None:
    """Put every results table of `out_dir` (smoke runs left out) between the README's markers."""
    tables = [p.read_text(encoding="utf-8").strip() for p in sorted(out_dir.glob("*.md"))
              if not p.stem.endswith("-smoke")]  # fmt: skip
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        raise LabkitError(f"{readme} lacks the lines {README_BEGIN} and {README_END}: put them "
                          "back around the benchmark table (the results files are written).")  # fmt: skip
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    body = "\n\n".join(tables) or "No results yet: run `python -m labkit bench`."
    write_atomic(readme, f"{head}{README_BEGIN}\n{body}\n{README_END}{tail}")


def run(labs: list[str] | None = None, smoke: bool = False, out_dir: Path = RESULTS_DIR,
        log: Callable[[str], None] = print) -> dict[str, Any]:  # fmt: skip
    """Run the benchmark and write its results; returns them."""
    import keras
    import tensorflow as tf

    chosen = labs or list(LABS)
    results: dict[str, Any] = {
        "device": device_description(), "smoke": smoke, "date": date.today().isoformat(),
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "python": platform.python_version(), "labs": [],
    }  # fmt: skip
    for lab in chosen:
        spec = LABS[lab]
        log(f"{lab}: running the solution notebook{' in fast mode' if smoke else ''} ...")
        try:
            ours = run_notebook(lab, fast=smoke)
        except Exception as exc:  # a failing notebook (missing data, ...) must not stop the rest
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            log(f"    FAILED: {reason}")
            results["labs"].append({"lab": lab, "metric": spec.metric, "value": None,
                                    "target": spec.target, "meets_target": False,
                                    "train_seconds": None, "error": reason})  # fmt: skip
            continue
        log(f"    {spec.metric} = {_fmt(ours.get(spec.metric))}, "
            f"{_fmt(ours.get(spec.seconds), 1)} s of training, {ours['wall_seconds']:.0f} s in all")  # fmt: skip
        reference = None
        if spec.reference in REFERENCES:
            log(f"    training the reference ({spec.reference}) ...")
            reference = REFERENCES[spec.reference](smoke)
            log(f"    reference: {_fmt(reference.final)} after {reference.seconds[-1]:.0f} s")
        curves = ours.pop("curves", None)
        results["labs"].append(compare(lab, ours, reference, curves))
    if not smoke and set(chosen) != set(LABS):
        merge_earlier(results, out_dir)
    log("timing main.py against a bare `import tensorflow` ...")
    results["main_py"] = main_py_cost(repeats=1 if smoke else 3)
    json_path, md_path = write(results, out_dir)
    log(f"wrote {json_path} and {md_path}")
    if not smoke and out_dir == RESULTS_DIR:
        update_readme()
        log("updated the README's table")
    return results
