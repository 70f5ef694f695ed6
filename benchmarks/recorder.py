"""What the benchmark runs inside a notebook's kernel, to get the curve of the notebook's model.

The benchmark adds one cell after the notebook's setup cell (``record_epochs``: from then on
every ``fit`` keeps the model's weights after each epoch, with the training time until then)
and one at its end (``write_curves``: evaluates the lab's metric, the notebook's own
expression for it, on each of those weights and writes the curves as JSON). ``cells`` writes
the two. The notebook itself has not a line of benchmark code.
"""

from __future__ import annotations

import json
import time
import weakref
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError
from labkit.files import write_atomic

# model -> [(training seconds until the end of an epoch, the weights then)], in the kernel
_snapshots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cells(curves: dict[str, tuple[str, str]], curves_file: Path) -> tuple[str, str]:
    """The code run before and after a notebook: for each curve's name, (model variable, metric
    expression); the curves go to `curves_file`."""
    before = "from benchmarks import recorder as _recorder\n_recorder.record_epochs()"
    after = f"_recorder.write_curves({curves!r}, {str(curves_file)!r})"
    return before, after


def record_epochs() -> None:
    """From now on every ``fit`` keeps the model's weights after each epoch, with the training
    time until then (the copying excluded)."""
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


def write_curves(curves: dict[str, tuple[str, str]], path: str) -> None:
    """After the notebook: for each name, (model variable, metric expression) evaluated on the
    model's weights after every epoch; written as JSON to `path`. The models keep their final
    weights."""
    from IPython import get_ipython

    start = time.perf_counter()
    namespace = get_ipython().user_ns
    found: dict[str, Any] = {}
    for name, (variable, expression) in curves.items():
        if variable not in namespace:
            raise LabkitError(
                f"The notebook has no variable `{variable}` for its {name} curve: "
                "update the lab's entry in LABS (benchmarks/labs.py)."
            )
        model = namespace[variable]
        final = model.get_weights()
        points = _snapshots.get(model, [])
        found[name] = {"seconds": [seconds for seconds, _ in points], "values": []}
        for _, weights in points:
            model.set_weights(weights)
            found[name]["values"].append(float(eval(expression, namespace)))  # noqa: S307
        model.set_weights(final)
    found["evaluation_seconds"] = time.perf_counter() - start  # not part of the notebook's time
    write_atomic(path, json.dumps(found))
