"""How setup ends: the data step warns and carries on, main.py decides, and the last line says
READY with the command that starts Jupyter, or NOT READY with what to do. The README says the
same (its setup page, docs/setup.md, in detail). The last two steps of Scripts/environment.sh run here with a fake interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

ENV_SH = REPO_ROOT / "Scripts" / "environment.sh"
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
SETUP_PAGE = (REPO_ROOT / "docs" / "setup.md").read_text(encoding="utf-8")

needs_bash = pytest.mark.skipif(
    sys.platform == "win32" or shutil.which("bash") is None, reason="needs bash on Linux or macOS"
)


def last_steps() -> str:
    """The script's output helpers and its steps 5 (datasets) and 6 (main.py)."""
    text = ENV_SH.read_text(encoding="utf-8")
    helpers = text.split(
        "# ---------------------------------------------------------------- output helpers"
    )[1]
    helpers = helpers.split(
        "# ---------------------------------------------------------------- arguments"
    )[0]
    tail = text.split(
        "# ---------------------------------------------------------------- 5. datasets"
    )[1]
    preamble = "\nSTEP=4\nFETCH_DATA=1\nKERNEL_DISPLAY='Python (dl-workshop)'\nSOURCE=''\n"
    # The log, and the Python that runs labkit/install/steps.py (the real one).
    preamble += f'LOG="$REPO_ROOT/.labkit-setup.log"\nRUNNER_PY="{sys.executable}"\n'
    return helpers + preamble + "SOURCE_KIND=''\n" + tail


def run_last_steps(tmp_path: Path, fetch_rc: int, main_rc: int) -> subprocess.CompletedProcess:
    """Steps 5 and 6 with a fake interpreter whose path has a space."""
    python = tmp_path / "my env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = -m ]; then echo "fetch output"; exit {fetch_rc}; fi\n'
        f'echo "main.py report"; exit {main_rc}\n'
    )
    python.chmod(0o755)
    (tmp_path / "main.py").write_text("")
    script = f'set -euo pipefail\nSTART=$SECONDS\nREPO_ROOT="{tmp_path}"\nPY="{python}"\n'
    return subprocess.run(
        ["bash", "-c", script + last_steps()],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


@needs_bash
def test_a_dataset_that_cannot_be_fetched_ends_setup_not_ready(tmp_path: Path) -> None:
    result = run_last_steps(tmp_path, fetch_rc=1, main_rc=1)
    assert result.returncode == 1
    assert "main.py report" in result.stdout  # the data step carried on to the check
    assert "fetch output" in result.stdout  # the failed step's output: the log's last lines
    log = (tmp_path / ".labkit-setup.log").read_text()
    assert "fetch output" in log and "main.py report" in log
    assert "WARNING:" in result.stderr and "-m labkit data fetch --from" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "NOT READY" in last and "fix:" in last
    assert f'"{tmp_path / "my env" / "bin" / "python"}" main.py' in last


@needs_bash
def test_a_ready_setup_prints_the_quoted_jupyter_command_of_the_readme(tmp_path: Path) -> None:
    result = run_last_steps(tmp_path, fetch_rc=0, main_rc=0)
    assert result.returncode == 0, result.stderr
    python = tmp_path / "my env" / "bin" / "python"
    assert "READY" in result.stdout and "NOT READY" not in result.stdout
    assert f'"{python}" -m jupyter lab labs/' in result.stdout
    assert "-m jupyter lab labs/" in README


def test_readme_says_what_the_script_and_main_py_do() -> None:
    setup = SETUP_PAGE.split("## What the setup does", 1)[1].split("\n## ", 1)[0]
    assert "NOT READY" in setup and "exit status 1" in setup and "FAIL" in setup
    assert "a warning, not a failure" not in README + SETUP_PAGE
    data = SETUP_PAGE.split("## Data", 1)[1].split("\n## ", 1)[0]
    assert "python -m labkit data fetch --from" in data and "data/" in data
