"""TensorFlow's start-up messages: captured from file descriptor 2 (its C++ logging writes
there, below Python, and ``TF_CPP_MIN_LOG_LEVEL`` does not silence what it prints before absl
is initialised), then sorted into notable lines and known-harmless ones. ``main.py`` shows the
notable ones in its report; ``labkit.start_lab()`` shows only those under a lab's first cell.

What is harmless depends on the machine: "Could not find cuda drivers" or a failed ``cuInit``
is expected where there is no NVIDIA GPU (TensorFlow's default wheel is built with CUDA and
probes for it), and explains the problem where the driver lists a GPU that TensorFlow cannot use.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
import sys
import tempfile
from collections.abc import Iterator

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


@contextlib.contextmanager
def captured_stderr(sink: list[str]) -> Iterator[None]:
    """Send fd 2 to a temporary file (C++ logs included); append what was written to sink.

    A native crash inside still reports on the real stderr (faulthandler), and if an
    exception escapes, the captured text is written back so nothing is lost.
    """
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all (pythonw on Windows): nothing to capture
        sink.append("")
        yield
        return
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
