"""The processors by name, the CPU's and those of the GPUs TensorFlow uses: one lookup for
main.py, the labs and the benchmark."""

from __future__ import annotations

import contextlib
import platform
import subprocess
from pathlib import Path
from typing import Any


def cpu_name() -> str | None:
    """The CPU's marketing name ("AMD EPYC 7B13"), or None when the OS does not say."""
    system = platform.system()
    if system == "Linux":
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Model") and value.strip():
                    return value.strip()
    elif system == "Darwin":
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            args = ["sysctl", "-n", "machdep.cpu.brand_string"]
            done = subprocess.run(args, capture_output=True, text=True, timeout=5, check=True)
            if done.stdout.strip():
                return done.stdout.strip()
    elif system == "Windows":
        import winreg

        path = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
        with contextlib.suppress(OSError), winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path) as key:
            return str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).strip()
    return platform.processor() or None


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
