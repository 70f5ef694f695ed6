"""start_lab: the seed of a run, and what it says about the run."""

from __future__ import annotations

import pytest
from conftest import REPO_ROOT

from labkit.errors import LabkitError
from labkit.lab.session import lab_seed, start_lab


def test_the_seed_is_42_unless_labkit_seed_says_otherwise(monkeypatch) -> None:
    monkeypatch.delenv("LABKIT_SEED", raising=False)
    assert lab_seed() == 42
    monkeypatch.setenv("LABKIT_SEED", " 43 ")
    assert lab_seed() == 43
    monkeypatch.setenv("LABKIT_SEED", "forty")
    with pytest.raises(LabkitError, match="not a whole number"):
        lab_seed()


def test_start_lab_seeds_with_labkit_seed_and_says_so(monkeypatch, capsys) -> None:
    keras = pytest.importorskip("keras")
    seeds: list[int] = []  # recorded, not set: the other tests keep their random state
    monkeypatch.setattr(keras.utils, "set_random_seed", seeds.append)
    monkeypatch.setenv("LABKIT_SEED", "43")
    monkeypatch.setenv("LABKIT_TIME_SCALE", "0.6")
    start_lab()
    shown = capsys.readouterr().out
    assert seeds == [43]
    assert "Seed: 43 (not the usual 42" in shown and "Time budgets: x0.6" in shown
    start_lab(seed=7)  # an explicit seed wins
    assert seeds == [43, 7]
    monkeypatch.delenv("LABKIT_SEED")
    monkeypatch.delenv("LABKIT_TIME_SCALE")
    capsys.readouterr()
    start_lab()
    shown = capsys.readouterr().out
    assert seeds == [43, 7, 42] and "Seed" not in shown and "Time budgets" not in shown


def test_the_first_cell_shows_no_start_up_chatter_but_keeps_real_errors() -> None:
    import subprocess
    import sys

    code = (
        "import os\n"
        "from labkit.startup_log import quiet_import\n"
        "with quiet_import():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are "
        "written to STDERR\\n')\n"
        "    os.write(2, b'I0000 00:00:1.5 42 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "    os.write(2, b'E0000 00:00:1.5 42 loader.cc:7] libfoo.so: cannot open file\\n')\n"
    )
    env = {"PATH": "", "PYTHONPATH": str(REPO_ROOT)}  # no nvidia-smi: CUDA lines are noise
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stderr == "libfoo.so: cannot open file\n"
