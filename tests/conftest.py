"""Shared test set-up: real datasets are used where present, never downloaded, and a test
skipped for a missing dataset is reported in a warning at the end of the run."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit import settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
MISSING_DATASET = "missing dataset"  # the start of every skip reason dataset_or_skip gives

# The benchmark's tests import benchmarks/ from the checkout: pyproject.toml's `pythonpath`.


def pytest_configure(config: pytest.Config) -> None:
    """CI points LABKIT_DATA_DIR at ../shared/datasets; do the same for a local run, for the
    whole session (the notebooks' kernels inherit it), and undo it at the end."""
    if not os.environ.get(settings.DATA_DIR.name) and SHARED_DATASETS.is_dir():
        patch = pytest.MonkeyPatch()
        patch.setenv(settings.DATA_DIR.name, str(SHARED_DATASETS))
        config.add_cleanup(patch.undo)


def dataset_or_skip(name: str) -> Path:
    """The folder of a real dataset, or skip the test when this machine does not have it."""
    from labkit.datasets import find

    folder = find(name)
    if folder is None:
        pytest.skip(f"{MISSING_DATASET} {name}: not on this machine")
    return folder


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """A skip for missing data is never silent: after pytest's own summary (tryfirst makes this
    wrapper the outermost), a warning names the datasets and the command that fixes it."""
    yield
    missing: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        if f"Skipped: {MISSING_DATASET} " in reason:
            name = reason.split(f"{MISSING_DATASET} ", 1)[1].split(":", 1)[0]
            missing[name] = missing.get(name, 0) + 1
    if not missing:
        return
    count = sum(missing.values())
    names = ", ".join(missing)
    tests = "test" if count == 1 else "tests"
    terminalreporter.write_sep(
        "=", f"WARNING: {count} {tests} skipped: dataset missing", yellow=True
    )
    terminalreporter.write_line(
        f"Not on this machine: {names}. Those tests did not run. Fetch the data, then run the "
        f"tests again:\n  python -m labkit data fetch {' '.join(missing)}\n"
        "  (without internet: python -m labkit data fetch --from FOLDER, with a copy from a "
        "USB stick or a share)",
        yellow=True,
    )


@pytest.fixture(scope="session")
def real_reports() -> dict[str, dict]:
    """Reports of real `python main.py --json` runs in this environment, for the room kit's
    tests: "plain" (as it is), "jax" (KERAS_BACKEND=jax: a FAIL, so NOT READY)."""
    from room_helpers import main_py_report

    return {"plain": main_py_report(), "jax": main_py_report(KERAS_BACKEND="jax")}


@pytest.fixture
def kit_key() -> Iterator[Path]:
    """main.py --send keeps its key in the clone (git-ignored): a test that runs main.py gets
    the path, and finds things as they were afterwards."""
    from labkit.install.doctor.send import KEY_FILE

    path = REPO_ROOT / KEY_FILE
    before = path.read_bytes() if path.exists() else None
    yield path
    if before is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(before)


REPLICAS_MARKER = "replicas"
LOGICAL_CPUS = 4  # as lab 09 splits the CPU


def pytest_collection_finish(session: pytest.Session) -> None:
    """Tests marked `replicas` (lab 09's checks) run code on several replicas, which needs the
    CPU split into logical devices before TensorFlow sets up its devices: do it once, after
    collection and before any test runs TensorFlow. The other tests run on the first device,
    as before."""
    if any(item.get_closest_marker(REPLICAS_MARKER) for item in session.items):
        from labkit.lab.logical_devices import split_cpu

        split_cpu(LOGICAL_CPUS)


# What tests share: work done once per process (notebook_helpers.run_lab's cache of a solution's
# fast run; the fixtures `runs` of test_doctor, `first_cells_run` of test_quick, `real_reports`)
# and the clone's key file (kit_key, which main.py --send writes). bash Scripts/test.sh runs the
# suite on two workers (pytest -n 2 --dist loadgroup); the scheduler below sends the tests that
# share one of these to the same worker: the work is done once, no two write the key at once.
# (Not xdist_group marks: pytest 9.2 drops the nodeid suffix that loadgroup reads them through,
# pytest-xdist issue 1386.)
SHARED_WORK = [
    (r"tests/test_lab(\d\d)\.py::test_solution_runs", r"lab\1"),
    (r"tests/test_notebooks\.py::test_every_check_passes_on_the_solution\[(\d\d)_", r"lab\1"),
    (r"tests/test_doctor\.py::", "doctor"),
    (r"tests/test_quick\.py::", "quick"),
    (r"tests/test_room_(page|serve|hostile)\.py::", "main.py and the kit's key"),
]


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which may not be installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """--dist loadgroup: each test on its own, but those that share work in one unit."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedWorkScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            for pattern, group in SHARED_WORK:
                if match := re.match(pattern, nodeid):
                    return match.expand(group)
            return nodeid

    return SharedWorkScheduling(config, log)
