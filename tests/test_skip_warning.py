"""A test skipped because a dataset is missing is reported in a warning at the end of the run
(what `bash Scripts/test.sh` prints last), never silently."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

SKIPPING_TESTS = """
import labkit.datasets
from conftest import dataset_or_skip

labkit.datasets.find = lambda name, data_dir=None: None  # as on a machine without the data


def test_needs_atis():
    dataset_or_skip("atis")


def test_needs_atis_too():
    dataset_or_skip("atis")


def test_needs_nothing():
    pass
"""


def test_skips_for_missing_data_end_the_run_with_a_warning(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_data.py").write_text(SKIPPING_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    lines = result.stdout.rstrip().splitlines()
    warning = next(i for i, line in enumerate(lines) if "WARNING: 2 tests skipped" in line)
    assert "dataset missing" in lines[warning]
    assert warning > next(i for i, line in enumerate(lines) if "short test summary" in line)
    assert warning >= len(lines) - 5  # the last thing before pytest's final count
    assert "python -m labkit data fetch atis" in result.stdout
    assert "--from FOLDER" in result.stdout
