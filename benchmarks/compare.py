"""The benchmark's arithmetic: one run of a lab against its reference, and a lab's runs together.

One run gives one row (``compare``): our metrics and training time, the reference's, and the
speed-up, (the reference's time to its final value) / (our time to that value), read from the
two curves. Several runs with different seeds give the lab's row (``summarize``): every number
is the median of the runs, with its min-max in ``spread``; the target is met when the medians
meet it. The rows are plain dicts, as they are stored in the results JSON.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.labs import LABS

# The numbers of a run's row that the lab's row gives as median and min-max.
NUMBERS = (
    "value",
    "target",
    "train_seconds",
    "wall_seconds",
    "reference_value",
    "reference_seconds",
    "reference_time_to_final",
    "reference_time_to_our_value",
    "our_time_to_reference_value",
    "speedup",
)


@dataclass
class Curve:
    """A metric after each epoch and the training time until then (evaluation excluded)."""

    name: str
    metric: str
    higher_is_better: bool = True
    seconds: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    @property
    def final(self) -> float:
        return self.values[-1]

    @property
    def time_to_final(self) -> float | None:
        return self.time_to_reach(self.final)

    def time_to_reach(self, value: float) -> float | None:
        """The training time after which the metric first was at least as good as `value`."""
        for seconds, v in zip(self.seconds, self.values, strict=True):
            if (v >= value) if self.higher_is_better else (v <= value):
                return seconds
        return None


def max_seconds(lab: str, time_scale: float) -> float | None:
    """The most training time the lab's target allows when every time budget is scaled."""
    limit = LABS[lab].max_seconds
    return None if limit is None else limit * time_scale


def meets_target(lab: str, row: dict[str, Any]) -> bool:
    """Whether a row (one run's, or the lab's medians) meets every part of its lab's target."""
    spec, value = LABS[lab], row.get("value")
    if value is None or not (
        value >= row["target"] if spec.higher_is_better else value <= row["target"]
    ):
        return False
    metrics = row.get("metrics", {})
    if any(metrics.get(name, float("-inf")) < least for name, least in spec.also.items()):
        return False
    limit, seconds = row.get("max_seconds"), row.get("train_seconds")
    return limit is None or (seconds is not None and seconds <= limit)


def _curve(name: str, metric: str, higher_is_better: bool, points: dict | None) -> Curve | None:
    if not points or not points.get("values"):
        return None
    return Curve(name, metric, higher_is_better, points["seconds"], points["values"])


def compare(
    lab: str,
    ours: dict[str, Any],
    reference: Curve | None,
    curves: dict[str, Any] | None = None,
    time_scale: float = 1.0,
) -> dict[str, Any]:
    """One run's row: our metrics and time, the reference's, and the speed-up: (the
    reference's time to its final value) / (our time to that value), from the two curves."""
    spec, curves = LABS[lab], curves or {}
    value = ours.get(spec.metric)
    seconds = ours.get(spec.seconds) if spec.seconds else None
    row: dict[str, Any] = {
        "lab": lab,
        "metric": spec.metric,
        "value": value,
        "target": spec.target,
        "max_seconds": max_seconds(lab, time_scale),
        "train_seconds": seconds,
        "wall_seconds": ours.get("wall_seconds"),
        "metrics": ours,
    }
    if spec.reference == "notebook":
        name, metric = spec.reference_name or "reference", spec.reference_metric or ""
        ref_value, ref_seconds = ours.get(metric), ours.get(spec.reference_seconds or "")
        reference = _curve(name, metric, spec.higher_is_better, curves.get("reference"))
        if reference is None and ref_value is not None and ref_seconds is not None:
            # no curve recorded: only the final point, which the notebook reports
            reference = Curve(name, metric, spec.higher_is_better, [ref_seconds], [ref_value])
        row["reference"] = name
        if ref_value is not None:
            row["reference_value"] = ref_value  # kept even without a time (an untrained model)
        if spec.relative_target and ref_value:
            row["target"] = spec.relative_target * ref_value
    row["meets_target"] = meets_target(lab, row)
    ours_curve = _curve("ours", spec.metric, spec.higher_is_better, curves.get("ours"))
    if ours_curve is not None:
        row["curve"] = asdict(ours_curve)
    if reference is None:
        return row
    row.update(
        reference=reference.name,
        reference_value=reference.final,
        reference_seconds=reference.seconds[-1],
        reference_curve=asdict(reference),
    )
    row["reference_time_to_our_value"] = (
        reference.time_to_reach(value) if value is not None else None
    )
    row["reference_time_to_final"] = reference.time_to_final
    if ours_curve is not None:
        ours_to_reference = ours_curve.time_to_reach(reference.final)
        row["our_time_to_reference_value"] = ours_to_reference
        if ours_to_reference:
            row["speedup"] = (reference.time_to_final or 0.0) / ours_to_reference
    return row


def median_and_range(values: list[float]) -> tuple[float, float, float]:
    """The median, the smallest and the largest of some numbers (at least one)."""
    return statistics.median(values), min(values), max(values)


def summarize(lab: str, runs: list[dict[str, Any]], time_scale: float = 1.0) -> dict[str, Any]:
    """The lab's row from its runs (each a ``compare`` row, or ``{"seed", "error"}`` for a run
    that failed): each number the median of the runs that have it, ``spread`` its min-max,
    ``runs`` every run. The target is met when the medians meet it and no run failed."""
    spec = LABS[lab]
    done = [run for run in runs if "error" not in run]
    row: dict[str, Any] = {
        "lab": lab,
        "metric": spec.metric,
        "value": None,
        "target": spec.target,
        "max_seconds": max_seconds(lab, time_scale),
        "train_seconds": None,
        "metrics": {},
        "spread": {},
    }
    named = [run["reference"] for run in done if "reference" in run]
    if named:
        row["reference"] = named[0]
    for key in NUMBERS:
        values = [run[key] for run in done if run.get(key) is not None]
        if values:
            row[key], low, high = median_and_range(values)
            row["spread"][key] = [low, high]
    for name in sorted({name for run in done for name in run.get("metrics", {})}):
        values = [run["metrics"].get(name) for run in done]
        if all(isinstance(v, bool) for v in values):  # a flag such as fast_mode, not a number
            row["metrics"][name] = all(values)
        elif numbers := [v for v in values if isinstance(v, int | float)]:
            row["metrics"][name], low, high = median_and_range(numbers)
            row["spread"][f"metrics.{name}"] = [low, high]
    errors = [run["error"] for run in runs if "error" in run]
    if errors:
        row["error"] = errors[0]
    row["meets_target"] = bool(done) and not errors and meets_target(lab, row)
    row["runs_meeting_target"] = sum(bool(run.get("meets_target")) for run in done)
    row["runs"] = runs
    return row
