"""How long each lab takes an attendee: the estimate the README's table and the notebooks'
"Time needed" state.

Not a timing of real attendees: the solution notebook's prose at 150 words a minute, its code
(what the learner reads and writes) at 10 lines a minute, 5.5 minutes per exercise (``qN``, whose
``# BEGIN SOLUTION qN`` regions may span cells) and 8 per challenge (``Challenge(``), plus the notebook's wall
time in full mode from the benchmark's results (the slowest device's). A section whose heading
says *Optional* (and a code cell that starts with ``# Optional``) counts towards the time with
the optional parts only. The core path and the optional parts are each rounded to 5 minutes.

``python -m benchmarks.lab_times`` prints the table; ``tests/test_readme_facts.py`` checks that
the README and the notebooks state these times.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat

from benchmarks.report import RESULTS_DIR
from labkit.errors import LabkitError
from labkit.notebooks import solutions
from labkit.notebooks.solutions import split_regions
from labkit.paths import REPO_ROOT

WORDS_PER_MINUTE = 150
CODE_LINES_PER_MINUTE = 10
MINUTES_PER_EXERCISE = 5.5
MINUTES_PER_CHALLENGE = 8
_HEADING = re.compile(r"^(?P<level>#+)\s+(?P<title>.*)$", re.MULTILINE)
_OPTIONAL = re.compile(r"\boptional\b", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_EXERCISE = re.compile(
    r"q\d+"
)  # a challenge's region is `# BEGIN SOLUTION challenge`, or has no id


@dataclass(frozen=True)
class Estimate:
    """A lab's time in minutes: the core path, and with its optional parts (unrounded)."""

    core: float
    full: float

    @property
    def rounded(self) -> tuple[int, int]:
        """Both rounded to 5 minutes, the optional parts on their own (what a notebook says:
        "about 90 minutes; the optional parts add about 5")."""
        core = round_to_5(self.core)
        return core, core + round_to_5(self.full - self.core)


def round_to_5(minutes: float) -> int:
    return int(5 * ((minutes + 2.5) // 5))


def cells_with_optional(nb: nbformat.NotebookNode) -> Iterator[tuple[nbformat.NotebookNode, bool]]:
    """Every cell, and whether it belongs to an optional part: from a heading that says
    *Optional* to the next heading of the same or a higher level that does not."""
    optional_level = 0  # 0: not in an optional part
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for heading in _HEADING.finditer(cell.source):
                level = len(heading["level"])
                if _OPTIONAL.search(heading["title"]):
                    optional_level = optional_level or level
                elif optional_level and level <= optional_level:
                    optional_level = 0
            yield cell, bool(optional_level)
        else:
            yield (
                cell,
                bool(optional_level) or cell.source.lstrip().lower().startswith("# optional"),
            )


def reading_minutes(cell: nbformat.NotebookNode) -> float:
    """The minutes a cell takes to read, or to read and type: its prose or its code."""
    if cell.cell_type == "markdown":
        return len(_COMMENT.sub("", cell.source).split()) / WORDS_PER_MINUTE
    return sum(1 for line in cell.source.splitlines() if line.strip()) / CODE_LINES_PER_MINUTE


def wall_minutes(results_dir: Path = RESULTS_DIR) -> dict[str, float]:
    """Each lab's notebook wall time in full mode, in minutes: the slowest of the committed
    full-mode results files (no time scale, no smoke run), the median of its runs."""
    minutes: dict[str, float] = {}
    for path in sorted(results_dir.glob("*.json")):
        results = json.loads(path.read_text(encoding="utf-8"))
        if results.get("smoke") or results.get("time_scale", 1.0) != 1:
            continue
        for row in results["labs"]:
            if row.get("wall_seconds") is not None:
                minutes[row["lab"]] = max(minutes.get(row["lab"], 0.0), row["wall_seconds"] / 60)
    return minutes


def estimate(lab: str, root: Path = REPO_ROOT, results_dir: Path = RESULTS_DIR) -> Estimate:
    """A lab's estimate from its solution notebook and its benchmark run."""
    nb = solutions.read(solutions.solution_path(lab, root))
    minutes = {False: 0.0, True: 0.0}  # the core path, the optional parts
    exercises: dict[str, bool] = {}  # each exercise (some span cells): optional or not
    for cell, optional in cells_with_optional(nb):
        minutes[optional] += reading_minutes(cell)
        if cell.cell_type == "code":
            for region in split_regions(cell.source, lab)[1]:
                if region.exercise and _EXERCISE.fullmatch(region.exercise):  # not a challenge's
                    exercises.setdefault(region.exercise, optional)
            minutes[optional] += cell.source.count("Challenge(") * MINUTES_PER_CHALLENGE
    for optional in exercises.values():
        minutes[optional] += MINUTES_PER_EXERCISE
    walls = wall_minutes(results_dir)
    if lab not in walls:
        raise LabkitError(
            f"{lab} has no full-mode run in {results_dir}: run `python -m labkit bench {lab[:2]}`."
        )
    core = minutes[False] + walls[lab]
    return Estimate(core, core + minutes[True])


def main() -> None:
    print("| Lab | Core path | With the optional parts | (unrounded) |")
    print("|---|---|---|---|")
    for lab in solutions.lab_names():
        found = estimate(lab)
        core, full = found.rounded
        print(
            f"| {lab[:2]} | about {core} min | about {full} min | {found.core:.1f} / {found.full:.1f} |"
        )


if __name__ == "__main__":
    main()
