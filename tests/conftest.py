"""Shared test set-up: real datasets are used where present, never downloaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"

# The benchmark (benchmarks/) is maintainer tooling beside the installed package: its tests
# import it from the checkout, whichever way pytest was started.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# CI points LABKIT_DATA_DIR at ../shared/datasets; do the same for a local run.
if not os.environ.get("LABKIT_DATA_DIR") and SHARED_DATASETS.is_dir():
    os.environ["LABKIT_DATA_DIR"] = str(SHARED_DATASETS)


def dataset_or_skip(name: str) -> Path:
    """The folder of a real dataset, or skip the test when this machine does not have it."""
    from labkit.datasets import find

    folder = find(name)
    if folder is None:
        pytest.skip(f"the real {name} data is not on this machine")
    return folder
