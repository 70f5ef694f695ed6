"""What the README states about the labs is what the notebooks and the code do.

Each test reads a fact from its source (the solution notebooks' first cell and code, the
kernel's name, the benchmark's results files) and the README's text, and compares them, so
that neither can change without the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import REPO_ROOT

from benchmarks import lab_times
from labkit.install import kernel
from labkit.notebooks import build, solutions

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def committed_notebooks() -> list[Path]:
    return sorted([*REPO_ROOT.glob("solutions/*/*.ipynb"), *REPO_ROOT.glob("labs/*/*.ipynb")])


# ------------------------------------------------------------------------------ the kernel
def test_every_notebook_asks_for_the_workshop_kernel() -> None:
    assert f"the kernel `{kernel.KERNEL_NAME}`" in README
    paths = committed_notebooks()
    assert len(paths) == 2 * len(solutions.lab_names())
    for path in paths:
        spec = nbformat.read(path, as_version=4).metadata.get("kernelspec", {})
        assert spec.get("name") == kernel.KERNEL_NAME, (
            f"{path.relative_to(REPO_ROOT)} asks for the kernel {spec.get('name')!r}: run "
            "`python -m labkit notebooks strip && python -m labkit notebooks build`"
        )
        assert spec.get("display_name") == kernel.DISPLAY_NAME


@pytest.mark.parametrize("saved_with", [None, {"name": "python3", "display_name": "Python 3"}])
def test_strip_and_build_give_every_notebook_the_workshop_kernel(
    tmp_path: Path, saved_with: dict | None
) -> None:
    """A solution last saved on another kernel (or none) comes out of strip and build asking
    for the workshop's, in labs/ and solutions/ alike."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lab 09: an example"),
        nbformat.v4.new_code_cell("# BEGIN SOLUTION q1\nx = 1\n# END SOLUTION"),
    ]
    if saved_with:
        nb.metadata.kernelspec = saved_with
    solution = solutions.solution_path("09_example", tmp_path)
    solution.parent.mkdir(parents=True)
    solution.write_text(build.render(nb))
    assert build.strip_all(tmp_path) == [solution]
    build.build(tmp_path)
    for path in (solution, build.exercise_path("09_example", tmp_path)):
        spec = nbformat.read(path, as_version=4).metadata.kernelspec
        assert (spec.name, spec.display_name) == (kernel.KERNEL_NAME, kernel.DISPLAY_NAME)
    assert build.strip_all(tmp_path, check=True) == []


# --------------------------------------------------------------- titles and times, per lab
HEADER = re.compile(r"^# Lab (?P<number>\d\d)(?P<bonus> \(bonus\))?: (?P<title>.+)$", re.MULTILINE)
CORE = re.compile(r"\*\*Time needed:\*\* about (\d+) minutes")
EXTRA = re.compile(r"(?:adds?|takes?) about (\d+) minutes")
TIME_ROW = re.compile(
    r"^\| (?P<number>\d\d)(?P<bonus> \(bonus\))? \| about (?P<core>\d+) min \| "
    r"(?:about (?P<full>\d+) min[^|]*|\(no optional part\)) \|$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Header:
    """What a solution notebook's first cell says about its lab."""

    title: str  # the README's spelling: "Attention and Transformers on ATIS (bonus)"
    core: int
    full: int


def header(lab: str) -> Header:
    first = solutions.read(solutions.solution_path(lab)).cells[0].source
    found = HEADER.search(first)
    assert found and found["number"] == lab[:2], f"{lab}: the first cell has no `# Lab NN: title`"
    time_needed = " ".join(first[first.find("**Time needed:**") :].split("\n\n")[0].split())
    core, extra = CORE.search(time_needed), EXTRA.search(time_needed)
    assert core, f"{lab}: the first cell has no `**Time needed:** about N minutes`"
    minutes = int(core[1])
    return Header(
        found["title"] + (found["bonus"] or ""),
        minutes,
        minutes + int(extra[1]) if extra else minutes,
    )


def readme_times() -> dict[str, tuple[int, int, bool]]:
    """The README's time table: lab number -> (core, full, marked bonus)."""
    return {
        row["number"]: (int(row["core"]), int(row["full"] or row["core"]), bool(row["bonus"]))
        for row in TIME_ROW.finditer(README)
    }


@pytest.mark.parametrize("lab", solutions.lab_names())
def test_the_readme_states_each_labs_title_and_times_as_its_notebook_does(lab: str) -> None:
    stated = header(lab)
    row = next(line for line in README.splitlines() if line.startswith(f"| {lab[:2]} |"))
    assert row.split(" | ")[1] == stated.title, f"README's lab table: {lab}'s title"
    times = readme_times()
    assert lab[:2] in times, f"README's time table has no row for {lab}"
    core, full, bonus = times[lab[:2]]
    assert (core, full) == (stated.core, stated.full), (
        f"{lab}: the README says {core}/{full} min, the notebook {stated.core}/{stated.full}"
    )
    assert bonus == stated.title.endswith("(bonus)")


@pytest.mark.parametrize("lab", solutions.lab_names())
def test_the_stated_times_are_the_estimate_of_the_readmes_formula(lab: str) -> None:
    """Within 5 minutes of `python -m benchmarks.lab_times`: a new exercise, a new section or
    a slower training moves the estimate, and the stated times must follow."""
    estimate, stated = lab_times.estimate(lab), header(lab)
    assert abs(stated.core - estimate.core) <= 5 and abs(stated.full - estimate.full) <= 5, (
        f"{lab} states {stated.core}/{stated.full} min, the estimate is "
        f"{estimate.core:.0f}/{estimate.full:.0f}: update the notebook's first cell and the "
        "README's table (`python -m benchmarks.lab_times`)"
    )


def test_the_readme_states_the_formula_of_the_estimate() -> None:
    for said in (
        f"prose at {lab_times.WORDS_PER_MINUTE} words a minute",
        f"code at {lab_times.CODE_LINES_PER_MINUTE} lines a minute",
        f"{lab_times.MINUTES_PER_EXERCISE:g} minutes per exercise",
        f"{lab_times.MINUTES_PER_CHALLENGE:g} per challenge",
        "python -m benchmarks.lab_times",
    ):
        assert said in README
