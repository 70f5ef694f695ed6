"""Run a lab notebook, for the tests (fast mode) and the benchmark (full mode)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat

from labkit import settings
from labkit.lab import metrics


def execute(
    nb: nbformat.NotebookNode,
    cwd: Path,
    env: Mapping[str, str],
    timeout: int = 1800,
    allow_errors: bool = False,
    kernel_name: str = "python3",
) -> nbformat.NotebookNode:
    """Run every cell of `nb` in a fresh kernel (`kernel_name`) started in `cwd`, whose
    environment is this process's plus `env` (this process's own is left alone); the outputs
    are stored in `nb`, which is returned."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env={**os.environ, **env})  # handed on to the kernel manager
    return nb


@dataclass
class NotebookRun:
    """A lab notebook that ran: with its outputs, the metrics it reported, its wall time."""

    nb: nbformat.NotebookNode
    metrics: dict[str, float]
    wall_seconds: float


def run(
    nb: nbformat.NotebookNode,
    cwd: Path,
    *,
    fast: bool,
    env: Mapping[str, str] | None = None,
    timeout: int = 1800,
    allow_errors: bool = False,
    kernel_name: str = "python3",
) -> NotebookRun:
    """Run a lab notebook as the tests (fast mode) and the benchmark (full mode) do: TensorFlow's
    log quiet, matplotlib drawing off screen, and the metrics it reports with ``labkit.report``
    read back. `env` adds variables (the benchmark's seed and time scale, ...); the quick tests
    name the workshop's kernel (`kernel_name`)."""
    with tempfile.TemporaryDirectory() as tmp:
        metrics_file = Path(tmp) / "metrics.json"
        lab_env = {
            settings.FAST.name: "1" if fast else "0",
            settings.METRICS_FILE.name: str(metrics_file),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "MPLBACKEND": "agg",
            **(env or {}),
        }
        start = time.perf_counter()
        execute(nb, cwd, lab_env, timeout, allow_errors, kernel_name)
        wall_seconds = time.perf_counter() - start
        return NotebookRun(nb, metrics.read(metrics_file), wall_seconds)
