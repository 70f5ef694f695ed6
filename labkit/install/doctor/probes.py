"""Facts that need no TensorFlow: package versions, the OS, CPU and RAM, the environment
variables that matter, and the GPUs the NVIDIA driver lists (``nvidia-smi``)."""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from labkit import settings
from labkit.devices import cpu_name
from labkit.errors import first_line
from labkit.install.doctor.report import Report, Unavailable, probe

VERSIONS_SHOWN = ("keras", "numpy", "pandas", "matplotlib", "jupyterlab")
# Keras backend -> the module it imports.
KERAS_BACKEND_MODULES = {
    "tensorflow": "tensorflow",
    "jax": "jax",
    "torch": "torch",
    "numpy": "numpy",
    "openvino": "openvino",
}
ENV_VARS = (
    "CUDA_VISIBLE_DEVICES",
    "LD_LIBRARY_PATH",
    "KERAS_BACKEND",
    "MPLBACKEND",
    "TF_USE_LEGACY_KERAS",
    *(setting.name for setting in settings.SETTINGS),
)
NVIDIA_SMI_FIELDS = "name,driver_version,memory.total,compute_cap"


def dist_version(name: str) -> str:
    """An installed distribution's version, without importing it."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        raise Unavailable("not installed") from None


def run_cmd(args: list[str], timeout: float = 5) -> str:
    """stdout of a short command; Unavailable when it is missing or fails."""
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise Unavailable(f"unavailable ({args[0]}: {first_line(exc)})") from None
    return out.stdout.strip()


# ---------------------------------------------------------------------------- versions


def tensorflow_distributions() -> dict[str, str]:
    """The installed distributions that put files in ``tensorflow/``: name -> version (two of
    them, ``tensorflow`` and ``tensorflow-cpu`` say, overwrite each other's files)."""
    from labkit.install.locks import installed_tensorflows

    return installed_tensorflows()


def tensorflow_dist(installed: dict[str, str]) -> str:
    """'2.21.0 (tensorflow-cpu)': the installed TensorFlow distribution(s)."""
    if not installed:
        raise Unavailable("not installed")
    return ", ".join(f"{version} ({name})" for name, version in installed.items())


def labkit_version() -> str:
    """labkit's version and where it is imported from."""
    import labkit

    return f"{labkit.__version__} ({Path(labkit.__file__).resolve().parent})"


def keras_config_path() -> Path:
    """Keras's config file (``$KERAS_HOME/keras.json``, default ``~/.keras/keras.json``)."""
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(home) / "keras.json"


def configured_keras_backend() -> tuple[str, str]:
    """The backend Keras will pick, and what says so: $KERAS_BACKEND, keras.json, the default."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], "the KERAS_BACKEND variable"
    config = keras_config_path()
    if config.is_file():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            return str(json.loads(config.read_text())["backend"]), str(config)
    return "tensorflow", "the default"


def collect_versions(report: Report, strict: bool = False) -> None:
    """Versions that need no heavy import (TensorFlow's is refined after importing it)."""
    v = report.versions
    v["python"] = platform.python_version()
    v["tensorflow_distributions"] = tensorflow_distributions()
    probe(report, "versions.tensorflow", tensorflow_dist, v["tensorflow_distributions"])
    for name in (*VERSIONS_SHOWN, "tensorflow-metal"):
        probe(report, f"versions.{name}", dist_version, name, strict=strict)
    probe(report, "versions.labkit", labkit_version, strict=strict)
    backend, source = configured_keras_backend()
    v["keras_backend_configured"], v["keras_backend_source"] = backend, source
    module = KERAS_BACKEND_MODULES.get(backend)
    v["keras_backend_installed"] = bool(module and importlib.util.find_spec(module))


# ---------------------------------------------------------------------------- system


def os_description() -> str:
    """OS name and version, e.g. 'Linux 6.8.0 (Ubuntu 24.04 LTS)' or 'macOS 14.5'."""
    system = platform.system()
    if system == "Darwin":
        return f"macOS {platform.mac_ver()[0]}"
    if system == "Windows":
        return f"Windows {platform.release()} ({platform.version()})"
    text = f"{system} {platform.release()}"
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                text += f" ({line.split('=', 1)[1].strip(chr(34))})"
    return text


def is_wsl() -> bool:
    """True under WSL (Windows Subsystem for Linux): /proc/version mentions Microsoft."""
    try:
        return "microsoft" in Path("/proc/version").read_text().lower()
    except OSError:
        return False


def cpu_model() -> str:
    """The CPU's marketing name."""
    name = cpu_name()
    if name is None:
        raise Unavailable("unavailable (no CPU name reported by the OS)")
    return name


def usable_cores() -> int:
    """Cores this process may use (fewer than the machine's in containers and under taskset)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 0


def ram_bytes() -> tuple[int, int | None]:
    """(total, available) physical memory in bytes; available may be None."""
    system = platform.system()
    if system == "Linux":
        info = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info[key] = int(value.split()[0]) * 1024
        return info["MemTotal"], info.get("MemAvailable")
    if system == "Darwin":
        return int(run_cmd(["sysctl", "-n", "hw.memsize"])), None
    if system == "Windows":
        return windows_ram()
    raise Unavailable(f"unavailable (not implemented for {system})")


def windows_ram() -> tuple[int, int]:
    """(total, available) physical memory via GlobalMemoryStatusEx."""

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [  # noqa: RUF012 (ctypes wants a plain list)
            ("dwLength", ctypes.c_ulong),
            ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong),
            ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong),
            ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong),
            ("ullAvailVirtual", ctypes.c_ulonglong),
            ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        raise Unavailable("unavailable (GlobalMemoryStatusEx failed)")
    return int(status.ullTotalPhys), int(status.ullAvailPhys)


def gib(n: int | None) -> float | None:
    """Bytes to GiB, one decimal."""
    return None if n is None else round(n / 2**30, 1)


def setup_python() -> str:
    """The interpreter Scripts/environment.* set up (``.labkit-python``), if not this one."""
    from labkit.paths import REPO_ROOT

    marker = REPO_ROOT / ".labkit-python"
    try:
        python = marker.read_text().strip()
    except OSError:
        raise Unavailable("no .labkit-python: the setup script has not finished here") from None
    # Environments, not resolved paths: a venv's python links to the Python that made it.
    if not python or _environment_of(python) == Path(sys.prefix).resolve():
        raise Unavailable("the running Python is the one the setup script made")
    return python


def _environment_of(python: str) -> Path:
    """The folder of the environment an interpreter belongs to (venv or conda, any OS)."""
    folder = Path(python).absolute().parent
    return (folder.parent if folder.name.lower() in ("bin", "scripts") else folder).resolve()


def collect_system(report: Report, strict: bool = False) -> None:
    """OS, CPU, RAM, interpreter and the environment variables that matter."""
    s = report.system
    s["platform"] = platform.system()
    s["machine"] = platform.machine()
    probe(report, "system.os", os_description, strict=strict)
    s["wsl"] = is_wsl()
    probe(report, "system.cpu", cpu_model, strict=strict)
    s["logical_cores"] = os.cpu_count()
    probe(report, "system.usable_cores", usable_cores, strict=strict)
    ram = probe(report, "system.ram", ram_bytes, strict=strict)
    s["ram_total_gib"] = gib(ram[0]) if ram else None
    s["ram_available_gib"] = gib(ram[1]) if ram else None
    s.pop("ram", None)
    if "system.ram" in report.reasons:
        reason = report.reasons.pop("system.ram")
        report.reasons["system.ram_total_gib"] = report.reasons["system.ram_available_gib"] = reason
    elif s["ram_available_gib"] is None:
        report.reasons["system.ram_available_gib"] = "unavailable (not reported by this OS)"
    s["python_executable"] = sys.executable
    s["env"] = {name: os.environ.get(name) for name in ENV_VARS}
    report.reasons["system.env"] = "null means the variable is not set"
    probe(report, "system.setup_python", setup_python, strict=strict)


# ---------------------------------------------------------------------------- NVIDIA driver


def find_nvidia_smi() -> str | None:
    """nvidia-smi on PATH, or where WSL2 puts it."""
    found = shutil.which("nvidia-smi")
    if found is None and Path("/usr/lib/wsl/lib/nvidia-smi").is_file():
        found = "/usr/lib/wsl/lib/nvidia-smi"
    return found


def start_nvidia_smi() -> subprocess.Popen[str] | None:
    """Start the nvidia-smi query now, so it runs while TensorFlow imports."""
    exe = find_nvidia_smi()
    if exe is None:
        return None
    cmd = [exe, f"--query-gpu={NVIDIA_SMI_FIELDS}", "--format=csv,noheader"]
    try:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError:
        return None


def nvidia_smi_gpus(proc: subprocess.Popen[str] | None) -> list[dict[str, Any]]:
    """The GPUs the NVIDIA driver reports (empty list: the driver lists none)."""
    if proc is None:
        raise Unavailable("no NVIDIA driver found (nvidia-smi is not on PATH)")
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise Unavailable("unavailable (nvidia-smi did not answer in 15 s)") from None
    if proc.returncode != 0 and "compute_cap" in out:  # drivers older than 510 lack the field
        fields = NVIDIA_SMI_FIELDS.replace(",compute_cap", "")
        out = run_cmd([str(proc.args[0]), f"--query-gpu={fields}", "--format=csv,noheader"], 15)
    elif proc.returncode != 0:
        raise Unavailable(f"nvidia-smi failed: {first_line(out)}")
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")] + [None] * 4
        name, driver, memory, cc = parts[:4]
        gpus.append({"name": name, "driver_version": driver, "memory": memory, "compute": cc})
    return gpus
