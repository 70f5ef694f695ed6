"""One source for every lab: the solution notebook is the master.

``python -m labkit notebooks build`` writes ``labs/NN_name/NN_name.ipynb`` from
``solutions/NN_name/NN_name.ipynb``: the code between ``# BEGIN SOLUTION qN`` and
``# END SOLUTION`` becomes a ``# YOUR CODE HERE`` placeholder that raises a clear
NotImplementedError, and cells tagged ``solution-only`` are dropped.
``python -m labkit notebooks strip`` removes outputs and execution counts.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from labkit.errors import LabkitError
from labkit.paths import REPO_ROOT
from labkit.session import REPOSITORY_URL

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?:[ \t]+(?P<id>\w+))?[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
SOLUTION_ONLY_TAG = "solution-only"
NBFORMAT_VERSION = 4


# The first code cell of every lab, solution and exercise alike (tests/test_notebooks.py checks).
# It must run before labkit is importable, so it cannot live in labkit itself.
SETUP_CELL = f"""\
# Setup. On Colab or Kaggle this first fetches the workshop kit; on your own machine the
# setup script (Scripts/environment.sh or Scripts\\environment.bat) has installed it already.
import os
import sys

if "google.colab" in sys.modules or os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
    if not os.path.isdir("dl-workshop-kit"):
        !git clone --quiet --depth 1 {REPOSITORY_URL} dl-workshop-kit
    %pip install --quiet seqeval
    sys.path.insert(0, os.path.abspath("dl-workshop-kit"))

import labkit

labkit.start_lab()"""


class NotebookError(LabkitError):
    """A solution notebook whose markers do not pair up, or a missing notebook."""


@dataclass(frozen=True)
class Region:
    """The code of one solution region and the exercise it belongs to."""

    exercise: str | None
    code: str


def placeholder(indent: str, exercise: str | None) -> list[str]:
    """The lines that stand for a solution in the exercise notebook."""
    label = f"Exercise {exercise}" if exercise else "This exercise"
    then = f", then run {exercise}.check()" if exercise else ""
    return [f"{indent}# YOUR CODE HERE",
            f'{indent}raise NotImplementedError("{label}: replace this line with your code{then}.")']  # fmt: skip


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
            regions.append(Region(current[0], _dedent("\n".join(current[1]))))
            current = None
        elif current is not None:
            current[1].append(line)
        else:
            out.append(line)
    if current is not None:
        raise NotebookError(f"{where}: `# BEGIN SOLUTION` is never closed by `# END SOLUTION`.")
    return "\n".join(out), regions


def _dedent(code: str) -> str:
    import textwrap

    return textwrap.dedent(code).strip("\n")


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs, execution counts and per-run metadata (in place); returns ``nb``."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    if "language_info" in nb.metadata:
        nb.metadata.language_info = {"name": "python"}
    return nb


def exercise_notebook(
    solution: nbformat.NotebookNode, name: str = "notebook"
) -> nbformat.NotebookNode:
    """The learner's notebook made from a solution notebook."""
    nb = strip(copy.deepcopy(solution))
    cells = []
    for i, cell in enumerate(nb.cells):
        if SOLUTION_ONLY_TAG in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "code":
            cell.source, _ = split_regions(cell.source, f"{name}, cell {i + 1}")
        cells.append(cell)
    nb.cells = cells
    return nb


def lab_names(root: Path = REPO_ROOT) -> list[str]:
    """The labs, from their solution folders: ``01_tensorflow_operations``, ..."""
    return sorted(p.name for p in (root / "solutions").glob("[0-9][0-9]_*") if p.is_dir())


def solution_path(lab: str, root: Path = REPO_ROOT) -> Path:
    return root / "solutions" / lab / f"{lab}.ipynb"


def exercise_path(lab: str, root: Path = REPO_ROOT) -> Path:
    return root / "labs" / lab / f"{lab}.ipynb"


def colab_url(path: Path, root: Path = REPO_ROOT) -> str:
    """The "Open in Colab" address of a notebook of this repository."""
    repo = REPOSITORY_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repo}/blob/main/{path.relative_to(root).as_posix()}"


def read(path: Path) -> nbformat.NotebookNode:
    if not path.is_file():
        raise NotebookError(
            f"{path} does not exist: is this a complete clone of the workshop repository?"
        )
    return nbformat.read(path, as_version=NBFORMAT_VERSION)


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook as the text we commit (nbformat's layout, one final newline)."""
    return nbformat.writes(nb, version=NBFORMAT_VERSION).rstrip("\n") + "\n"


def build(root: Path = REPO_ROOT, check: bool = False) -> list[Path]:
    """Write every exercise notebook from its solution; returns those that changed.

    With ``check=True`` nothing is written: the list says which are out of date.
    """
    changed = []
    for lab in lab_names(root):
        target = exercise_path(lab, root)
        text = render(exercise_notebook(read(solution_path(lab, root)), lab))
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            changed.append(target)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    return changed


def strip_all(root: Path = REPO_ROOT, check: bool = False) -> list[Path]:
    """Strip outputs from every lab and solution notebook; returns those that had any."""
    changed = []
    for path in sorted([*root.glob("solutions/*/*.ipynb"), *root.glob("labs/*/*.ipynb")]):
        text = path.read_text(encoding="utf-8")
        clean = render(strip(nbformat.reads(text, as_version=NBFORMAT_VERSION)))
        if clean != text:
            changed.append(path)
            if not check:
                path.write_text(clean, encoding="utf-8")
    return changed


def solution_code(lab: str, exercise: str, root: Path = REPO_ROOT) -> str:
    """The code of every solution region of ``exercise`` in the lab's solution notebook."""
    nb = read(solution_path(lab, root))
    found = [
        region.code
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for region in split_regions(cell.source, f"{lab}, cell {i + 1}")[1]
        if region.exercise == exercise
    ]
    if not found:
        raise NotebookError(
            f"{lab}: no `# BEGIN SOLUTION {exercise}` region in the solution notebook."
        )
    return "\n\n".join(found)


def execute(
    nb: nbformat.NotebookNode,
    cwd: Path,
    env: dict[str, str],
    timeout: int = 1800,
    allow_errors: bool = False,
) -> nbformat.NotebookNode:
    """Run every cell of `nb` in a fresh python3 kernel started in `cwd` with `env` added to
    the environment (the kernel inherits it); the outputs are stored in `nb`, which is returned."""
    from nbclient import NotebookClient

    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                       resources={"metadata": {"path": str(cwd)}}).execute()  # fmt: skip
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb
