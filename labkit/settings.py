"""Every setting of the kit, declared once: the ``LABKIT_*`` environment variables, each with
its default and what it does, and the Python versions the workshop supports.

Standard library only, and cheap to import. The setup scripts read ``PYTHON_MIN`` and
``PYTHON_MAX`` from this file's text before they choose a Python (``Scripts/environment.sh``
with sed, ``Scripts\\environment.bat`` with findstr): keep each on one line, ``NAME = "3.N"``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from labkit.errors import LabkitError

PYTHON_MIN = "3.10"  # the oldest Python the workshop supports (TensorFlow 2.21's oldest)
PYTHON_MAX = "3.13"  # the newest; both included


@dataclass(frozen=True)
class Setting:
    """One ``LABKIT_*`` environment variable: its name, its default and what it does."""

    name: str
    default: str
    doc: str

    def text(self) -> str:
        """The variable's value, stripped; the default when it is unset or blank."""
        return os.environ.get(self.name, "").strip() or self.default


DATA_DIR = Setting(
    "LABKIT_DATA_DIR",
    "",
    "more folders to look for the datasets in, separated by os.pathsep",
)
FAST = Setting(
    "LABKIT_FAST", "0", "1: every notebook runs on a small subset with few epochs, as the tests do"
)
METRICS_FILE = Setting(
    "LABKIT_METRICS_FILE", "", "the JSON file that labkit.report() adds a notebook's metrics to"
)
SEED = Setting(
    "LABKIT_SEED",
    "42",
    "the seed labkit.start_lab() gives a run of a lab; the benchmark sets 42, 43, ...",
)
TIME_SCALE = Setting(
    "LABKIT_TIME_SCALE",
    "1",
    "multiplies every TimeBudget and challenge time limit: 0.6 for a machine 1.7x slower",
)
SETTINGS = (DATA_DIR, FAST, METRICS_FILE, SEED, TIME_SCALE)


def in_use() -> dict[str, str]:
    """The settings that are set in this process's environment, with their values."""
    return {s.name: os.environ[s.name] for s in SETTINGS if os.environ.get(s.name, "").strip()}


def fast() -> bool:
    """True in fast mode: ``LABKIT_FAST`` set to 1, true, yes or on."""
    return FAST.text().lower() in {"1", "true", "yes", "on"}


def seed() -> int:
    """The seed of this run of a lab: ``LABKIT_SEED`` (the benchmark's repeats set 42, 43, ...)."""
    text = SEED.text()
    try:
        return int(text)
    except ValueError:
        raise LabkitError(
            f"{SEED.name}={text!r} is not a whole number: unset it, or set it to one (e.g. 43)."
        ) from None


def time_scale() -> float:
    """The factor every time budget is multiplied by: ``LABKIT_TIME_SCALE``."""
    text = TIME_SCALE.text()
    try:
        scale = float(text)
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and scale > 0):
        raise LabkitError(
            f"{TIME_SCALE.name}={text!r} is not a positive number: unset it, or set it to "
            "e.g. 0.6 (every time budget x0.6)."
        )
    return scale


def python_versions() -> list[str]:
    """Every supported Python, oldest first: ``["3.10", "3.11", ...]``."""
    low, high = (int(version.split(".")[1]) for version in (PYTHON_MIN, PYTHON_MAX))
    return [f"3.{minor}" for minor in range(low, high + 1)]
