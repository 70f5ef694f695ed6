"""How busy the machine was around a benchmark run: its load average, and the other processes
that used a CPU, so that a figure measured on a busy machine shows as such in the results."""

from __future__ import annotations

import os
import time
from typing import Any

import psutil

BUSY_PERCENT = 25.0  # of one core: a process at least this busy is "other work"


def load_average() -> float | None:
    """The 1-minute load average; None where the system has none (Windows)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def busy_others(sample_s: float = 1.0) -> list[dict[str, Any]]:
    """The other processes (not this one, nor its children) that used at least BUSY_PERCENT of
    a core over ``sample_s`` seconds: their name, pid and percent of a core."""
    me = psutil.Process()
    ours = {me.pid, *(child.pid for child in me.children(recursive=True))}
    others = [p for p in psutil.process_iter(["name"]) if p.pid not in ours]
    for process in others:
        try:
            process.cpu_percent(None)  # starts the process's sample
        except psutil.Error:
            continue
    time.sleep(sample_s)
    busy = []
    for process in others:
        try:
            percent = process.cpu_percent(None)
        except psutil.Error:
            continue
        if percent >= BUSY_PERCENT:
            busy.append({"name": process.info["name"], "pid": process.pid, "percent": percent})
    return sorted(busy, key=lambda entry: -entry["percent"])


def snapshot() -> dict[str, Any]:
    """``{"load": ..., "busy_others": [...]}`` now."""
    return {"load": load_average(), "busy_others": busy_others()}
