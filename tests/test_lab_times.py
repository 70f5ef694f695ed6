"""The lab-time estimate on a notebook made for the purpose: what counts, and where."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from benchmarks import lab_times
from labkit.errors import LabkitError
from labkit.notebooks import build, solutions

LAB = "09_example"


def make_lab(root: Path, wall_seconds: float | None = 120.0) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lab 09: an example\n\n" + "word " * 150),  # 1 min
        nbformat.v4.new_code_cell("# BEGIN SOLUTION q1\n" + "x = 1\n" * 8 + "# END SOLUTION"),
        nbformat.v4.new_code_cell("# BEGIN SOLUTION q1\ny = 2\n# END SOLUTION"),  # q1 again
        nbformat.v4.new_markdown_cell("## 2. Optional: more\n\n" + "word " * 296),  # 2 min
        nbformat.v4.new_markdown_cell("### Still optional"),
        nbformat.v4.new_code_cell("# BEGIN SOLUTION q2\nz = 3\n# END SOLUTION"),
        nbformat.v4.new_markdown_cell("## 3. The challenge"),
        nbformat.v4.new_code_cell(
            "challenge = Challenge(\n# BEGIN SOLUTION challenge\n)\n# END SOLUTION"
        ),
        nbformat.v4.new_code_cell("# Optional: a cell of its own\na = 1"),
    ]
    path = solutions.solution_path(LAB, root)
    path.parent.mkdir(parents=True)
    path.write_text(build.render(nb))
    results = root / "results"
    results.mkdir()
    runs = {  # file: (smoke, time scale, the lab's wall time): only full runs count, the slowest
        "cpu": (False, 1.0, wall_seconds),
        "gpu": (False, 1.0, 6.0 if wall_seconds else None),
        "cpu-time-scale-0.6": (False, 0.6, 900.0),
        "cpu-smoke": (True, 1.0, 900.0),
    }
    for name, (smoke, scale, seconds) in runs.items():
        labs = [{"lab": LAB, "wall_seconds": seconds}] if seconds else []
        (results / f"{name}.json").write_text(
            json.dumps({"smoke": smoke, "time_scale": scale, "labs": labs})
        )


def test_the_estimate_counts_prose_code_exercises_challenges_and_the_slowest_run(
    tmp_path: Path,
) -> None:
    make_lab(tmp_path)
    found = lab_times.estimate(LAB, tmp_path, tmp_path / "results")
    # core: the title and 150 words, "## 3. The challenge" (4 words); 10 + 3 + 4 lines of code;
    # q1 once (two regions); one challenge; 2 minutes of the slowest full run
    core = (5 + 150 + 4) / 150 + (10 + 3 + 4) / 10 + 5.5 + 8 + 2
    # optional: section 2 with its sub-heading (4 + 296 + 3 words), q2's 3 lines and the
    # "# Optional" cell's 2, and q2
    optional = (4 + 296 + 3) / 150 + (3 + 2) / 10 + 5.5
    assert found.core == pytest.approx(core)
    assert found.full == pytest.approx(core + optional)
    rounded_core = lab_times.round_to_5(core)
    assert found.rounded == (rounded_core, rounded_core + lab_times.round_to_5(optional))


def test_a_lab_without_a_benchmark_run_says_what_to_run(tmp_path: Path) -> None:
    make_lab(tmp_path, wall_seconds=None)
    with pytest.raises(LabkitError, match="python -m labkit bench 09"):
        lab_times.estimate(LAB, tmp_path, tmp_path / "results")


def test_round_to_5() -> None:
    assert [lab_times.round_to_5(m) for m in (62.4, 62.5, 67.4, 92.5)] == [60, 65, 65, 95]
