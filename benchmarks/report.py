"""The benchmark's results files and the README's table.

``write`` stores a run of the benchmark in ``benchmarks/results/`` as
``<device>[-time-scale-S][-smoke].json`` (every run of every lab, with its curves) and ``.md``
(the table); ``merge_earlier`` keeps the rows of the labs a partial rerun left out;
``update_readme`` puts every results table between the README's markers, each device's full
time budgets first, and says so while no run with scaled time budgets exists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from benchmarks.compare import summarize
from benchmarks.labs import LABS
from labkit.errors import LabkitError
from labkit.files import write_atomic
from labkit.paths import REPO_ROOT

RESULTS_DIR = Path(__file__).resolve().parent / "results"
README = REPO_ROOT / "README.md"
README_BEGIN, README_END = "<!-- benchmark results: begin -->", "<!-- benchmark results: end -->"
_SCALED = re.compile(r"^(?P<device>.*?)(?:-time-scale-(?P<scale>[0-9.]+))?$")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def results_stem(device: str, time_scale: float = 1.0, smoke: bool = False) -> str:
    """The results files' name without its suffix: the device, the time scale unless it is 1
    (so a scaled run is kept beside the full one), and ``-smoke`` for a smoke run."""
    scaled = f"-time-scale-{time_scale:g}" if time_scale != 1 else ""
    return slug(device) + scaled + ("-smoke" if smoke else "")


def fmt(value: Any, digits: int = 4) -> str:
    """A value as the tables show it: `digits` significant digits below 0.01, else `digits`
    decimals; "yes" or "**no**" for a bool, "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 0.01 else f"{value:.{digits}f}"
    return str(value)


def _done(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs of a lab that ran through."""
    return [run for run in row.get("runs", []) if "error" not in run]


def _figure(row: dict[str, Any], key: str, digits: int = 4) -> str:
    """A number of a lab's row: the median, then the runs' min-max in brackets when it has
    several runs. ``metrics.NAME`` is a metric the notebook reported."""
    name = key.removeprefix("metrics.")
    value = row.get("metrics", {}).get(name) if key.startswith("metrics.") else row.get(key)
    spread = row.get("spread", {}).get(key)
    if value is None or spread is None or len(_done(row)) < 2:
        return fmt(value, digits)
    return f"{fmt(value, digits)} ({fmt(spread[0], digits)}-{fmt(spread[1], digits)})"


def _load(row: dict[str, Any]) -> list[str]:
    """What the machine was doing around the lab's runs: the 1-minute load average's range, and
    the other processes that were busy (runs before the load was recorded have neither)."""
    machines = [run["machine"] for run in _done(row) if "machine" in run]
    snapshots = [m[when] for m in machines for when in ("before", "after") if when in m]
    loads = [snap["load"] for snap in snapshots if snap.get("load") is not None]
    others = sorted({other["name"] for snap in snapshots for other in snap["busy_others"]})
    notes = [f"load {min(loads):.1f}-{max(loads):.1f}"] if loads else []
    if others:
        notes.append(f"beside {', '.join(others)}")
    return notes


def _speedup(row: dict[str, Any]) -> str:
    """The speed-up cell. One run: "2.3x (95 s / 41 s)", the reference's time to its final value
    over ours. Several: the median of the runs' speed-ups and their min-max, "2.3x (2.0-2.6x)"."""
    runs = _done(row)
    compared = [run for run in runs if "curve" in run and "reference_curve" in run]
    faster = [run for run in runs if "speedup" in run]
    if not faster:
        return "ours never reaches it" if compared else "-"
    if len(runs) == 1:
        return (
            f"{row['speedup']:.1f}x ({row['reference_time_to_final']:.0f} s / "
            f"{row['our_time_to_reference_value']:.0f} s)"
        )
    low, high = row["spread"]["speedup"]
    text = f"{row['speedup']:.1f}x ({low:.1f}-{high:.1f}x)"
    if len(faster) < len(compared):
        text += f"; ours never reaches it in {len(compared) - len(faster)} of {len(compared)} runs"
    return text


def _reaches(row: dict[str, Any]) -> str:
    """When the reference first reaches our value: "never", or "after 120 s" (the median)."""
    runs = [run for run in _done(row) if "reference_curve" in run]
    reached = [run for run in runs if run.get("reference_time_to_our_value") is not None]
    if not runs:
        return "-"
    if not reached:
        return "never"
    text = f"after {row['reference_time_to_our_value']:.0f} s"
    if len(reached) < len(runs):
        text += f" in {len(reached)} of {len(runs)} runs"
    return text


def _heading(results: dict[str, Any]) -> str:
    text = (
        f"Device: {results['device']}. TensorFlow {results['tensorflow']}, Keras "
        f"{results['keras']}, Python {results['python']}, {results['date']}"
        + (" (smoke run: not a measurement)." if results["smoke"] else ".")
    )
    seeds, scale = results.get("seeds", []), results.get("time_scale", 1.0)
    if len(seeds) > 1:
        text += (
            f" Each figure is the median of {len(seeds)} runs (seeds {seeds[0]}-{seeds[-1]}), "
            "their min-max in brackets; a target is met when the medians meet it."
        )
    if any("machine" in run for row in results["labs"] for run in row.get("runs", [])):
        text += (
            " A lab's load is the 1-minute load average before and after its runs, the "
            "benchmark's own work included (about 2 on 2 cores when nothing else runs); "
            '"beside" names any other process that used a quarter of a core or more.'
        )
    if scale != 1:
        text += (
            f" Every time budget scaled by {scale:g} (`--time-scale {scale:g}`): what a machine "
            f"{1 / scale:.2g}x slower than this one gets; the training-time targets are scaled too."
        )
    return text


def markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown table (what the README shows)."""
    lines = [
        _heading(results),
        "",
        "| Lab | Metric | Ours | Target | Met | Our training s | Reference | Reference's | "
        "Reference s | Speed-up to the reference's value | The reference reaches ours |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    repeat = len(results.get("seeds", [])) or 1
    for row in results["labs"]:
        spec, runs = LABS[row["lab"]], len(_done(row))
        ours = [_figure(row, "value")]
        ours += [f"{name} {_figure(row, 'metrics.' + name)}" for name in spec.also]
        target = [("<= " if not spec.higher_is_better else ">= ") + fmt(row["target"])]
        target += [f"{name} >= {least}" for name, least in spec.also.items()]
        if row.get("max_seconds"):
            target.append(f"training <= {row['max_seconds']:.0f} s")
        met = fmt(row["meets_target"])
        if runs > 1:
            met += f" ({row['runs_meeting_target']} of {runs} runs)"
        notes = []
        if row.get("date", results["date"]) != results["date"]:
            notes.append(f"run {row['date']}")  # a row kept from an earlier run (partial rerun)
        if runs and runs != repeat:
            notes.append(f"{runs} run{'s' if runs != 1 else ''}")
        notes += _load(row)
        lab = row["lab"] + (f" ({', '.join(notes)})" if notes else "")
        lines.append(
            f"| {lab} | {row['metric']} | {'; '.join(ours)} | {'; '.join(target)} | {met} | "
            f"{_figure(row, 'train_seconds', 1)} | {row.get('reference', '-')} | "
            f"{_figure(row, 'reference_value')} | {_figure(row, 'reference_seconds', 1)} | "
            f"{_speedup(row)} | {_reaches(row)} |"
        )
    cost = results.get("main_py")
    if cost:
        lines += [
            "",
            f"`main.py`: {cost['main_py_seconds']:.1f} s against "
            f"{cost['import_tensorflow_seconds']:.1f} s for a bare `import tensorflow` "
            f"(ratio {cost['ratio']:.2f}).",
        ]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write the results' JSON and Markdown files atomically; return their paths."""
    stem = results_stem(results["device"], results.get("time_scale", 1.0), results["smoke"])
    paths = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    write_atomic(paths[0], json.dumps(results, indent=2) + "\n")
    write_atomic(paths[1], markdown(results))
    return paths


def merge_earlier(results: dict[str, Any], out_dir: Path) -> None:
    """Keep the rows of the labs this run left out from the earlier results file of the same
    device and time scale, each with the date it was measured."""
    scale = results.get("time_scale", 1.0)
    earlier = out_dir / f"{results_stem(results['device'], scale)}.json"
    if not earlier.is_file():
        return
    done = {row["lab"] for row in results["labs"]}
    old = json.loads(earlier.read_text(encoding="utf-8"))
    for row in old.get("labs", []):
        if row["lab"] not in done and row["lab"] in LABS:
            kept = summarize(row["lab"], row["runs"], scale)  # today's targets
            kept["date"] = row.get("date", old.get("date"))
            results["labs"].append(kept)
    results["labs"].sort(key=lambda row: row["lab"])


def _table_order(path: Path) -> tuple[str, float]:
    """Each device's tables together, its full time budgets first, then the scaled ones."""
    match = _SCALED.match(path.stem)
    assert match is not None  # the pattern matches every name
    return match["device"], -float(match["scale"] or 1)


def readme_block(out_dir: Path = RESULTS_DIR) -> str:
    """What goes between the README's markers: every results table of `out_dir` (smoke runs
    left out), each device's full run first; and, while no scaled run exists, that none does."""
    paths = sorted(
        (p for p in out_dir.glob("*.md") if not p.stem.endswith("-smoke")), key=_table_order
    )
    tables = [p.read_text(encoding="utf-8").strip() for p in paths]
    if not tables:
        return "No results yet: run `python -m labkit bench`."
    if all(_table_order(p)[1] == -1 for p in paths):  # only full time budgets
        tables.append(
            "No run with scaled time budgets yet: `python -m labkit bench --time-scale 0.6` "
            "adds its table here, below the full run's."
        )
    return "\n\n".join(tables)


def update_readme(out_dir: Path = RESULTS_DIR, readme: Path = README) -> None:
    """Put ``readme_block(out_dir)`` between the README's markers."""
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        raise LabkitError(
            f"{readme} lacks the lines {README_BEGIN} and {README_END}: put them back around "
            "the benchmark table (the results files are written)."
        )
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    write_atomic(readme, f"{head}{README_BEGIN}\n{readme_block(out_dir)}\n{README_END}{tail}")
