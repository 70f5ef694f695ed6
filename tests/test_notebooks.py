"""The notebook machinery: exercise notebooks built from solutions, no outputs, one setup cell."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO_ROOT, dataset_or_skip
from notebook_helpers import check_outputs, run_lab

from labkit.notebooks import build, solutions
from labkit.notebooks import run as notebook_run
from labkit.notebooks.solutions import NotebookError

SOLUTION_CELL = """\
def softmax(z):
    # BEGIN SOLUTION q1
    e = np.exp(z - z.max())
    return e / e.sum()
    # END SOLUTION

x = 1"""


def make_solution(tmp_path: Path, lab: str = "09_example") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lab 09"),
        nbformat.v4.new_code_cell(build.setup_cell()),
        nbformat.v4.new_code_cell(SOLUTION_CELL),
        nbformat.v4.new_code_cell("# BEGIN SOLUTION q2\ny = 2\n# END SOLUTION"),
        nbformat.v4.new_code_cell("q1.check()"),
        nbformat.v4.new_code_cell("secret = 42", metadata={"tags": ["solution-only"]}),
    ]
    nb.cells[4].outputs = [nbformat.v4.new_output("stream", text="Correct")]
    nb.cells[4].execution_count = 7
    path = solutions.solution_path(lab, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(build.render(nb))
    return path


def test_regions_become_placeholders_that_keep_indentation() -> None:
    source, regions = solutions.split_regions(SOLUTION_CELL)
    assert "np.exp" not in source and "x = 1" in source
    assert (
        '    # YOUR CODE HERE\n    raise NotImplementedError("Exercise q1: replace this line'
        in source
    )
    assert "then run q1.check()" in source
    assert regions[0].exercise == "q1" and regions[0].code.startswith("e = np.exp")
    namespace: dict = {}
    exec(source, namespace)  # the placeholder is valid Python; calling it raises
    with pytest.raises(NotImplementedError, match="Exercise q1"):
        namespace["softmax"](None)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("# BEGIN SOLUTION q1\nx = 1", "never closed"),
        ("x = 1\n# END SOLUTION", "without a `# BEGIN SOLUTION`"),
        ("# BEGIN SOLUTION q1\n# BEGIN SOLUTION q2\n# END SOLUTION", "inside another"),
    ],
)
def test_unbalanced_markers_are_reported(source: str, message: str) -> None:
    with pytest.raises(NotebookError, match=message):
        solutions.split_regions(source, "lab 09, cell 3")


def test_build_writes_stripped_exercise_and_check_mode(tmp_path: Path) -> None:
    make_solution(tmp_path)
    assert build.build(tmp_path, check=True) == [build.exercise_path("09_example", tmp_path)]
    assert not build.exercise_path("09_example", tmp_path).exists()  # --check writes nothing
    build.build(tmp_path)
    exercise = nbformat.read(build.exercise_path("09_example", tmp_path), as_version=4)
    sources = [c.source for c in exercise.cells]
    assert sources[0].startswith(
        "<!-- Generated from solutions/09_example/09_example.ipynb by `python -m labkit notebooks"
    )
    assert not any("secret" in s for s in sources)  # solution-only cell dropped
    assert not any("np.exp" in s or "y = 2" in s for s in sources)
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in exercise.cells
        if c.cell_type == "code"
    )
    assert build.build(tmp_path, check=True) == []  # up to date now


def test_build_is_all_or_nothing(tmp_path: Path) -> None:
    make_solution(tmp_path, "08_fine")
    broken = make_solution(tmp_path, "09_broken")
    nb = nbformat.read(broken, as_version=4)
    nb.cells[3].source = "# BEGIN SOLUTION q2\ny = 2"  # never closed
    broken.write_text(build.render(nb))
    with pytest.raises(NotebookError) as error:
        build.build(tmp_path)
    assert str(error.value).startswith(
        "solutions/09_broken/09_broken.ipynb, cell 4: `# BEGIN SOLUTION` is never closed"
    )
    assert "Nothing was written" in str(error.value)
    assert not (tmp_path / "labs").exists()  # not even the lab without a fault


def test_the_build_command_names_the_faulty_cell_without_a_traceback(tmp_path: Path) -> None:
    """In a copy of the kit with one broken solution notebook: exit 1, one message, no file."""
    shutil.copytree(
        REPO_ROOT / "labkit", tmp_path / "labkit", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "pyproject.toml").write_text("")
    make_solution(tmp_path, "08_fine")
    broken = make_solution(tmp_path, "09_broken")
    broken.write_text(broken.read_text().replace("# END SOLUTION", "# BEGIN SOLUTION q3", 1))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    done = subprocess.run(
        [sys.executable, "-m", "labkit", "notebooks", "build"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "solutions/09_broken/09_broken.ipynb, cell 3: `# BEGIN SOLUTION` inside another" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr and done.stdout == ""
    after = {
        p: p.read_bytes()
        for p in tmp_path.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert after == before


def test_build_writes_the_repository_url_everywhere_once(tmp_path: Path) -> None:
    path = make_solution(tmp_path)
    nb = nbformat.read(path, as_version=4)
    link = build.colab_url(build.exercise_path("09_example", tmp_path), tmp_path)
    nb.cells[0].source += f"\n\n[Open in Colab]({link})"
    path.write_text(build.render(nb))
    (tmp_path / "labkit").mkdir()
    url_file = tmp_path / "labkit" / "repository-url.txt"
    url_file.write_text((REPO_ROOT / "labkit" / "repository-url.txt").read_text())
    (tmp_path / "README.md").write_text(f"| 09 | [Open in Colab]({link}) |\n")
    fork = "https://github.com/a-fork/kit"
    changed = build.build(tmp_path, repository_url=fork)
    assert sorted(p.name for p in changed) == ["09_example.ipynb"] * 2 + [
        "README.md",
        "repository-url.txt",
    ]
    new_link = build.colab_url(build.exercise_path("09_example", tmp_path), tmp_path, fork)
    assert new_link.startswith("https://colab.research.google.com/github/a-fork/kit/blob/main/")
    assert url_file.read_text() == f"{fork}\n"
    assert (tmp_path / "README.md").read_text() == f"| 09 | [Open in Colab]({new_link}) |\n"
    for nb_path in (path, build.exercise_path("09_example", tmp_path)):
        cells = nbformat.read(nb_path, as_version=4).cells
        assert cells[1].source == build.setup_cell(fork) and new_link in cells[0].source
    assert build.build(tmp_path, check=True, repository_url=fork) == []
    with pytest.raises(NotebookError, match="not a GitHub repository"):
        build.build(tmp_path, repository_url="https://gitlab.com/a/b")


def test_execute_gives_the_kernel_its_environment_and_leaves_ours_alone(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import os\nprint(os.environ['LABKIT_PROBE'], os.getcwd())"),
        nbformat.v4.new_code_cell("import labkit\nlabkit.report(answer=42)"),
    ]
    assert "LABKIT_PROBE" not in os.environ
    done = notebook_run.run(nb, tmp_path, fast=True, env={"LABKIT_PROBE": "seen"}, timeout=120)
    assert done.nb.cells[0].outputs[0].text.split() == ["seen", str(tmp_path)]
    assert done.metrics == {"answer": 42.0, "fast_mode": True} and done.wall_seconds > 0
    assert "LABKIT_PROBE" not in os.environ and "LABKIT_METRICS_FILE" not in os.environ


def test_strip_all(tmp_path: Path) -> None:
    path = make_solution(tmp_path)
    assert build.strip_all(tmp_path, check=True) == [path]
    build.strip_all(tmp_path)
    assert build.strip_all(tmp_path, check=True) == []
    assert "Correct" not in path.read_text()


def test_solution_code_is_read_from_the_solution_notebook(tmp_path: Path) -> None:
    make_solution(tmp_path)
    assert solutions.solution_code("09_example", "q2", tmp_path) == "y = 2"
    with pytest.raises(NotebookError, match="no `# BEGIN SOLUTION q9`"):
        solutions.solution_code("09_example", "q9", tmp_path)


# ------------------------------------------------------------- the committed notebooks
def committed_notebooks() -> list[Path]:
    return sorted([*REPO_ROOT.glob("solutions/*/*.ipynb"), *REPO_ROOT.glob("labs/*/*.ipynb")])


def test_there_are_labs_with_both_notebooks() -> None:
    labs = solutions.lab_names()
    assert labs, "no lab in solutions/"
    for lab in labs:
        assert build.exercise_path(lab).is_file(), (
            f"labs/{lab} missing: run python -m labkit notebooks build"
        )


def test_exercise_notebooks_are_up_to_date() -> None:
    stale = build.build(check=True)
    assert not stale, f"out of date: {stale}; run `python -m labkit notebooks build`"


def test_notebooks_are_committed_without_outputs() -> None:
    for path in committed_notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, f"{path}: strip it"


def test_every_notebook_opens_with_the_setup_cell_and_a_colab_link() -> None:
    for path in committed_notebooks():
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code[0].source == build.setup_cell(), f"{path}: first code cell is not the setup"
        lab = path.parent.name
        title = nb.cells[0].source
        if path.parts[-3] == "labs":  # generated: says so first, where Jupyter does not show it
            source = f"solutions/{lab}/{lab}.ipynb"
            assert title.startswith(build.GENERATED_NOTE.format(source=source)), path
            title = title.removeprefix(build.GENERATED_NOTE.format(source=source))
        assert nb.cells[0].cell_type == "markdown" and title.startswith("# Lab ")
        assert build.colab_url(build.exercise_path(lab)) in nb.cells[0].source, (
            f"{path}: Colab link"
        )


def test_every_exercise_has_a_check_cell_and_a_solution_region() -> None:
    import importlib

    for lab in solutions.lab_names():
        module = importlib.import_module(f"labkit.checks.lab{lab[:2]}")
        text = solutions.solution_path(lab).read_text(encoding="utf-8")
        for q in module.EXERCISES:
            assert q.lab == lab
            assert f"{q.id}.check()" in text, f"{lab}: no {q.id}.check() cell"
            assert solutions.solution_code(lab, q.id)


def test_cli_build_check_passes() -> None:
    command = [sys.executable, "-m", "labkit", "notebooks", "build", "--check"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------ every lab, run in fast mode
def _exercises(lab: str) -> tuple:
    return importlib.import_module(f"labkit.checks.lab{lab[:2]}").EXERCISES


def _skip_without_data(lab: str) -> None:
    if lab.startswith(("06", "07")):
        dataset_or_skip("atis")


@pytest.mark.notebook
@pytest.mark.parametrize("lab", solutions.lab_names())
def test_every_check_passes_on_the_solution(lab: str) -> None:
    _skip_without_data(lab)
    run = run_lab(lab)
    assert not run.errors
    assert run.checks == {q.id: "CORRECT" for q in _exercises(lab)}
    shown = check_outputs(run.nb)
    assert len(shown) == len(_exercises(lab))
    assert all(text.startswith("Correct") for text in shown), shown


@pytest.mark.notebook
@pytest.mark.parametrize("lab", solutions.lab_names())
def test_exercise_notebook_runs_and_its_checks_say_not_attempted(lab: str) -> None:
    _skip_without_data(lab)
    run = run_lab(lab, "exercise")
    assert set(run.checks.values()) <= {"NOT_ATTEMPTED", "INCORRECT"}
    assert run.checks["q1"] == "NOT_ATTEMPTED"
    # The placeholders fail with the message that names their exercise.
    assert any(e.startswith("NotImplementedError: Exercise q1") for e in run.errors), run.errors


def test_exercise_notebooks_link_to_colab_in_text_not_with_an_image() -> None:
    """Colab's badge is an image from the internet: a broken picture in a room without it."""
    link = "https://colab.research.google.com/github/o/n/blob/main/labs/09_x/09_x.ipynb"
    nb = nbformat.v4.new_notebook()
    badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})"
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Lab 09: x\n\n{badge}\n\nText.")]
    made = build.exercise_notebook(nb, "solutions/09_x/09_x.ipynb")
    assert f"**[Open in Colab]({link})**" in made.cells[0].source
    assert "colab-badge.svg" not in made.cells[0].source and "Text." in made.cells[0].source
    for lab in solutions.lab_names():
        text = build.exercise_path(lab).read_text(encoding="utf-8")
        assert "colab-badge.svg" not in text and "[Open in Colab](https://colab" in text, lab
