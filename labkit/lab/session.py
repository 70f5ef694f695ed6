"""The first call of every lab notebook: ``labkit.start_lab()``."""

from __future__ import annotations

import os
import sys
import warnings

from labkit import settings
from labkit.devices import gpu_names
from labkit.startup_log import quiet_import

GPU_MENUS = {
    "Colab": "Runtime > Change runtime type > Hardware accelerator: T4 GPU, then run the notebook again",
    "Kaggle": "Settings (right panel) > Accelerator > GPU T4 x2, then run the notebook again",
}


def hosted_platform() -> str | None:
    """'Colab', 'Kaggle', or None when running on the learner's own machine."""
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "Colab"
    if os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
        return "Kaggle"
    return None


def lab_seed() -> int:
    """The seed of this run of the lab: ``$LABKIT_SEED`` when it is set (the benchmark's
    repeats set 42, 43, ...), else 42."""
    return settings.seed()


def start_lab(seed: int | None = None) -> None:
    """Quiet TensorFlow's start-up log, seed every random generator (with `seed`, else
    ``lab_seed()``), and say what runs the lab.

    On Colab or Kaggle without a GPU it names the menu that enables one.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_import():  # no oneDNN or CUDA start-up chatter under the lab's first cell
        import keras
        import tensorflow as tf

    seed = lab_seed() if seed is None else seed
    keras.utils.set_random_seed(seed)
    # Keras warns at every fit() on a tf.data pipeline, which the labs shuffle themselves.
    warnings.filterwarnings("ignore", message="`shuffle=True` was passed", category=UserWarning)
    names = gpu_names(tf)
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__} (backend: {keras.backend.backend()})"
    )
    print(f"Devices: CPU{''.join(f', GPU {n}' for n in names)}")
    mode = "ON: small subset, few epochs (unset LABKIT_FAST to train fully)"
    print(f"Fast mode: {mode if settings.fast() else 'off'}")
    if seed != int(settings.SEED.default):
        usual = settings.SEED.default
        print(f"Seed: {seed} (not the usual {usual}: your figures will differ a little)")
    if settings.time_scale() != 1:
        print(f"Time budgets: x{settings.time_scale():g} (set by {settings.TIME_SCALE.name})")
    platform = hosted_platform()
    if not names and platform:
        print(
            f"No GPU on {platform}: the labs run on the CPU, slower. To use one: {GPU_MENUS[platform]}."
        )
    if keras.backend.backend() != "tensorflow":
        print("Warning: Keras is not using TensorFlow. Set KERAS_BACKEND=tensorflow and restart.")
