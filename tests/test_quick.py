"""The quick tier (``bash Scripts/test.sh --quick``, about a minute): proves an attendee's
install. TensorFlow and Keras import, the data verifies, the workshop's Jupyter kernel is
registered for this Python, and in that kernel every lab's first cells run, up to its first
exercise's check, which gets Correct with the solution."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import nbformat
import pytest
from conftest import dataset_or_skip

from labkit.datasets import DATASETS, find, verify
from labkit.notebooks import run as notebook_run
from labkit.notebooks import solutions

pytestmark = pytest.mark.quick

LABS = solutions.lab_names()
# Lab 09 splits the CPU into logical devices before any TensorFlow operation: its cells go first.
FIRST = [lab for lab in LABS if lab.startswith("09")]
ORDER = FIRST + [lab for lab in LABS if lab not in FIRST]
NEEDS_ATIS = ("06", "07")


def test_tensorflow_and_keras_import_with_the_tensorflow_backend() -> None:
    import keras
    import tensorflow as tf

    import labkit

    assert keras.backend.backend() == "tensorflow", (
        "Keras runs on another backend: unset KERAS_BACKEND (and check ~/.keras/keras.json)"
    )
    assert tf.reduce_sum(tf.ones((2, 3))).numpy() == 6.0
    assert callable(labkit.start_lab)


@pytest.mark.parametrize("name", [name for name, d in DATASETS.items() if d.required])
def test_the_data_the_labs_need_is_there_and_verifies(name: str) -> None:
    dataset_or_skip(name)
    verify(name)  # every file's checksum; DataError says which file and what to do


def test_the_workshop_kernel_is_registered_for_this_python() -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from labkit.install import kernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel.KERNEL_NAME)
    except NoSuchKernel:
        pytest.fail(
            f"no Jupyter kernel {kernel.KERNEL_NAME}: run  {sys.executable} -m labkit kernel"
        )
    python = spec.argv[0]
    # Paths compared as they are: two virtual environments' pythons link to the same base one.
    same = os.path.normcase(os.path.abspath(python)) == os.path.normcase(
        os.path.abspath(sys.executable)
    )
    assert same, (
        f"the kernel {kernel.KERNEL_NAME} starts {python}, not this environment's Python "
        f"({sys.executable}): run  {sys.executable} -m labkit kernel"
    )


@dataclass
class LabSlice:
    """The cells one lab contributed to the shared notebook, and what they did."""

    cells: list[nbformat.NotebookNode] = field(default_factory=list)

    def errors(self) -> list[str]:
        return [
            f"{out['ename']}: {out['evalue']}"
            for cell in self.cells
            for out in cell.get("outputs", [])
            if out.get("output_type") == "error"
        ]

    def check_output(self) -> str:
        check = next(c for c in self.cells if "q1.check()" in c.source)
        return "".join(
            out.get("data", {}).get("text/plain") or out.get("text", "")
            for out in check.get("outputs", [])
        )


def first_cells(lab: str) -> list[nbformat.NotebookNode]:
    """The solution notebook's code cells up to its first ``q1.check()``: what an attendee
    runs before the first exercise, with the first exercise solved."""
    code = [c for c in solutions.read(solutions.solution_path(lab)).cells if c.cell_type == "code"]
    end = next(i for i, c in enumerate(code) if "q1.check()" in c.source)
    return [nbformat.v4.new_code_cell(c.source) for c in code[: end + 1]]


@pytest.fixture(scope="module")
def first_cells_run() -> dict[str, LabSlice]:
    """Every lab's first cells, one lab after the other, in one kernel: the workshop's
    (dl-workshop), in fast mode, each lab in its own folder."""
    from labkit.install import kernel

    labs = [lab for lab in ORDER if not (lab[:2] in NEEDS_ATIS and find("atis") is None)]
    nb = nbformat.v4.new_notebook()
    slices = {}
    for lab in labs:
        folder = solutions.solution_path(lab).parent
        go_there = nbformat.v4.new_code_cell(f"import os\nos.chdir({str(folder)!r})")
        slices[lab] = LabSlice([go_there, *first_cells(lab)])
        nb.cells += slices[lab].cells
    notebook_run.run(
        nb,
        solutions.solution_path(labs[0]).parent,
        fast=True,
        timeout=300,
        allow_errors=True,
        kernel_name=kernel.KERNEL_NAME,
    )
    return slices


@pytest.mark.parametrize("lab", LABS)
def test_the_first_cells_run_and_the_first_check_is_correct(
    lab: str, first_cells_run: dict[str, LabSlice]
) -> None:
    if lab[:2] in NEEDS_ATIS:
        dataset_or_skip("atis")
    done = first_cells_run[lab]
    assert not done.errors(), done.errors()
    assert done.check_output().startswith("Correct"), done.check_output()
