"""TensorFlow's start-up messages: captured from file descriptor 2 (its C++ logging writes
there, below Python, and ``TF_CPP_MIN_LOG_LEVEL`` does not silence what it prints before absl
is initialised), then sorted into notable lines and known-harmless ones. ``main.py`` shows the
notable ones in its report; ``labkit.start_lab()`` shows only those under a lab's first cell.

What is harmless depends on the machine: "Could not find cuda drivers" or a failed ``cuInit``
is expected where there is no NVIDIA GPU (TensorFlow's default wheel is built with CUDA and
probes for it), and explains the problem where the driver lists a GPU that TensorFlow cannot use.

``import labkit`` calls ``quiet_next_tensorflow_import``: a plain script that imports labkit and
runs a check gets the same quiet start as a notebook, whoever imports TensorFlow first; errors
still reach stderr.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

# TensorFlow's log prefix: severity, date, time, thread, file:line.
LOG_PREFIX = re.compile(r"^([IWEF])\d{4} [\d:. ]+\s+\d+ \S+\] ")
# Always harmless: start-up chatter and optional components the labs do not use.
HARMLESS = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|"
    r"This TensorFlow binary is optimized to use|To enable the following instructions|"
    r"rebuild TensorFlow with the appropriate compiler flags|"
    r"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|"
    r"TF-TRT Warning|TensorRT|"
    r"successful NUMA node read from SysFS had negative value"
)
# About CUDA and the GPU: harmless without an NVIDIA GPU, notable with one.
GPU_RELATED = re.compile(r"cuda|cudnn|cublas|cuinit|gpu|dlopen|dynamic library", re.IGNORECASE)
_capturing = 0  # how many captured_stderr blocks are open: an inner one leaves fd 2 alone


@contextlib.contextmanager
def captured_stderr(sink: list[str]) -> Iterator[None]:
    """Send fd 2 to a temporary file (C++ logs included); append what was written to sink.

    A native crash inside still reports on the real stderr (faulthandler), and if an
    exception escapes, the captured text is written back so nothing is lost. Inside another
    captured block it captures nothing: the outer one gets every line.
    """
    global _capturing
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        if _capturing:
            raise OSError("captured already")
        saved = os.dup(2)
    except OSError:  # captured already, or no fd 2 at all (pythonw on Windows)
        sink.append("")
        yield
        return
    _capturing += 1
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
            _capturing -= 1
            if sys.stderr is not None:
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            faulthandler.disable()
            if had_faulthandler and sys.__stderr__ is not None:
                # back on the process's stderr (sys.stderr may be a notebook's or pytest's
                # stream, without a file descriptor)
                faulthandler.enable(file=sys.__stderr__)
            crash_file.close()
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
            sink.append(text)
            if not ok and sys.stderr is not None:
                sys.stderr.write(text)


def sort_lines(text: str, gpu_expected: bool) -> tuple[list[str], list[str]]:
    """(notable, harmless) start-up lines, without their log prefix, each once.

    Harmless: the patterns in HARMLESS, CUDA/GPU messages when no GPU is expected, and any
    other informational (I) or warning (W) line. Notable: the rest (errors, Python warnings).
    """
    notable: list[str] = []
    harmless: list[str] = []
    for line in text.splitlines():
        prefix = LOG_PREFIX.match(line)
        clean = LOG_PREFIX.sub("", line).strip()
        if not clean or clean in notable or clean in harmless:
            continue
        if HARMLESS.search(clean):
            harmless.append(clean)
        elif GPU_RELATED.search(clean):
            (notable if gpu_expected else harmless).append(clean)
        elif prefix is not None and prefix.group(1) in "IW":
            harmless.append(clean)
        else:
            notable.append(clean)
    return notable, harmless


def nvidia_gpu_expected() -> bool:
    """Whether this machine has an NVIDIA driver (``nvidia-smi`` on PATH), so that CUDA
    messages may explain a problem rather than be noise. Cheap: nothing is run."""
    import shutil

    return shutil.which("nvidia-smi") is not None


@contextlib.contextmanager
def quiet_import() -> Iterator[None]:
    """Run the block (``import tensorflow``) with fd 2 captured; afterwards write to stderr
    only the notable lines, none of the known-harmless start-up chatter."""
    sink: list[str] = []
    with captured_stderr(sink):
        yield
    notable, _ = sort_lines("".join(sink), gpu_expected=nvidia_gpu_expected())
    if notable and sys.stderr is not None:
        sys.stderr.write("\n".join(notable) + "\n")


class _QuietLoader(importlib.abc.Loader):
    """Runs a module's loader inside ``quiet_import``, then steps aside."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader  # the real one, for whoever asks later
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        with quiet_import():
            self.loader.exec_module(module)  # type: ignore[attr-defined]


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, as the next finders would, with a quiet loader."""

    def find_spec(
        self, name: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_next_tensorflow_import() -> None:
    """Sort TensorFlow's start-up lines the next time it is imported (``quiet_import``), by
    whoever imports it: a script's own ``import tensorflow`` as much as a check's."""
    if "tensorflow" in sys.modules:
        return
    if not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())
