"""What the README states about the labs is what the notebooks and the code do.

Each test reads a fact from its source (the solution notebooks' first cell and code, the
kernel's name, the benchmark's results files) and the README's text, and compares them, so
that neither can change without the other.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import REPO_ROOT

from benchmarks import lab_times, report
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


# ------------------------------------------------------- what the notebooks' code does
LOADERS = {
    "Fashion-MNIST": "load_fashion_mnist(",
    "ATIS (slot filling)": "load_atis(",
    "MNIST": "load_mnist(",
}
FAST_EPOCHS = re.compile(
    r"\w*epochs\w*\s*=\s*labkit\.choose\(\s*full=[^,]+,\s*fast=(\d+)\s*\)", re.IGNORECASE
)


def solution_code(lab: str) -> str:
    nb = solutions.read(solutions.solution_path(lab))
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")


def labs_named(text: str) -> set[str]:
    """ "labs 01-05, 08 and 09" -> {"01", "02", "03", "04", "05", "08", "09"}."""
    numbers: set[str] = set()
    for item in re.split(r",\s*|\s+and\s+", text.removeprefix("labs ").removeprefix("lab ")):
        low, _, high = item.strip().partition("-")
        numbers |= {f"{n:02d}" for n in range(int(low), int(high or low) + 1)}
    return numbers


def test_the_dataset_table_names_the_labs_that_load_each_dataset() -> None:
    rows = {}
    for line in README.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells and cells[0] in LOADERS:
            rows[cells[0]] = cells[1]
    assert set(rows) == set(LOADERS), "README's dataset table: one row per dataset"
    for dataset, loader in LOADERS.items():
        users = {lab[:2] for lab in solutions.lab_names() if loader in solution_code(lab)}
        stated = set() if rows[dataset] == "optional" else labs_named(rows[dataset])
        assert stated == users, f"README: {dataset} is used by {rows[dataset]!r}; loaded by {users}"


def test_the_readme_names_the_labs_that_end_with_a_challenge() -> None:
    said = re.search(r"Labs ([\d, and-]+?) end with a\s+\*challenge\*", README)
    assert said, "README: which labs end with a challenge"
    users = {lab[:2] for lab in solutions.lab_names() if "Challenge(" in solution_code(lab)}
    assert labs_named(said[1]) == users


def test_the_readme_names_the_labs_that_use_timebudget() -> None:
    said = re.search(r"`labkit\.lab\.timebudget\.TimeBudget`, used by (labs [^)]+)\)", README)
    assert said, "README: which labs use TimeBudget (what --time-scale changes)"
    users = {lab[:2] for lab in solutions.lab_names() if "TimeBudget(" in solution_code(lab)}
    assert labs_named(" ".join(said[1].split())) == users


def test_the_readme_states_the_fast_mode_epochs() -> None:
    said = re.search(
        r"`LABKIT_FAST=1 jupyter lab`[^\n]*(?:\n  [^\n]*)*?runs (\d+) to (\d+) epochs", README
    )
    assert said, "README's fast mode: how many epochs"
    epochs = [
        int(n) for lab in solutions.lab_names() for n in FAST_EPOCHS.findall(solution_code(lab))
    ]
    assert epochs, "no `EPOCHS = labkit.choose(full=..., fast=...)` in any notebook"
    assert (int(said[1]), int(said[2])) == (min(epochs), max(epochs))


def test_the_readme_states_the_relative_targets() -> None:
    from benchmarks.labs import LABS

    benchmark = README.split("### Benchmark", 1)[1]
    for lab, spec in LABS.items():
        if spec.relative_target is not None:
            assert f"{spec.relative_target:g}x" in benchmark, f"README's Benchmark: {lab}'s target"


def test_the_readme_quotes_what_a_check_says_when_an_earlier_answer_is_missing() -> None:
    said = re.search(
        r"\(lab (\d\d) (q\d+) uses (q\d+), which uses (q\d+)\)[^\"]*\"([^\"]+)\"", README
    )
    assert said, "README: the example of an exercise that uses earlier answers"
    lab, last, middle, first, message = said.groups()
    checks = importlib.import_module(f"labkit.checks.lab{lab}")
    exercises = {name: getattr(checks, name) for name in (last, middle, first)}
    assert [e.id for e in exercises[last].needs] == [middle]
    assert [e.id for e in exercises[middle].needs] == [first]
    assert exercises[last].result({}).message == message  # nothing done yet


# ------------------------------------------------------------------ the benchmark's tables
def test_the_benchmark_block_is_what_the_results_files_give() -> None:
    block = README.split(report.README_BEGIN, 1)[1].split(report.README_END, 1)[0]
    assert block.strip() == report.readme_block().strip(), (
        "README's benchmark results differ from benchmarks/results/: "
        "`python -c 'from benchmarks import report; report.update_readme()'`"
    )


def test_the_readme_claims_a_scaled_table_only_when_there_is_one(tmp_path: Path) -> None:
    (tmp_path / "cpu.md").write_text("| a table |\n")
    assert "No run with scaled time budgets yet" in report.readme_block(tmp_path)
    (tmp_path / "cpu-time-scale-0.6.md").write_text("| a scaled table |\n")
    assert report.readme_block(tmp_path) == "| a table |\n\n| a scaled table |"


# ------------------------------------------------------------------- the attendee's order
def test_the_readme_follows_the_attendees_day() -> None:
    order = [
        "## Quick start",
        "## Check your machine: `main.py`",
        "## Working through a lab",
        "## Labs",
        "## Troubleshooting",
        "## For instructors",
        "## For maintainers",
    ]
    headings = [line for line in README.splitlines() if line.startswith("## ")]
    assert [h for h in headings if h in order] == order, headings


def test_checking_an_exercise_is_within_a_screenful_of_the_commands() -> None:
    lines = README.splitlines()
    commands_end = lines.index(r"Scripts\test.bat") + 1
    check = next(i for i, line in enumerate(lines) if line.startswith("q1.check()"))
    assert 0 < check - commands_end <= 45, f"q1.check() is {check - commands_end} lines below"


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@pytest.mark.parametrize("page", ["README.md", "docs/setup.md", "CONTRIBUTING.md"])
def test_every_link_between_the_pages_leads_somewhere(page: str) -> None:
    source = REPO_ROOT / page
    for target, fragment in re.findall(
        r"\]\((?!https?://)([^)#\s]*)(?:#([^)\s]+))?\)", source.read_text()
    ):
        path = (source.parent / target).resolve() if target else source
        assert path.exists(), f"{page} links to {target}, which does not exist"
        if fragment:
            text = path.read_text(encoding="utf-8")
            anchors = {anchor(line) for line in text.splitlines() if line.startswith("#")}
            assert fragment in anchors, f"{page} links to {target}#{fragment}: no such heading"
