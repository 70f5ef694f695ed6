"""One command of the setup scripts, run so that the terminal stays readable.

``python -m labkit.install.steps --log LOG -- COMMAND...`` appends the command's whole output to LOG
(the setup's log, which the summary names), shows one progress line on the terminal while it
runs (what pip, venv or conda is doing, with pip's download percentage: its ``raw`` progress
bar where this pip has one), and, when the command fails, the log's last lines. ``--show-from
TEXT`` prints the output from the first line containing TEXT on (main.py's diagnosis).

Exit status: the command's; 130 when interrupted (Ctrl-C reaches the command too; what it
printed stays in the log, the script says the one line). Standard library only: the scripts
run it before anything is installed, with the Python that makes the environment.
"""

from __future__ import annotations

import argparse
import collections
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

TAIL_LINES = 25  # of the log, shown when a command fails
HEARTBEAT_S = 30.0  # without a terminal, a "still working" line this often
REFRESH_S = 0.2  # the progress line is redrawn at most this often
PROGRESS = re.compile(r"^Progress (\d+) of (\d+)$")  # pip --progress-bar raw
INTERRUPTED = 130


def pip_has_raw_progress() -> bool:
    """Whether this Python's pip can print its progress as lines (``--progress-bar raw``)."""
    try:
        from pip._internal.cli import progress_bars
    except Exception:  # no pip, or another layout: the progress line shows pip's lines only
        return False
    return hasattr(progress_bars, "_raw_progress_bar")


def child_environment(command: Sequence[str]) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    args = list(command)
    is_pip = any(args[i : i + 2] == ["-m", "pip"] for i in range(len(args)))
    if is_pip and "PIP_PROGRESS_BAR" not in env and pip_has_raw_progress():
        env["PIP_PROGRESS_BAR"] = "raw"
    return env


class Status:
    """The progress line: redrawn in place on a terminal, a heartbeat line elsewhere."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.start = self.drawn_at = time.monotonic()
        self.width = 0
        self.text = ""
        self.percent = ""

    def update(self, text: str | None = None, percent: str | None = None) -> None:
        if text is not None:
            self.text, self.percent = text, ""
        if percent is not None:
            self.percent = percent
        self.draw()

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            if force or now - self.drawn_at >= REFRESH_S:
                columns = shutil.get_terminal_size((80, 20)).columns - 1
                line = f"      {self.text} {self.percent}".rstrip()[:columns]
                self.out.write("\r" + line.ljust(self.width))
                self.out.flush()
                self.width, self.drawn_at = len(line), now
        elif now - self.drawn_at >= HEARTBEAT_S:
            elapsed = now - self.start
            self.out.write(f"      ... {elapsed:.0f} s: {self.text} {self.percent}".rstrip() + "\n")
            self.out.flush()
            self.drawn_at = now

    def clear(self) -> None:
        if self.tty and self.width:
            self.out.write("\r" + " " * self.width + "\r")
            self.out.flush()
            self.width = 0


def run(
    command: Sequence[str],
    log: TextIO,
    show_from: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Run ``command``; see the module's docstring. Returns its exit status (130: interrupted)."""
    out = out or sys.stdout
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    try:
        proc = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_environment(command),
        )
    except OSError as exc:
        message = f"cannot run {command[0]}: {exc.strerror or exc}"
        log.write(message + "\n")
        out.write(f"    {message}\n")
        return 127
    lines: queue.Queue[bytes | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            lines.put(raw)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    status = Status(out)
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    showing = False
    try:
        while True:
            try:
                raw = lines.get(timeout=REFRESH_S)
            except queue.Empty:
                status.draw()
                continue
            if raw is None:
                break
            line = raw.decode("utf-8", errors="replace").rstrip()
            progress = PROGRESS.match(line)
            if progress:
                done, total = int(progress.group(1)), int(progress.group(2))
                if total:
                    status.update(percent=f"{100 * done // total}%")
                continue
            log.write(line + "\n")
            log.flush()
            tail.append(line)
            showing = showing or bool(show_from and show_from in line)
            if showing:
                status.clear()
                out.write(f"    {line}\n" if line else "\n")
                out.flush()
            elif line.strip():
                status.update(text=line.strip())
        code = proc.wait()
    except KeyboardInterrupt:
        status.clear()
        _stop(proc)
        reader.join(timeout=2)
        while not lines.empty() and (raw := lines.get()) is not None:  # its last words
            log.write(raw.decode("utf-8", errors="replace").rstrip() + "\n")
        log.write("(interrupted)\n")
        return INTERRUPTED
    status.clear()
    if code != 0 and not showing:
        out.write(f"    The last lines of the log ({getattr(log, 'name', 'the log')}):\n")
        out.writelines(f"    | {line}\n" for line in tail)
        out.flush()
    return INTERRUPTED if code in (INTERRUPTED, -2) else code


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C reached the command too: give it a moment to finish, then end it."""
    try:
        proc.wait(timeout=10)
        return
    except (subprocess.TimeoutExpired, KeyboardInterrupt):  # stuck, or Ctrl-C pressed again
        proc.terminate()
    try:
        proc.wait(timeout=5)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        proc.kill()
        proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.install.steps", description=__doc__)
    parser.add_argument("--log", required=True, help="the setup's log, appended to")
    parser.add_argument("--show-from", metavar="TEXT", help="print the output from TEXT on")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run (-- COMMAND ARGS...)")
    with open(args.log, "a", encoding="utf-8", errors="replace") as log:
        try:
            return run(command, log, args.show_from)
        except KeyboardInterrupt:  # before the command started, or after it ended
            return INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
