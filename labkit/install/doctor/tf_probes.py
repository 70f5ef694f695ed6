"""What TensorFlow itself says: its import (quietly, with the real cause when it fails), the
Keras backend, the devices it lists, the CUDA facts of its build, and a smoke test."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import time
from types import TracebackType
from typing import Any

from labkit.devices import gpu_details
from labkit.errors import first_line
from labkit.install.doctor.microbench import run_bench
from labkit.install.doctor.report import Report, Unavailable, probe
from labkit.startup_log import captured_stderr

SMOKE_SIZE = 256
SMOKE_RTOL = 1e-2  # max |tf - numpy| / max |numpy|; loose enough for TF32 on Ampere+
CUDA_WHEELS = ("nvidia-cudnn-cu12", "nvidia-cublas-cu12", "nvidia-cuda-runtime-cu12")


def error_origin(tb: TracebackType | None) -> str | None:
    """The top-level package whose code raised (the innermost frame outside importlib)."""
    origin = None
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module and not module.startswith(("importlib", "_frozen_importlib")):
            origin = module.split(".")[0]
        tb = tb.tb_next
    return origin


def distribution_of(module: str) -> str | None:
    """The pip distribution that installs the top-level ``module`` (``yaml`` -> ``PyYAML``)."""
    names = importlib.metadata.packages_distributions().get(module) or []
    return names[0] if names else None


def import_tensorflow(report: Report) -> Any:
    """Import TensorFlow; record its status (and, on failure, who raised). The module, or None."""
    t = report.tensorflow
    start = time.perf_counter()
    try:
        import tensorflow as tf
    except Exception as exc:  # broken installs raise anything (OSError, AttributeError, ...)
        if isinstance(exc, ImportError) and exc.name == "tensorflow":
            t["status"], t["error"] = "not installed", None
            report.reasons["tensorflow.error"] = "TensorFlow is not installed"
            return None
        t["status"], t["error"] = "import failed", f"{type(exc).__name__}: {first_line(exc)}"
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            t["error_origin"] = exc.name.split(".")[0]  # the module that is missing
        else:
            t["error_origin"] = error_origin(exc.__traceback__)
        with contextlib.suppress(Exception):
            t["error_origin_dist"] = distribution_of(t["error_origin"] or "")
        return None
    t["status"], t["error"] = "ok", None
    report.reasons["tensorflow.error"] = "no error: TensorFlow imported"
    t["import_s"] = round(time.perf_counter() - start, 2)
    report.versions["tensorflow"] = tf.__version__
    return tf


def keras_backend() -> str:
    """The backend Keras actually runs on."""
    try:
        import keras
    except Exception as exc:
        raise Unavailable(f"unavailable (import keras: {first_line(exc)})") from None
    return str(keras.backend.backend())


def enable_memory_growth(tf: Any) -> None:
    """Don't grab all GPU memory: the smoke test must work next to a running notebook."""
    for gpu in tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError, ValueError):
            tf.config.experimental.set_memory_growth(gpu, True)


def list_devices(tf: Any) -> list[dict[str, Any]]:
    """Physical devices TensorFlow lists, with GPU name and compute capability."""
    gpus = {gpu["device"]: gpu for gpu in gpu_details(tf)}
    devices = []
    for dev in tf.config.list_physical_devices():
        entry: dict[str, Any] = {"name": dev.name.replace("/physical_device:", "")}
        entry["type"] = dev.device_type
        if dev.device_type == "GPU":
            gpu = gpus.get(entry["name"], {})
            entry["gpu_name"], entry["compute"] = gpu.get("name"), gpu.get("compute")
        devices.append(entry)
    return devices


def build_info(tf: Any) -> dict[str, Any]:
    """The CUDA facts TensorFlow was built with."""
    info = dict(tf.sysconfig.get_build_info())
    keys = ("is_cuda_build", "cuda_version", "cudnn_version", "cuda_compute_capabilities")
    return {key: info.get(key) for key in keys}


def cuda_wheels() -> dict[str, str]:
    """The NVIDIA pip wheels of ``tensorflow[and-cuda]`` that are installed."""
    found = {}
    for name in CUDA_WHEELS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def smoke_test(tf: Any) -> list[dict[str, Any]]:
    """A float32 matmul on every logical device, compared with NumPy."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (SMOKE_SIZE, SMOKE_SIZE)).astype(np.float32)
    b = rng.uniform(-1, 1, (SMOKE_SIZE, SMOKE_SIZE)).astype(np.float32)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    results = []
    for dev in tf.config.list_logical_devices():
        name = dev.name.replace("/device:", "")
        entry: dict[str, Any] = {"device": name, "ok": False, "rel_error": None, "error": None}
        try:
            start = time.perf_counter()
            with tf.device(dev.name):
                product = tf.matmul(a, b)
            got = product.numpy()
            entry["ms"] = round((time.perf_counter() - start) * 1000, 1)
            entry["placed_on"] = product.device.split("device:")[-1]
            err = float(np.max(np.abs(got - expected)) / np.max(np.abs(expected)))
            entry["rel_error"] = err if np.isfinite(err) else None
            entry["ok"] = bool(np.isfinite(err) and err < SMOKE_RTOL)
            if not entry["ok"]:
                entry["error"] = f"result differs from NumPy (relative error {err:.2g})"
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {first_line(exc)}"
        results.append(entry)
    return results


def collect_tensorflow(report: Report, bench: bool, strict: bool = False) -> str:
    """Import TensorFlow quietly, then list devices, build info, smoke test (and bench).

    Returns what TensorFlow wrote to stderr meanwhile (sorted later, once the NVIDIA driver's
    answer says whether a GPU is expected).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log: list[str] = []
    with captured_stderr(log):
        tf = import_tensorflow(report)
        if tf is not None:
            probe(report, "versions.keras_backend", keras_backend, strict=strict)
            enable_memory_growth(tf)
            probe(report, "tensorflow.devices", list_devices, tf, strict=strict)
            probe(report, "tensorflow.build", build_info, tf, strict=strict)
            probe(report, "smoke", smoke_test, tf, strict=strict)
            if bench:
                probe(report, "bench", run_bench, tf, strict=strict)
    report.tensorflow["cuda_wheels"] = cuda_wheels()
    if tf is None:
        why = "TensorFlow did not import"
        for key in ("tensorflow.devices", "tensorflow.build", "smoke", "versions.keras_backend"):
            section, _, name = key.partition(".")
            if name:
                getattr(report, section)[name] = None
            report.reasons[key] = why
    if not bench:
        report.reasons["bench"] = "not requested (use --bench)"
    return log[0] if log else ""
