"""What the README states about the labs is what the notebooks and the code do.

Each test reads a fact from its source (the solution notebooks' first cell and code, the
kernel's name, the benchmark's results files) and the README's text, and compares them, so
that neither can change without the other.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import REPO_ROOT

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
