"""The solution notebooks, the master copy of every lab: where they are, and their solution
regions (the code between ``# BEGIN SOLUTION qN`` and ``# END SOLUTION``), which the build
turns into exercises and ``qN.solution()`` shows.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat

from labkit.errors import LabkitError, first_line
from labkit.paths import REPO_ROOT

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?:[ \t]+(?P<id>\w+))?[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
CHALLENGE = "challenge"  # the id of a challenge's region: ``# BEGIN SOLUTION challenge``
NBFORMAT_VERSION = 4


class NotebookError(LabkitError):
    """A solution notebook whose markers do not pair up, or a missing or unreadable notebook."""


@dataclass(frozen=True)
class Region:
    """The code of one solution region and the exercise it belongs to."""

    exercise: str | None
    code: str


def placeholder(indent: str, exercise: str | None) -> list[str]:
    """The lines that stand for a solution in the exercise notebook. The region of a lab's
    closing challenge is marked ``# BEGIN SOLUTION challenge``: it has no check, its cell's
    verdict says how close the learner came."""
    if exercise == CHALLENGE:
        message = (
            "Challenge: replace this line with your choices, then run the cell for the verdict."
        )
    else:
        label = f"Exercise {exercise}" if exercise else "This exercise"
        then = f", then run {exercise}.check()" if exercise else ""
        message = f"{label}: replace this line with your code{then}."
    return [f"{indent}# YOUR CODE HERE", f'{indent}raise NotImplementedError("{message}")']


def split_regions(source: str, where: str = "cell") -> tuple[str, list[Region]]:
    """The exercise version of a cell's source, and the solution regions it held."""
    out: list[str] = []
    regions: list[Region] = []
    current: tuple[str | None, list[str]] | None = None
    for line in source.splitlines():
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if current is not None:
                raise NotebookError(f"{where}: `# BEGIN SOLUTION` inside another solution region.")
            current = (begin["id"], [])
            out += placeholder(begin["indent"], begin["id"])
        elif end:
            if current is None:
                raise NotebookError(f"{where}: `# END SOLUTION` without a `# BEGIN SOLUTION`.")
            regions.append(Region(current[0], textwrap.dedent("\n".join(current[1])).strip("\n")))
            current = None
        elif current is not None:
            current[1].append(line)
        else:
            out.append(line)
    if current is not None:
        raise NotebookError(f"{where}: `# BEGIN SOLUTION` is never closed by `# END SOLUTION`.")
    return "\n".join(out), regions


def lab_names(root: Path = REPO_ROOT) -> list[str]:
    """The labs, from their solution folders: ``01_tensorflow_operations``, ..."""
    return sorted(p.name for p in (root / "solutions").glob("[0-9][0-9]_*") if p.is_dir())


def solution_path(lab: str, root: Path = REPO_ROOT) -> Path:
    return root / "solutions" / lab / f"{lab}.ipynb"


def read(path: Path) -> nbformat.NotebookNode:
    if not path.is_file():
        raise NotebookError(
            f"{path} does not exist: is this a complete clone of the workshop repository?"
        )
    try:
        return nbformat.read(path, as_version=NBFORMAT_VERSION)
    except Exception as exc:  # nbformat raises several kinds for a file that is not a notebook
        raise NotebookError(f"{path} is not a readable notebook: {first_line(exc)}") from exc


def solution_code(lab: str, exercise: str, root: Path = REPO_ROOT) -> str:
    """Every cell of the lab's solution notebook that holds a solution of ``exercise``, as it
    is there: whole functions with their ``def`` lines, ready to run. The markers are left out,
    and the solutions of other exercises in the same cell stay placeholders. What
    ``qN.solution()`` and the last hint show, and what the tests read."""
    nb = read(solution_path(lab, root))
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept, inside, found = [], False, False
        for line in cell.source.splitlines():
            begin = BEGIN.match(line)
            if begin and begin["id"] == exercise:
                inside = found = True
            elif inside and END.match(line):
                inside = False
            else:
                kept.append(line)
        if found:
            cells.append(split_regions("\n".join(kept))[0].strip("\n"))
    if not cells:
        raise NotebookError(
            f"{lab}: no `# BEGIN SOLUTION {exercise}` region in the solution notebook."
        )
    return "\n\n\n".join(cells)
