"""One source for every lab: the solution notebook is the master.

``python -m labkit notebooks build`` writes ``labs/NN_name/NN_name.ipynb`` from
``solutions/NN_name/NN_name.ipynb``: the code between ``# BEGIN SOLUTION qN`` and
``# END SOLUTION`` becomes a ``# YOUR CODE HERE`` placeholder that raises a clear
NotImplementedError, cells tagged ``solution-only`` are dropped, and the first cell says that
the notebook is generated. It also writes the kit's URL (``REPOSITORY_URL``) into every
notebook's setup cell and "Open in Colab" link. ``python -m labkit notebooks strip`` removes
outputs and execution counts. ``run`` executes a lab notebook, for the tests and the benchmark.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat

from labkit import fastmode, metrics
from labkit.errors import LabkitError, first_line
from labkit.files import write_atomic
from labkit.paths import REPO_ROOT, REPOSITORY_URL

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?:[ \t]+(?P<id>\w+))?[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
SOLUTION_ONLY_TAG = "solution-only"
NBFORMAT_VERSION = 4

GITHUB_REPOSITORY = re.compile(r"https://github\.com/(?P<repo>[\w.-]+/[\w.-]+)")
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/main/")
URL_LINE = re.compile(r'^REPOSITORY_URL = "[^"\n]*"$', re.MULTILINE)  # in labkit/paths.py
# At the top of every exercise notebook's first cell; a comment, which Jupyter does not show.
GENERATED_NOTE = (
    "<!-- Generated from {source} by `python -m labkit notebooks build`: edit that notebook and "
    "build again, never this one (the build overwrites it). -->\n"
)


def setup_cell(repository_url: str = REPOSITORY_URL) -> str:
    """The first code cell of every lab, solution and exercise alike. It runs before labkit is
    importable (on Colab or Kaggle it fetches the kit first), so it cannot live in labkit."""
    return f"""\
# Setup. On Colab or Kaggle this first fetches the workshop kit; on your own machine the
# setup script (Scripts/environment.sh or Scripts\\environment.bat) has installed it already.
import os
import sys

if "google.colab" in sys.modules or os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
    if not os.path.isdir("dl-workshop-kit"):
        !git clone --quiet --depth 1 {repository_url} dl-workshop-kit
    %pip install --quiet seqeval
    sys.path.insert(0, os.path.abspath("dl-workshop-kit"))

import labkit

labkit.start_lab()"""


# The setup cell with any repository in it: the one the build replaces.
_ANY_SETUP_CELL = re.compile(
    re.escape(setup_cell("REPOSITORY")).replace("REPOSITORY", r"https://github\.com/\S+")
)


class NotebookError(LabkitError):
    """A solution notebook whose markers do not pair up, or a missing or unreadable notebook."""


@dataclass(frozen=True)
class Region:
    """The code of one solution region and the exercise it belongs to."""

    exercise: str | None
    code: str


def placeholder(indent: str, exercise: str | None) -> list[str]:
    """The lines that stand for a solution in the exercise notebook."""
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


def exercise_notebook(solution: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """The learner's notebook made from a solution notebook; `source` is the solution's path
    from the repository root, named in the generated note and in errors."""
    nb = strip(copy.deepcopy(solution))
    cells = []
    for i, cell in enumerate(nb.cells):
        if SOLUTION_ONLY_TAG in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "code":
            cell.source, _ = split_regions(cell.source, f"{source}, cell {i + 1}")
        cells.append(cell)
    note = GENERATED_NOTE.format(source=source)
    if cells and cells[0].cell_type == "markdown":
        cells[0].source = note + cells[0].source
    else:
        cells.insert(0, nbformat.v4.new_markdown_cell(note.strip()))
    nb.cells = cells
    return nb


def colab_prefix(repository_url: str = REPOSITORY_URL) -> str:
    """The start of the "Open in Colab" address of every file of the repository."""
    match = GITHUB_REPOSITORY.fullmatch(repository_url)
    if match is None:
        raise NotebookError(
            f"{repository_url!r} is not a GitHub repository's address "
            "(https://github.com/OWNER/NAME), which Colab needs to open the notebooks."
        )
    return f"https://colab.research.google.com/github/{match['repo']}/blob/main/"


def colab_url(path: Path, root: Path = REPO_ROOT, repository_url: str = REPOSITORY_URL) -> str:
    """The "Open in Colab" address of a notebook of this repository."""
    return colab_prefix(repository_url) + path.relative_to(root).as_posix()


def with_repository(
    nb: nbformat.NotebookNode, repository_url: str = REPOSITORY_URL
) -> nbformat.NotebookNode:
    """A copy of `nb` whose setup cell clones `repository_url` and whose "Open in Colab" links
    point at it."""
    nb, prefix = copy.deepcopy(nb), colab_prefix(repository_url)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = COLAB_LINK.sub(prefix, cell.source)
        elif _ANY_SETUP_CELL.fullmatch(cell.source):
            cell.source = setup_cell(repository_url)
    return nb


def lab_names(root: Path = REPO_ROOT) -> list[str]:
    """The labs, from their solution folders: ``01_tensorflow_operations``, ..."""
    return sorted(p.name for p in (root / "solutions").glob("[0-9][0-9]_*") if p.is_dir())


def solution_path(lab: str, root: Path = REPO_ROOT) -> Path:
    return root / "solutions" / lab / f"{lab}.ipynb"


def exercise_path(lab: str, root: Path = REPO_ROOT) -> Path:
    return root / "labs" / lab / f"{lab}.ipynb"


def read(path: Path) -> nbformat.NotebookNode:
    if not path.is_file():
        raise NotebookError(
            f"{path} does not exist: is this a complete clone of the workshop repository?"
        )
    try:
        return nbformat.read(path, as_version=NBFORMAT_VERSION)
    except Exception as exc:  # nbformat raises several kinds for a file that is not a notebook
        raise NotebookError(f"{path} is not a readable notebook: {first_line(exc)}") from exc


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook as the text we commit (nbformat's layout, one final newline)."""
    return nbformat.writes(nb, version=NBFORMAT_VERSION).rstrip("\n") + "\n"


def _planned_files(root: Path, repository_url: str) -> dict[Path, str]:
    """Every file the build writes, with its new text: the exercise notebooks, and the
    solution notebooks, the README and labkit/paths.py where the repository's URL changes."""
    planned: dict[Path, str] = {}
    errors: list[str] = []
    for lab in lab_names(root):
        source = solution_path(lab, root)
        try:
            original = read(source)
            solution = with_repository(original, repository_url)
            exercise = exercise_notebook(solution, source.relative_to(root).as_posix())
        except NotebookError as exc:
            errors.append(str(exc))
            continue
        if solution != original:
            planned[source] = render(solution)
        planned[exercise_path(lab, root)] = render(exercise)
    if errors:
        raise NotebookError(
            "\n".join(errors) + "\nNothing was written: fix the solution notebooks above, then "
            "run `python -m labkit notebooks build` again."
        )
    readme, paths_module = root / "README.md", root / "labkit" / "paths.py"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        planned[readme] = COLAB_LINK.sub(colab_prefix(repository_url), text)
    if paths_module.is_file():
        text = paths_module.read_text(encoding="utf-8")
        planned[paths_module] = URL_LINE.sub(f'REPOSITORY_URL = "{repository_url}"', text)
    return planned


def build(
    root: Path = REPO_ROOT, check: bool = False, repository_url: str = REPOSITORY_URL
) -> list[Path]:
    """Write every exercise notebook from its solution, with `repository_url` in every setup
    cell and Colab link; returns the files that changed (or, with ``check=True``, would change:
    then nothing is written).

    All or nothing: every notebook is made before any is written, and an error in any of
    them (each named with its cell) raises NotebookError with nothing written.
    """
    planned = _planned_files(root, repository_url)
    changed = [
        path
        for path, text in planned.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    if not check:
        for path in changed:
            write_atomic(path, planned[path])
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
                write_atomic(path, clean)
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
    env: Mapping[str, str],
    timeout: int = 1800,
    allow_errors: bool = False,
) -> nbformat.NotebookNode:
    """Run every cell of `nb` in a fresh python3 kernel started in `cwd`, whose environment is
    this process's plus `env` (this process's own is left alone); the outputs are stored in
    `nb`, which is returned."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env={**os.environ, **env})  # handed on to the kernel manager
    return nb


@dataclass
class NotebookRun:
    """A lab notebook that ran: with its outputs, the metrics it reported, its wall time."""

    nb: nbformat.NotebookNode
    metrics: dict[str, float]
    wall_seconds: float


def run(
    nb: nbformat.NotebookNode,
    cwd: Path,
    *,
    fast: bool,
    env: Mapping[str, str] | None = None,
    timeout: int = 1800,
    allow_errors: bool = False,
) -> NotebookRun:
    """Run a lab notebook as the tests (fast mode) and the benchmark (full mode) do: TensorFlow's
    log quiet, matplotlib drawing off screen, and the metrics it reports with ``labkit.report``
    read back. `env` adds variables (the benchmark's seed and time scale, ...)."""
    with tempfile.TemporaryDirectory() as tmp:
        metrics_file = Path(tmp) / "metrics.json"
        lab_env = {
            fastmode.ENV_VAR: "1" if fast else "0",
            metrics.ENV_VAR: str(metrics_file),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "MPLBACKEND": "agg",
            **(env or {}),
        }
        start = time.perf_counter()
        execute(nb, cwd, lab_env, timeout=timeout, allow_errors=allow_errors)
        wall_seconds = time.perf_counter() - start
        return NotebookRun(nb, metrics.read(metrics_file), wall_seconds)
