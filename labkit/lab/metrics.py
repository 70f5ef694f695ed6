"""Metric reporting: a solution notebook records its final metrics with one call.

>>> report(test_accuracy=0.853, train_seconds=41.2)

The values are printed, and written as JSON to the file named by
``LABKIT_METRICS_FILE`` when it is set, so tests and the benchmark read
numbers instead of scraping a notebook's output.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from labkit import settings
from labkit.files import write_atomic


def report(**metrics: float) -> dict[str, float]:
    """Print the metrics and merge them into ``$LABKIT_METRICS_FILE``; returns them as floats."""
    values = {name: float(value) for name, value in metrics.items()}
    for name, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"metric {name} is {value}: training diverged or nothing was measured")
    print("Metrics: " + ", ".join(f"{k} = {v:.4g}" for k, v in values.items()))
    path = settings.METRICS_FILE.text()
    if path:
        _merge_json(Path(path), {**values, "fast_mode": settings.fast()})
    return values


def read(path: str | os.PathLike) -> dict[str, float]:
    """The metrics a notebook reported into ``path`` (empty when it reported none)."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def _merge_json(path: Path, values: dict) -> None:
    """Add ``values`` to the JSON object in ``path``, replacing the file atomically."""
    current = read(path)
    current.update(values)
    write_atomic(path, json.dumps(current, indent=2, sort_keys=True))
