"""TensorBoard, which TensorFlow 2.21 no longer installs: the labs' USE_TENSORBOARD switch writes
logs that TensorBoard reads, and the labs' TensorBoard cell serves them from a notebook kernel."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest

from labkit.install import kernel
from labkit.notebooks import solutions

LABS_WITH_TENSORBOARD = [
    "02_logistic_regression",
    "03_multilayer_perceptron",
    "04_convolutional_networks",
]


def short_fit(log_dir: Path, epochs: int = 3) -> list[float]:
    """Train a tiny model for a few epochs with the TensorBoard callback; the losses per epoch."""
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    callback = keras.callbacks.TensorBoard(log_dir=str(log_dir))
    history = model.fit(x, y, epochs=epochs, batch_size=16, callbacks=[callback], verbose=0)
    return history.history["loss"]


def test_fit_writes_event_files_that_tensorboard_reads(tmp_path: Path) -> None:
    import tensorflow as tf
    from tensorboard.backend.event_processing import event_accumulator

    losses = short_fit(tmp_path / "logs" / "02")
    train_dir = tmp_path / "logs" / "02" / "train"
    assert list(train_dir.glob("events.out.tfevents.*")), "no event file written"

    accumulator = event_accumulator.EventAccumulator(
        str(train_dir), size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    assert "epoch_loss" in accumulator.Tags()["tensors"]
    events = accumulator.Tensors("epoch_loss")
    assert [e.step for e in events] == [0, 1, 2]
    logged = [float(tf.make_ndarray(e.tensor_proto)) for e in events]
    np.testing.assert_allclose(logged, losses, rtol=1e-6)


@pytest.mark.parametrize("lab", LABS_WITH_TENSORBOARD)
def test_labs_have_the_tensorboard_cell(lab: str) -> None:
    """The switch, the callback writing under logs/, and the cell that shows them."""
    sources = [c.source for c in solutions.read(solutions.solution_path(lab)).cells]
    assert any("USE_TENSORBOARD = False" in s for s in sources)
    assert any(f'keras.callbacks.TensorBoard(log_dir="logs/{lab[:2]}")' in s for s in sources)
    assert tensorboard_cell(lab)


def tensorboard_cell(lab: str) -> str:
    cells = solutions.read(solutions.solution_path(lab)).cells
    (source,) = [c.source for c in cells if "%tensorboard --logdir logs" in c.source]
    return source


@pytest.mark.notebook  # a kernel and a TensorBoard server: half a minute or more
def test_the_labs_tensorboard_cell_serves_the_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run lab 02's cell as a learner with USE_TENSORBOARD = True would, in the workshop kernel
    as the setup registers it, with the environment's bin folder off PATH (Jupyter started as
    `.venv/bin/python -m jupyter lab`): TensorBoard starts and serves the callback's run."""
    from nbclient import NotebookClient
    from tensorboard import manager

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    scripts = os.path.dirname(kernel.kernel_environment()["TENSORBOARD_BINARY"])
    path = [d for d in os.environ["PATH"].split(os.pathsep) if os.path.abspath(d) != scripts]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    kernel.register(prefix=tmp_path / "env")

    short_fit(tmp_path / "logs" / "02", epochs=1)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("USE_TENSORBOARD = True"),
        nbformat.v4.new_code_cell(tensorboard_cell("02_logistic_regression")),
    ]
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name=kernel.KERNEL_NAME,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    before = {info.pid for info in manager.get_all()}
    try:
        with client.setup_kernel():  # the kernel lives on, as in JupyterLab
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            started = [i for i in manager.get_all() if i.pid not in before]
            assert len(started) == 1, nb.cells[1].outputs
            assert str(started[0].port) in json.dumps(nb.cells[1].outputs)  # the panel shows it
            url = f"http://localhost:{started[0].port}/data/runs"
            with urllib.request.urlopen(url, timeout=30) as response:
                assert "02/train" in json.load(response)
    finally:
        for info in manager.get_all():
            if info.pid not in before:
                os.kill(info.pid, signal.SIGTERM)
                manager.remove_info_file(info.pid)
