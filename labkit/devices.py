"""The GPUs TensorFlow uses, by name: one lookup for main.py, the labs and the benchmark."""

from __future__ import annotations

from typing import Any


def gpu_details(tf: Any) -> list[dict[str, Any]]:
    """For each GPU TensorFlow lists: its device name ("GPU:0"), its model name and its compute
    capability ("8.6"), each None when TensorFlow cannot tell."""
    from labkit.errors import first_line

    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        entry: dict[str, Any] = {"device": gpu.name.replace("/physical_device:", "")}
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except Exception as exc:  # noqa: BLE001 - a driver problem must not stop a report
            details = {"error": first_line(exc)}
        capability = details.get("compute_capability")
        entry["name"] = details.get("device_name")
        entry["compute"] = ".".join(map(str, capability)) if capability else None
        if "error" in details:
            entry["error"] = details["error"]
        found.append(entry)
    return found


def gpu_names(tf: Any) -> list[str]:
    """The model name of each GPU TensorFlow lists ("NVIDIA H100 80GB HBM3"), else its device."""
    return [gpu["name"] or gpu["device"] for gpu in gpu_details(tf)]
