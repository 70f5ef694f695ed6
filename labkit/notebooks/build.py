"""The exercise notebooks, built from the solution notebooks.

``python -m labkit notebooks build`` writes ``labs/NN_name/NN_name.ipynb`` from
``solutions/NN_name/NN_name.ipynb``: the code between ``# BEGIN SOLUTION qN`` and
``# END SOLUTION`` becomes a ``# YOUR CODE HERE`` placeholder that raises a clear
NotImplementedError, cells tagged ``solution-only`` are dropped, and the first cell says that
the notebook is generated. It also writes the kit's URL (``REPOSITORY_URL``) into every
notebook's setup cell and "Open in Colab" link. ``python -m labkit notebooks strip`` removes
outputs and execution counts.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from labkit.files import write_atomic
from labkit.install.kernel import DISPLAY_NAME, KERNEL_NAME
from labkit.notebooks.solutions import (
    NBFORMAT_VERSION,
    NotebookError,
    lab_names,
    read,
    solution_path,
    split_regions,
)
from labkit.paths import REPO_ROOT, REPOSITORY_URL, REPOSITORY_URL_FILE

SOLUTION_ONLY_TAG = "solution-only"
GITHUB_REPOSITORY = re.compile(r"https://github\.com/(?P<repo>[\w.-]+/[\w.-]+)")
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/main/")
# Colab's badge is an image from colab.research.google.com: broken in a room without internet.
# The exercise notebooks get a text link instead.
COLAB_BADGE = re.compile(
    r"\[!\[Open in Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
    r"\((?P<url>[^)\s]+)\)",
    re.IGNORECASE,
)
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


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs, execution counts and per-run metadata (in place), and ask for the
    workshop's kernel, whichever kernel the notebook was last saved with; returns ``nb``."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    if "language_info" in nb.metadata:
        nb.metadata.language_info = {"name": "python"}
    nb.metadata.kernelspec = {
        "display_name": DISPLAY_NAME,
        "language": "python",
        "name": KERNEL_NAME,
    }
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
        else:
            cell.source = COLAB_BADGE.sub(r"**[Open in Colab](\g<url>)**", cell.source)
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


def exercise_path(lab: str, root: Path = REPO_ROOT) -> Path:
    return root / "labs" / lab / f"{lab}.ipynb"


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook as the text we commit (nbformat's layout, one final newline)."""
    return nbformat.writes(nb, version=NBFORMAT_VERSION).rstrip("\n") + "\n"


def _planned_files(root: Path, repository_url: str) -> dict[Path, str]:
    """Every file the build writes, with its new text: the exercise notebooks, and the
    solution notebooks, the README and labkit/repository-url.txt where the repository's URL
    changes."""
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
    readme = root / "README.md"
    url_file = root / REPOSITORY_URL_FILE.relative_to(REPO_ROOT)
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        planned[readme] = COLAB_LINK.sub(colab_prefix(repository_url), text)
    if url_file.is_file():
        planned[url_file] = repository_url + "\n"
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
