"""Check the workshop environment: what ``python main.py`` reports.

Collects versions, system facts, the devices TensorFlow sees and what the NVIDIA driver
reports, runs a small matmul smoke test on every device (and an optional micro-benchmark),
then turns it all into PASS/INFO/WARN/FAIL lines, each WARN/FAIL with its fix.

Only the standard library is imported at module level, so the report still runs (and says
what to do) when TensorFlow, NumPy or the rest of the environment is missing. Every probe
goes through :func:`probe`: a failing probe leaves ``None`` plus a reason in
``Report.reasons`` instead of crashing. ``diagnose`` is pure: it reads a :class:`Report`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import faulthandler
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from labkit.devices import gpu_details
from labkit.errors import first_line

SUPPORTED_PYTHON = ((3, 10), (3, 13))  # inclusive range of minor versions
TESTED_TF = "2.21"  # the labs are tested with this TensorFlow minor version
ENV_SCRIPT = "bash Scripts/environment.sh"
ENV_SCRIPT_WIN = r"Scripts\environment.bat"
FETCH_CMD = "python -m labkit data fetch"
SMOKE_SIZE = 256
SMOKE_RTOL = 1e-2  # max |tf - numpy| / max |numpy|; loose enough for TF32 on Ampere+
NVIDIA_SMI_FIELDS = "name,driver_version,memory.total,compute_cap"
TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel")
CUDA_WHEELS = ("nvidia-cudnn-cu12", "nvidia-cublas-cu12", "nvidia-cuda-runtime-cu12")
ENV_VARS = ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "KERAS_BACKEND", "LABKIT_DATA_DIR")
# TensorFlow start-up lines worth keeping (the rest is routine noise).
NOTABLE_LOG = re.compile(
    r"Could not find cuda drivers|Cannot dlopen|Could not load dynamic library|cuInit|"
    r"Ignoring visible gpu device|minimum required Cuda capability|^[EF]\d{4} ",
)
LOG_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:. ]+\s+\d+ \S+\] ")

_STRICT = False  # --debug: let unexpected exceptions in probes propagate


class Unavailable(Exception):
    """An expected, explained failure of a probe; its message is the reason shown."""


class Finding(NamedTuple):
    """One diagnosis line."""

    level: str  # PASS, INFO, WARN or FAIL
    message: str
    fix: str = ""


@dataclass
class Report:
    """Everything main.py found; ``None`` values have their reason in ``reasons``."""

    versions: dict[str, Any] = field(default_factory=dict)
    system: dict[str, Any] = field(default_factory=dict)
    tensorflow: dict[str, Any] = field(default_factory=dict)
    driver: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, Any] | None = None
    smoke: list[dict[str, Any]] | None = None
    bench: dict[str, Any] | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    diagnosis: list[Finding] = field(default_factory=list)
    elapsed_s: float | None = None


# ---------------------------------------------------------------------------- probing


def probe(report: Report, key: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Store ``fn(*args)`` at ``key`` ("section" or "section.name"); on failure None + reason."""
    try:
        value, reason = fn(*args), None
    except Unavailable as exc:
        value, reason = None, str(exc)
    except Exception as exc:
        if _STRICT:
            raise
        value, reason = None, f"unavailable ({type(exc).__name__}: {first_line(exc)})"
    section, _, name = key.partition(".")
    if name:
        getattr(report, section)[name] = value
    else:
        setattr(report, section, value)
    if reason is not None:
        report.reasons[key] = reason
    return value


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


def tensorflow_dist() -> str:
    """'2.21.0 (tensorflow)': the installed TensorFlow distribution, read from metadata."""
    for name in TF_DISTRIBUTIONS:
        with contextlib.suppress(Unavailable):
            return f"{dist_version(name)} ({name})"
    raise Unavailable("not installed")


def labkit_version() -> str:
    """labkit's version and where it is imported from."""
    import labkit

    return f"{labkit.__version__} ({Path(labkit.__file__).resolve().parent})"


def configured_keras_backend() -> str:
    """The backend Keras will pick: $KERAS_BACKEND, else keras.json, else tensorflow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = keras_config_path()
    if config.is_file():
        with contextlib.suppress(OSError, ValueError):
            return str(json.loads(config.read_text()).get("backend", "tensorflow"))
    return "tensorflow"


def keras_config_path() -> Path:
    """Keras's config file (``$KERAS_HOME/keras.json``, default ``~/.keras/keras.json``)."""
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(home) / "keras.json"


def collect_versions(report: Report) -> None:
    """Versions that need no heavy import (TensorFlow's is refined after importing it)."""
    report.versions["python"] = platform.python_version()
    probe(report, "versions.tensorflow", tensorflow_dist)
    for name in ("keras", "numpy", "pandas", "matplotlib", "jupyterlab", "notebook"):
        probe(report, f"versions.{name}", dist_version, name)
    probe(report, "versions.tensorflow-metal", dist_version, "tensorflow-metal")
    probe(report, "versions.labkit", labkit_version)
    report.versions["keras_backend_configured"] = configured_keras_backend()


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
    system = platform.system()
    if system == "Linux":
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Model") and value.strip():
                    return value.strip()
    elif system == "Darwin":
        return run_cmd(["sysctl", "-n", "machdep.cpu.brand_string"])
    elif system == "Windows":
        import winreg

        path = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path) as key:
            return str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).strip()
    if platform.processor():
        return platform.processor()
    raise Unavailable("unavailable (no CPU name reported by the OS)")


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


def collect_system(report: Report) -> None:
    """OS, CPU, RAM, interpreter and the environment variables that matter."""
    s = report.system
    s["platform"] = platform.system()
    s["machine"] = platform.machine()
    probe(report, "system.os", os_description)
    s["wsl"] = is_wsl()
    probe(report, "system.cpu", cpu_model)
    s["logical_cores"] = os.cpu_count()
    probe(report, "system.usable_cores", usable_cores)
    ram = probe(report, "system.ram", ram_bytes)
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
        raise Unavailable("nvidia-smi not found (no NVIDIA driver, or not on PATH)")
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


# ---------------------------------------------------------------------------- TensorFlow


@contextlib.contextmanager
def captured_stderr(sink: list[str]) -> Iterator[None]:
    """Send fd 2 to a temporary file (C++ logs included); append what was written to sink.

    A native crash inside still reports on the real stderr (faulthandler), and if an
    exception escapes, the captured text is written back so nothing is lost.
    """
    if sys.stderr is not None:
        sys.stderr.flush()
    saved = os.dup(2)
    crash_file = os.fdopen(os.dup(saved), "w")
    had_faulthandler = faulthandler.is_enabled()
    faulthandler.enable(file=crash_file)
    ok = False
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
            ok = True
        finally:
            if sys.stderr is not None:
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            faulthandler.disable()
            if had_faulthandler:
                faulthandler.enable()
            crash_file.close()
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
            sink.append(text)
            if not ok and sys.stderr is not None:
                sys.stderr.write(text)


def notable_log_lines(text: str) -> list[str]:
    """TensorFlow start-up lines that explain GPU problems, without their log prefix."""
    lines = []
    for line in text.splitlines():
        if NOTABLE_LOG.search(line):
            clean = LOG_PREFIX.sub("", line).strip()
            if clean not in lines:
                lines.append(clean)
    return lines


def import_tensorflow(report: Report) -> Any:
    """Import TensorFlow; record its status. Returns the module, or None."""
    t = report.tensorflow
    start = time.perf_counter()
    try:
        import tensorflow as tf
    except ImportError as exc:
        if exc.name == "tensorflow":
            t["status"], t["error"] = "not installed", None
            report.reasons["tensorflow.error"] = "TensorFlow is not installed"
        else:
            t["status"], t["error"] = "import failed", f"{type(exc).__name__}: {first_line(exc)}"
        return None
    except Exception as exc:  # broken installs raise anything (OSError, AttributeError, ...)
        t["status"], t["error"] = "import failed", f"{type(exc).__name__}: {first_line(exc)}"
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
        with contextlib.suppress(Unavailable):
            found[name] = dist_version(name)
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


def rate(tf: Any, fn: Callable[[], Any], flops: float, seconds: float) -> float:
    """GFLOP/s of ``fn`` over about ``seconds``, after one warm-up call."""

    def sync(x: Any) -> None:
        tf.reshape(x, [-1])[:1].numpy()  # forces the (possibly asynchronous) op to finish

    sync(fn())
    count, start = 0, time.perf_counter()
    while True:
        sync(fn())
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return round(flops * count / elapsed / 1e9, 1)


def bench_device(tf: Any, device: str, gpu: bool, seconds: float = 0.4) -> dict[str, Any]:
    """matmul and conv2d throughput on one device (bigger problems on a GPU)."""
    n, batch = (4096, 64) if gpu else (1024, 8)
    with tf.device(device):
        a = tf.random.uniform((n, n))
        b = tf.random.uniform((n, n))
        x = tf.random.uniform((batch, 64, 64, 32))
        k = tf.random.uniform((3, 3, 32, 64))
        matmul = rate(tf, lambda: tf.matmul(a, b), 2 * n**3, seconds)
        conv_flops = 2 * batch * 64 * 64 * 3 * 3 * 32 * 64
        conv = rate(tf, lambda: tf.nn.conv2d(x, k, 1, "SAME"), conv_flops, seconds)
    return {
        "device": device.replace("/device:", ""),
        "matmul_gflops": matmul,
        "matmul_shape": f"{n}x{n}",
        "conv2d_gflops": conv,
        "conv2d_shape": f"{batch}x64x64x32 * 3x3x32x64",
    }


def run_bench(tf: Any) -> dict[str, Any]:
    """Micro-benchmark every device; the GPU/CPU speed-up when there is a GPU."""
    devices = [
        bench_device(tf, dev.name, dev.device_type == "GPU")
        for dev in tf.config.list_logical_devices()
        if dev.device_type in ("CPU", "GPU")
    ]
    cpu = next((d for d in devices if d["device"].startswith("CPU")), None)
    gpu = next((d for d in devices if d["device"].startswith("GPU")), None)
    speedup = None
    if cpu and gpu:
        speedup = {
            op: round(gpu[f"{op}_gflops"] / cpu[f"{op}_gflops"], 1) for op in ("matmul", "conv2d")
        }
    return {"devices": devices, "speedup": speedup}


def collect_tensorflow(report: Report, bench: bool) -> None:
    """Import TensorFlow quietly, then list devices, build info, smoke test (and bench)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log: list[str] = []
    with captured_stderr(log):
        tf = import_tensorflow(report)
        if tf is not None:
            probe(report, "versions.keras_backend", keras_backend)
            enable_memory_growth(tf)
            probe(report, "tensorflow.devices", list_devices, tf)
            probe(report, "tensorflow.build", build_info, tf)
            probe(report, "smoke", smoke_test, tf)
            if bench:
                probe(report, "bench", run_bench, tf)
    report.tensorflow["cuda_wheels"] = cuda_wheels()
    report.tensorflow["log_lines_hidden"] = len(log[0].splitlines()) if log else 0
    report.tensorflow["log"] = notable_log_lines(log[0]) if log else []
    if tf is None:
        why = "TensorFlow did not import"
        for key in ("tensorflow.devices", "tensorflow.build", "smoke", "versions.keras_backend"):
            section, _, name = key.partition(".")
            if name:
                getattr(report, section)[name] = None
            report.reasons[key] = why
    if not bench:
        report.reasons["bench"] = "not requested (use --bench)"


# ---------------------------------------------------------------------------- datasets


def check_datasets() -> dict[str, Any]:
    """Where each dataset was found (existence only), via labkit.datasets."""
    try:
        from labkit.datasets import DATASETS, find
    except Exception as exc:
        raise Unavailable(
            f"unavailable (labkit.datasets did not import: {type(exc).__name__}: {first_line(exc)})"
        ) from None
    found = {}
    for name, dataset in DATASETS.items():
        folder = find(name)
        found[name] = {
            "required": bool(dataset.required),
            "path": str(folder) if folder else None,
            "files": list(dataset.files),
        }
    return found


# ---------------------------------------------------------------------------- diagnosis


def parse_arch(entry: str) -> tuple[str, tuple[int, int]] | None:
    """'sm_80' -> ('sm', (8, 0)); 'compute_90' -> ('compute', (9, 0)); '8.6' -> ('sm', (8, 6))."""
    m = re.fullmatch(r"\s*(?:(sm|compute)_)?(\d+)(?:\.(\d+))?([af]?)\s*", str(entry))
    if m is None:
        return None
    kind = m.group(1) or "sm"
    if m.group(3) is not None:
        version = (int(m.group(2)), int(m.group(3)))
    elif len(m.group(2)) >= 2:
        version = (int(m.group(2)[:-1]), int(m.group(2)[-1]))
    else:
        version = (int(m.group(2)), 0)
    return ("sm_exact" if m.group(4) and kind == "sm" else kind), version


def cc_support(compute: str, build_caps: list[str]) -> str:
    """How a build runs on a GPU: 'native' (has its binaries), 'ptx' (JIT) or 'none'."""
    gpu = parse_arch(compute)
    if gpu is None:
        return "unknown"
    have = [p for p in map(parse_arch, build_caps) if p is not None]
    major, minor = gpu[1]
    for kind, (cmaj, cmin) in have:
        if kind == "sm" and cmaj == major and cmin <= minor:
            return "native"  # binaries run on later minor versions of the same major
        if kind == "sm_exact" and (cmaj, cmin) == (major, minor):
            return "native"
    if any(kind == "compute" and version <= gpu[1] for kind, version in have):
        return "ptx"
    return "none"


def gpu_list(report: Report, source: str) -> list[dict[str, Any]]:
    """GPUs seen by 'tf' or by the 'driver' (empty when unknown)."""
    if source == "tf":
        return [d for d in report.tensorflow.get("devices") or [] if d.get("type") == "GPU"]
    return list(report.driver.get("gpus") or [])


def is_windows_native(report: Report) -> bool:
    return report.system.get("platform") == "Windows"


def env_fix(var: str, value: str | None, report: Report) -> str:
    """How to set (or unset, value None) an environment variable on this OS."""
    if is_windows_native(report):
        return f"set {var}={value or ''}" + ("  (PowerShell: $env:" + f'{var}="{value or ""}")')
    return f"export {var}={value}" if value is not None else f"unset {var}"


def diagnose_python(report: Report) -> list[Finding]:
    version = report.versions.get("python") or "0.0"
    minor = tuple(int(p) for p in version.split(".")[:2])
    low, high = SUPPORTED_PYTHON
    if low <= minor <= high:
        return [Finding("PASS", f"Python {version} is supported (3.10-3.13)")]
    return [
        Finding(
            "FAIL",
            f"Python {version} is not supported: the labs need Python 3.10-3.13",
            f"Create the workshop environment with a supported Python: {ENV_SCRIPT} "
            f"(Windows: {ENV_SCRIPT_WIN}), then run main.py with that environment's python.",
        )
    ]


def setup_fix(report: Report) -> str:
    """How to (re)create the environment, and how to use it when it already exists."""
    script = ENV_SCRIPT_WIN if is_windows_native(report) else ENV_SCRIPT
    python = report.system.get("setup_python")
    if python:
        return (
            f"The setup script made an environment with {python}: run `{python} main.py` "
            f"(or activate that environment). Otherwise set it up again: {script}"
        )
    return f"Set up the workshop environment: {script}"


def diagnose_tensorflow(report: Report) -> list[Finding]:
    t = report.tensorflow
    status = t.get("status")
    if status == "not installed":
        return [
            Finding(
                "FAIL",
                f"TensorFlow is not installed in this Python ({report.system.get('python_executable')})",
                setup_fix(report),
            )
        ]
    if status != "ok":
        fix = setup_fix(report) + " (add --force to reinstall the packages)"
        if "DLL load failed" in str(t.get("error")):
            fix += "\nOn Windows also install the Microsoft Visual C++ Redistributable (x64)."
        return [Finding("FAIL", f"TensorFlow fails to import: {t.get('error')}", fix)]
    version = str(report.versions.get("tensorflow"))
    findings = [Finding("PASS", f"TensorFlow {version} imports")]
    if not version.startswith(TESTED_TF + "."):
        findings.append(
            Finding(
                "WARN",
                f"TensorFlow {version} is not the tested version {TESTED_TF}.x",
                f"Update the environment: {ENV_SCRIPT} (Windows: {ENV_SCRIPT_WIN})",
            )
        )
    return findings


def diagnose_keras(report: Report) -> list[Finding]:
    v = report.versions
    backend = v.get("keras_backend") or v.get("keras_backend_configured")
    keras_version = str(v.get("keras") or "")
    findings = []
    if keras_version and keras_version[0].isdigit() and int(keras_version.split(".")[0]) < 3:
        findings.append(
            Finding(
                "WARN",
                f"Keras {keras_version} is Keras 2; the labs use Keras 3",
                f'pip install "keras>=3.10,<4"  (or {ENV_SCRIPT} --force)',
            )
        )
    if backend and backend != "tensorflow":
        where = (
            "the KERAS_BACKEND variable"
            if os.environ.get("KERAS_BACKEND") or (v.get("keras_backend_configured") == backend)
            else "keras.json"
        )
        findings.append(
            Finding(
                "WARN",
                f"Keras runs on the '{backend}' backend (set by {where}); the labs need 'tensorflow'",
                f'{env_fix("KERAS_BACKEND", "tensorflow", report)}, or set "backend": '
                f'"tensorflow" in {keras_config_path()}',
            )
        )
    elif backend == "tensorflow" and v.get("keras_backend"):
        findings.append(Finding("PASS", "Keras uses the TensorFlow backend"))
    return findings


def gpu_missing_causes(report: Report) -> list[str]:
    """Likely causes of 'the driver sees a GPU, TensorFlow does not', each with its fix."""
    env = report.system.get("env") or {}
    tf_version = str(report.versions.get("tensorflow") or f"{TESTED_TF}.*")
    build = report.tensorflow.get("build") or {}
    install = f'pip install "tensorflow[and-cuda]=={tf_version}"  (or {ENV_SCRIPT} --gpu --force)'
    causes = []
    cvd = env.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None and cvd.strip() in ("", "-1", "none", "NoDevFiles"):
        causes.append(
            f"CUDA_VISIBLE_DEVICES={cvd!r} hides every GPU. Fix: unset CUDA_VISIBLE_DEVICES"
        )
    if build.get("is_cuda_build") is False:
        causes.append(f"This TensorFlow is a CPU-only build. Fix: {install}")
    elif report.system.get("platform") == "Linux" and not report.tensorflow.get("cuda_wheels"):
        causes.append(
            "The CUDA libraries of the tensorflow[and-cuda] extra are not installed "
            f"(CPU-only setup). Fix: {install}"
        )
    ld = env.get("LD_LIBRARY_PATH") or ""
    if re.search(r"cuda|cudnn|nvidia", ld, re.IGNORECASE):
        causes.append(
            f"LD_LIBRARY_PATH={ld} points at another CUDA, which shadows the one TensorFlow "
            "needs. Fix: unset LD_LIBRARY_PATH (and remove it from ~/.bashrc)"
        )
    caps = build.get("cuda_compute_capabilities") or []
    for gpu in gpu_list(report, "driver"):
        if gpu.get("compute") and caps and cc_support(gpu["compute"], caps) == "none":
            causes.append(
                f"{gpu.get('name')} has compute capability {gpu['compute']}, which this "
                "TensorFlow build does not support (see below)"
            )
    if not causes:
        causes.append(
            "Unknown. Fix: recreate the environment with "
            f"{ENV_SCRIPT} --gpu --force, then run python main.py again"
        )
    return causes


def diagnose_gpu(report: Report) -> list[Finding]:
    driver_gpus, tf_gpus = gpu_list(report, "driver"), gpu_list(report, "tf")
    if report.tensorflow.get("status") != "ok":
        return []
    names = ", ".join(str(g.get("name")) for g in driver_gpus)
    if driver_gpus and not tf_gpus:
        log = report.tensorflow.get("log") or []
        said = ("\nTensorFlow said: " + " | ".join(log[:3])) if log else ""
        if is_windows_native(report):
            return [
                Finding(
                    "WARN",
                    f"The NVIDIA driver sees {names}, but TensorFlow >= 2.11 has no GPU "
                    "support on native Windows: the labs run on the CPU",
                    "For the GPU, use WSL2: install Ubuntu in WSL2 and run "
                    f"{ENV_SCRIPT} --gpu inside it (the Windows driver is enough)",
                )
            ]
        causes = gpu_missing_causes(report)
        return [
            Finding(
                "FAIL",
                f"The NVIDIA driver sees {names}, but TensorFlow lists no GPU: "
                f"training would run on the CPU (likely causes and fixes below).{said}",
                "\n".join(f"{i}) {cause}" for i, cause in enumerate(causes, 1)),
            )
        ]
    if "driver.gpus" in report.reasons and report.reasons["driver.gpus"].startswith(
        "nvidia-smi failed"
    ):
        return [
            Finding(
                "WARN",
                f"nvidia-smi is installed but does not work ({report.reasons['driver.gpus']})",
                "Reboot (a driver update needs one); if it persists, reinstall the NVIDIA "
                "driver. The labs also run on the CPU.",
            )
        ]
    if tf_gpus:
        listed = ", ".join(f"{g['name']} ({g.get('gpu_name')})" for g in tf_gpus)
        return [Finding("PASS", f"TensorFlow uses the GPU: {listed}")]
    return [Finding("INFO", "No GPU: TensorFlow runs on the CPU (fine for the labs, slower)")]


def diagnose_compute_capability(report: Report) -> list[Finding]:
    caps = (report.tensorflow.get("build") or {}).get("cuda_compute_capabilities") or []
    if not caps:
        return []
    seen: dict[str, str] = {}
    for gpu in gpu_list(report, "tf"):
        if gpu.get("compute"):
            seen.setdefault(str(gpu["compute"]), str(gpu.get("gpu_name") or gpu["name"]))
    for gpu in gpu_list(report, "driver"):
        if gpu.get("compute"):
            seen.setdefault(str(gpu["compute"]), str(gpu.get("name")))
    findings = []
    built = " ".join(map(str, caps))
    for cc, name in seen.items():
        support = cc_support(cc, caps)
        if support == "ptx":
            findings.append(
                Finding(
                    "WARN",
                    f"{name} (compute capability {cc}) has no native kernels in this "
                    f"TensorFlow build ({built}): they are JIT-compiled from PTX, so the "
                    "first run can take minutes",
                    "Usually fine, just wait on first use. If GPU ops fail, use a TensorFlow "
                    "release built for this GPU (see tensorflow.org/install/pip).",
                )
            )
        elif support == "none":
            findings.append(
                Finding(
                    "FAIL",
                    f"{name} has compute capability {cc}, which this TensorFlow build "
                    f"does not support ({built}): TensorFlow cannot use this GPU",
                    "Run the labs on the CPU (install with --cpu), or use a machine with "
                    "a supported GPU.",
                )
            )
    return findings


def diagnose_metal(report: Report) -> list[Finding]:
    s, v = report.system, report.versions
    if s.get("platform") != "Darwin" or not v.get("tensorflow-metal"):
        return []
    if report.tensorflow.get("status") == "ok" and not gpu_list(report, "tf"):
        return [
            Finding(
                "WARN",
                f"tensorflow-metal {v['tensorflow-metal']} is installed but TensorFlow lists "
                "no GPU (it is known to break with TensorFlow 2.18+)",
                "pip uninstall -y tensorflow-metal  (the labs run on the CPU), or rerun "
                f"{ENV_SCRIPT} --metal --force",
            )
        ]
    return []


def diagnose_smoke(report: Report) -> list[Finding]:
    findings = []
    for entry in report.smoke or []:
        if entry.get("ok"):
            findings.append(Finding("PASS", f"Smoke test (matmul) correct on {entry['device']}"))
        else:
            findings.append(
                Finding(
                    "FAIL",
                    f"Smoke test failed on {entry['device']}: {entry.get('error')}",
                    "Rerun main.py; if it persists on a GPU, check nvidia-smi, reboot, and "
                    f"recreate the environment ({ENV_SCRIPT} --force).",
                )
            )
    if report.smoke is None and report.tensorflow.get("status") == "ok":
        reason = report.reasons.get("smoke", "not run")
        findings.append(Finding("FAIL", f"Smoke test could not run: {reason}", setup_fix(report)))
    return findings


def diagnose_datasets(report: Report) -> list[Finding]:
    if report.datasets is None:
        reason = report.reasons.get("datasets", "not checked")
        if report.tensorflow.get("status") != "ok":
            return [Finding("INFO", "Datasets not checked: set up the environment first")]
        return [
            Finding(
                "WARN",
                f"Could not check the datasets: {reason}",
                f"Make sure labkit is up to date ({ENV_SCRIPT} --force), then {FETCH_CMD}",
            )
        ]
    findings = []
    for name, info in report.datasets.items():
        if info.get("path"):
            findings.append(Finding("PASS", f"Dataset {name} found in {info['path']}"))
        elif info.get("required"):
            findings.append(
                Finding(
                    "FAIL",
                    f"Dataset {name} is missing (the labs need it)",
                    f"{FETCH_CMD}  (needs internet; or set LABKIT_DATA_DIR to a folder "
                    f"holding {name}/)",
                )
            )
        else:
            findings.append(
                Finding("INFO", f"Optional dataset {name} is not downloaded ({FETCH_CMD} {name})")
            )
    return findings


def diagnose_memory(report: Report) -> list[Finding]:
    total = report.system.get("ram_total_gib")
    if total is not None and total < 7.5:
        return [
            Finding(
                "WARN",
                f"Only {total} GiB of RAM: the larger labs may run out of memory",
                "Close other programs while training, and use the labs' fast mode.",
            )
        ]
    return []


def diagnose(report: Report) -> list[Finding]:
    """Every check, in report order. Pure: reads only the report."""
    findings = diagnose_python(report) + diagnose_tensorflow(report) + diagnose_keras(report)
    findings += diagnose_gpu(report) + diagnose_compute_capability(report)
    findings += diagnose_metal(report) + diagnose_smoke(report)
    findings += diagnose_datasets(report) + diagnose_memory(report)
    return findings


def exit_code(findings: list[Finding]) -> int:
    """0 when everything required works (no FAIL), 1 otherwise."""
    return 1 if any(f.level == "FAIL" for f in findings) else 0


# ---------------------------------------------------------------------------- output


def shown(report: Report, key: str, value: Any) -> str:
    """A value for the human report; a missing one shows its reason."""
    if value is None:
        return report.reasons.get(key, "unavailable")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value)) if value else "none"
    return str(value)


def human_sections(report: Report) -> list[tuple[str, list[tuple[str, str]]]]:
    """The report as titled sections of (key, value) lines."""
    v, s, t = report.versions, report.system, report.tensorflow
    versions = [("python", f"{v.get('python')} ({s.get('python_executable')})")]
    for name in ("tensorflow", "keras", "numpy", "pandas", "matplotlib", "jupyterlab"):
        versions.append((name, shown(report, f"versions.{name}", v.get(name))))
    backend = v.get("keras_backend") or f"{v.get('keras_backend_configured')} (configured)"
    versions[2] = ("keras", f"{versions[2][1]}, backend: {backend}")
    versions.append(("notebook", shown(report, "versions.notebook", v.get("notebook"))))
    if s.get("platform") == "Darwin" or v.get("tensorflow-metal"):
        metal = shown(report, "versions.tensorflow-metal", v.get("tensorflow-metal"))
        versions.append(("tensorflow-metal", metal))
    versions.append(("labkit", shown(report, "versions.labkit", v.get("labkit"))))

    os_text = shown(report, "system.os", s.get("os")) + f" [{s.get('machine')}]"
    if s.get("wsl"):
        os_text += " (WSL2)"
    ram = shown(report, "system.ram_total_gib", s.get("ram_total_gib"))
    if s.get("ram_total_gib") is not None:
        ram = f"{s['ram_total_gib']} GiB total"
        if s.get("ram_available_gib") is not None:
            ram += f", {s['ram_available_gib']} GiB available"
    system = [
        ("os", os_text),
        ("cpu", shown(report, "system.cpu", s.get("cpu"))),
        ("cores", f"{s.get('logical_cores')} logical, {s.get('usable_cores')} usable"),
        ("ram", ram),
    ]
    system += [(name, val) for name, val in (s.get("env") or {}).items() if val is not None]
    if s.get("setup_python"):
        system.append(("setup python", f"{s['setup_python']} (from .labkit-python)"))

    if t.get("status") == "ok":
        devices = []
        for d in t.get("devices") or []:
            text = d["type"]
            if d["type"] == "GPU":
                text = f"{d.get('gpu_name')}, compute capability {d.get('compute')}"
            devices.append((d["name"], text))
        if t.get("devices") is None:
            devices.append(("devices", shown(report, "tensorflow.devices", None)))
        hidden = t.get("log_lines_hidden", 0)
        devices.append(("start-up log", f"{hidden} lines hidden (notable ones: --json)"))
    else:
        devices = [
            ("tensorflow", f"{t.get('status')}" + (f": {t['error']}" if t.get("error") else ""))
        ]

    if report.driver.get("gpus") is None:
        driver = [("nvidia-smi", shown(report, "driver.gpus", None))]
    elif not report.driver["gpus"]:
        driver = [("nvidia-smi", "no GPU listed")]
    else:
        driver = [
            (f"GPU {i}", f"{g['name']}, {g.get('memory')}, compute capability "
             f"{g.get('compute') or 'unknown'}, driver {g.get('driver_version')}")
            for i, g in enumerate(report.driver["gpus"])
        ]  # fmt: skip

    build_data = t.get("build")
    if build_data is None:
        build = [("build", shown(report, "tensorflow.build", None))]
    else:
        build = [
            ("cuda build", shown(report, "", build_data.get("is_cuda_build"))),
            ("cuda", str(build_data.get("cuda_version"))),
            ("cudnn", str(build_data.get("cudnn_version"))),
            ("compute caps", shown(report, "", build_data.get("cuda_compute_capabilities"))),
        ]
    wheels = t.get("cuda_wheels") or {}
    build.append(
        ("cuda wheels", ", ".join(f"{k} {w}" for k, w in wheels.items()) or "not installed")
    )

    if report.datasets is None:
        data = [("datasets", shown(report, "datasets", None))]
    else:
        data = [
            (name, d["path"] or ("MISSING" if d["required"] else "not downloaded (optional)"))
            for name, d in report.datasets.items()
        ]

    if report.smoke is None:
        smoke = [("smoke test", shown(report, "smoke", None))]
    else:
        smoke = [
            (e["device"], f"ok (relative error {e['rel_error']:.1e}, {e['ms']} ms)")
            if e["ok"]
            else (e["device"], f"FAILED: {e['error']}")
            for e in report.smoke
        ]

    sections = [
        ("Versions", versions),
        ("System", system),
        ("TensorFlow devices", devices),
        ("NVIDIA driver", driver),
        ("Build", build),
        ("Datasets", data),
        (f"Smoke test ({SMOKE_SIZE}x{SMOKE_SIZE} float32 matmul vs NumPy)", smoke),
    ]
    if report.bench is not None:
        bench = [
            (d["device"], f"matmul {d['matmul_gflops']} GFLOP/s ({d['matmul_shape']}), "
             f"conv2d {d['conv2d_gflops']} GFLOP/s")
            for d in report.bench["devices"]
        ]  # fmt: skip
        if report.bench.get("speedup"):
            sp = report.bench["speedup"]
            bench.append(("GPU/CPU", f"matmul x{sp['matmul']}, conv2d x{sp['conv2d']}"))
        sections.append(("Benchmark", bench))
    elif "bench" in report.reasons and "--bench" not in report.reasons["bench"]:
        sections.append(("Benchmark", [("bench", report.reasons["bench"])]))
    return sections


def format_human(report: Report) -> str:
    """The paste-into-a-chat report."""
    sections = human_sections(report)
    width = max(len(k) for _, lines in sections for k, _ in lines)
    out = ["labkit doctor: workshop environment report"]
    for title, lines in sections:
        out += ["", f"== {title} =="]
        out += [f"  {k.ljust(width)} : {val}" for k, val in lines]
    out += ["", "== Diagnosis =="]
    for f in report.diagnosis:
        msg = f.message.splitlines()
        out.append(f"  {f.level:<4}  {msg[0]}")
        out += [f"        {ln}" for ln in msg[1:]]
        fix = f.fix.splitlines()
        if fix:
            out.append(f"        fix: {fix[0]}")
            out += [f"             {ln}" for ln in fix[1:]]
    fails = sum(f.level == "FAIL" for f in report.diagnosis)
    warns = sum(f.level == "WARN" for f in report.diagnosis)
    verdict = "READY" if fails == 0 else "NOT READY"
    out += ["", f"Result: {verdict} ({fails} FAIL, {warns} WARN), checked in {report.elapsed_s} s"]
    if fails or warns:
        out.append("Stuck? Paste this whole report into the workshop chat.")
    return "\n".join(out)


def to_json(report: Report) -> str:
    """One JSON document: every field, diagnosis and exit code included."""
    data = asdict(report)
    data["diagnosis"] = [f._asdict() for f in report.diagnosis]
    data["exit_code"] = exit_code(report.diagnosis)
    data["ok"] = data["exit_code"] == 0
    return json.dumps(data, indent=2, default=str)


# ---------------------------------------------------------------------------- main


def setup_python() -> str:
    """The interpreter Scripts/environment.* set up (``.labkit-python``), if not this one."""
    from labkit.paths import REPO_ROOT

    marker = REPO_ROOT / ".labkit-python"
    try:
        python = marker.read_text().strip()
    except OSError:
        raise Unavailable("no .labkit-python: the setup script has not finished here") from None
    if not python or Path(python).resolve() == Path(sys.executable).resolve():
        raise Unavailable("the running Python is the one the setup script made")
    return python


def collect(bench: bool = False) -> Report:
    """Gather everything; nvidia-smi runs while TensorFlow imports."""
    start = time.perf_counter()
    report = Report()
    smi = start_nvidia_smi()
    collect_versions(report)
    collect_system(report)
    probe(report, "system.setup_python", setup_python)
    probe(report, "datasets", check_datasets)
    collect_tensorflow(report, bench)
    probe(report, "driver.gpus", nvidia_smi_gpus, smi)
    report.diagnosis = diagnose(report)
    report.elapsed_s = round(time.perf_counter() - start, 1)
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="Check that this Python environment is ready for the workshop labs.",
        epilog="Exit status: 0 when everything required works, 1 otherwise.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--bench", action="store_true", help="add a short matmul/conv2d benchmark")
    parser.add_argument(
        "--debug", action="store_true", help="raise unexpected errors instead of reporting them"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the checks, print the report, return the exit code."""
    global _STRICT
    args = parse_args(argv)
    _STRICT = args.debug
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    progress = not args.json and sys.stderr is not None and sys.stderr.isatty()
    if progress:
        sys.stderr.write("Checking the environment (a few seconds)...")
        sys.stderr.flush()
    report = collect(bench=args.bench)
    if progress:
        sys.stderr.write("\r" + " " * 44 + "\r")
    print(to_json(report) if args.json else format_human(report))
    return exit_code(report.diagnosis)
