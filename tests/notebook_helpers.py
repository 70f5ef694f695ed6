"""Run lab notebooks in fast mode and collect what they report.

``run_lab(lab, "solution")`` executes the solution notebook; ``run_lab(lab, "exercise")``
executes the generated exercise notebook as a learner's "Run all" would (errors from the
placeholders allowed). Both append one cell that reports every exercise check's status.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import nbformat

from labkit.notebooks import build, solutions
from labkit.notebooks import run as notebook_run

CHECKS_MARKER = "LABKIT-CHECKS:"
REPORT_CELL = """\
import importlib as _importlib, json as _json
_lab = _importlib.import_module("labkit.checks.lab{number}")
print("{marker}" + _json.dumps({{q.id: q.result(globals()).status.name for q in _lab.EXERCISES}}))
"""


@dataclass
class LabRun:
    metrics: dict[str, float]
    checks: dict[str, str]  # exercise id -> Status name
    errors: list[str]  # ename: evalue of every cell that raised
    nb: nbformat.NotebookNode


@functools.cache
def run_lab(lab: str, kind: str = "solution", timeout: int = 900) -> LabRun:
    """Execute a lab notebook in fast mode (cached per test session)."""
    path = solutions.solution_path(lab)
    nb = solutions.read(path)
    if kind == "exercise":
        nb = build.exercise_notebook(nb, f"solutions/{lab}/{lab}.ipynb")
    nb.cells.append(
        nbformat.v4.new_code_cell(REPORT_CELL.format(number=lab[:2], marker=CHECKS_MARKER))
    )
    done = notebook_run.run(
        nb, path.parent, fast=True, timeout=timeout, allow_errors=kind == "exercise"
    )
    errors, checks = [], {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"{out['ename']}: {out['evalue']}")
            if out.get("output_type") == "stream" and CHECKS_MARKER in out.get("text", ""):
                checks = json.loads(out["text"].split(CHECKS_MARKER, 1)[1])
    return LabRun(done.metrics, checks, errors, nb)


def fast_mode_metrics(lab: str) -> dict[str, float]:
    """The metrics a solution notebook reports in fast mode, once no cell has failed."""
    run = run_lab(lab)
    assert not run.errors, run.errors
    assert run.metrics["fast_mode"]
    return run.metrics


def check_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """The text each ``qN.check()`` call displayed, in order."""
    shown = []
    for cell in nb.cells:
        if cell.cell_type == "code" and ".check()" in cell.source:
            for out in cell.get("outputs", []):
                text = out.get("data", {}).get("text/plain") or out.get("text", "")
                if text:
                    shown.append(text)
    return shown
