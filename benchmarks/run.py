"""Running the benchmark: ``python -m labkit bench`` (the command line is ``labkit.__main__``).

Each lab's solution notebook runs in full mode (nbclient, through ``labkit.notebooks.run``,
as the tests run it in fast mode), ``--repeat N`` times with the seeds 42, 43, ... (given to
``labkit.start_lab`` by ``$LABKIT_SEED``), each run beside its reference model trained with the
seeds 0, 1, ...; ``--time-scale S`` scales every time budget (``$LABKIT_TIME_SCALE``). Then
``main.py`` is timed against a bare ``import tensorflow`` and the results are written
(``benchmarks.report``). ``--smoke`` does all of it on tiny subsets (fast mode, one epoch) to
prove that it works; its numbers mean nothing.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import nbformat

from benchmarks import machine_load, recorder
from benchmarks.compare import Curve, compare, summarize
from benchmarks.labs import LABS
from benchmarks.references import REFERENCES
from benchmarks.report import RESULTS_DIR, fmt, merge_earlier, update_readme, write
from labkit import settings
from labkit.devices import cpu_name, gpu_names
from labkit.errors import LabkitError, first_line
from labkit.notebooks import run as notebook_run
from labkit.notebooks import solutions
from labkit.paths import REPO_ROOT

FIRST_SEED = int(settings.SEED.default)  # the first run's seed; the next runs take the next seeds
REFERENCE_SEED = 0  # the first run's reference seed; likewise


def run_notebook(lab: str, *, fast: bool, seed: int, time_scale: float) -> dict[str, Any]:
    """Execute a solution notebook; its reported metrics, its wall time in seconds and, for a
    lab with curves in ``LABS``, the curves (``"curves"``)."""
    path, spec = solutions.solution_path(lab), LABS[lab]
    nb = solutions.read(path)
    with tempfile.TemporaryDirectory() as tmp:
        curves_file = Path(tmp) / "curves.json"
        wanted = {"ours": spec.curve, "reference": spec.reference_curve}
        curves = {name: curve for name, curve in wanted.items() if curve}
        if curves:
            before, after = recorder.cells(curves, curves_file)
            first_code = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
            nb.cells.insert(first_code + 1, nbformat.v4.new_code_cell(before))  # after start_lab()
            nb.cells.append(nbformat.v4.new_code_cell(after))
        # the kernel imports benchmarks.recorder from this checkout
        python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        env = {
            settings.SEED.name: str(seed),
            settings.TIME_SCALE.name: f"{time_scale:g}",
            "PYTHONPATH": python_path,
        }
        done = notebook_run.run(nb, path.parent, fast=fast, env=env)
        result = {**done.metrics, "wall_seconds": done.wall_seconds}
        if curves_file.is_file():
            recorded = json.loads(curves_file.read_text(encoding="utf-8"))
            result["wall_seconds"] -= recorded.pop("evaluation_seconds")
            result["curves"] = recorded
        return result


def run_once(
    lab: str, run: int, smoke: bool, time_scale: float, log: Callable[[str], None]
) -> dict[str, Any]:
    """One run of a lab (the notebook, then its reference) as a row of ``compare``, or
    ``{"seed", "error"}`` when the notebook fails (missing data, ...)."""
    spec = LABS[lab]
    seed, reference_seed = FIRST_SEED + run, REFERENCE_SEED + run
    machine = {"before": machine_load.snapshot()}
    if others := machine["before"]["busy_others"]:
        names = ", ".join(f"{other['name']} ({other['percent']:.0f}%)" for other in others)
        log(f"    other work on the machine: {names}")
    try:
        ours = run_notebook(lab, fast=smoke, seed=seed, time_scale=time_scale)
    except Exception as exc:  # a failing notebook must not stop the other labs
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        log(f"    FAILED: {reason}")
        return {"seed": seed, "error": reason}
    seconds = ours.get(spec.seconds) if spec.seconds else None
    log(
        f"    {spec.metric} = {fmt(ours.get(spec.metric))}, {fmt(seconds, 1)} s of training, "
        f"{ours['wall_seconds']:.0f} s in all"
    )
    reference: Curve | None = None
    if spec.reference in REFERENCES:
        log(f"    training the reference ({spec.reference}, seed {reference_seed}) ...")
        reference = REFERENCES[spec.reference](smoke, seed=reference_seed)
        log(f"    reference: {fmt(reference.final)} after {reference.seconds[-1]:.0f} s")
    machine["after"] = machine_load.snapshot()
    curves = ours.pop("curves", None)
    row = compare(lab, ours, reference, curves, time_scale)
    reference_seed_used = reference_seed if reference else None
    return {"seed": seed, "reference_seed": reference_seed_used, "machine": machine, **row}


def main_py_cost(repeats: int = 3) -> dict[str, float]:
    """The median wall time of `python main.py` and of a bare `import tensorflow`, and their ratio."""

    def timed(args: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, check=False)
        return time.perf_counter() - start

    main_py = statistics.median(timed(["main.py"]) for _ in range(repeats))
    bare = statistics.median(timed(["-c", "import tensorflow"]) for _ in range(repeats))
    return {"main_py_seconds": main_py, "import_tensorflow_seconds": bare, "ratio": main_py / bare}


def device_description() -> str:
    """The GPU's name when TensorFlow uses one, else the CPU model and its logical cores."""
    import tensorflow as tf

    names = gpu_names(tf)
    if names:
        return f"{names[0]} x{len(names)}"
    return f"{cpu_name() or 'an unnamed CPU'}, {os.cpu_count()} cores"


def run(
    labs: list[str] | None = None,
    smoke: bool = False,
    out_dir: Path = RESULTS_DIR,
    repeat: int = 1,
    time_scale: float | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the benchmark and write its results; returns them. `time_scale` None: the one of
    ``$LABKIT_TIME_SCALE``, else 1."""
    import keras
    import tensorflow as tf

    scale = settings.time_scale() if time_scale is None else time_scale
    chosen = labs or list(LABS)
    results: dict[str, Any] = {
        "device": device_description(),
        "smoke": smoke,
        "date": date.today().isoformat(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "time_scale": scale,
        "seeds": [FIRST_SEED + run for run in range(repeat)],
        "labs": [],
    }
    for lab in chosen:
        runs = []
        for number in range(repeat):
            log(
                f"{lab}: running the solution notebook{' in fast mode' if smoke else ''}"
                + (f", run {number + 1} of {repeat}" if repeat > 1 else "")
                + (f", time budgets x{scale:g}" if scale != 1 else "")
                + " ..."
            )
            runs.append(run_once(lab, number, smoke, scale, log))
        results["labs"].append(summarize(lab, runs, scale))
    if not smoke and set(chosen) != set(LABS):
        merge_earlier(results, out_dir)
    log("timing main.py against a bare `import tensorflow` ...")
    results["main_py"] = main_py_cost(repeats=1 if smoke else 3)
    json_path, md_path = write(results, out_dir)
    log(f"wrote {json_path} and {md_path}")
    if not smoke and out_dir == RESULTS_DIR:
        update_readme()
        log("updated the README's table")
    return results


def main(
    numbers: list[str],
    smoke: bool = False,
    out: str | None = None,
    repeat: int = 1,
    time_scale: float | None = None,
) -> int:
    """``python -m labkit bench``: the labs numbered `numbers` (all when empty); exit status 1
    when a notebook failed, or (outside a smoke run) a target was missed."""
    known = [lab[:2] for lab in LABS]
    unknown = sorted(set(numbers) - set(known))
    if unknown:
        raise LabkitError(
            f"The benchmark has no lab {', '.join(unknown)}: it knows {', '.join(known)} "
            "(a new lab needs its entry in LABS, benchmarks/labs.py)."
        )
    labs = [lab for lab in LABS if not numbers or lab[:2] in numbers]
    out_dir = Path(out) if out else RESULTS_DIR
    try:  # before the long run, not after it
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabkitError(f"Cannot write the results to {out_dir}: {first_line(exc)}") from exc
    results = run(labs, smoke=smoke, out_dir=out_dir, repeat=repeat, time_scale=time_scale)
    failed = [row["lab"] for row in results["labs"] if "error" in row]
    missed = [row["lab"] for row in results["labs"] if not row["meets_target"]]
    if failed:
        print(f"failed to run: {', '.join(failed)}", file=sys.stderr)
    elif missed and not smoke:
        print(f"below target: {', '.join(missed)}", file=sys.stderr)
    return 1 if failed or (missed and not smoke) else 0
