"""A cluster of TensorFlow worker processes on this machine, and nothing left of it afterwards.

``LocalCluster(script, workers=2)`` picks free ports on 127.0.0.1, gives each worker its own
``TF_CONFIG`` (the cluster's addresses and the worker's index: what
``tf.distribute.MultiWorkerMirroredStrategy`` reads) and runs ``script`` in each of them, its
output in a log file. ``run()`` starts them, waits, and stops them whatever happens. No worker
outlives its job, in four ways:

- ``stop()`` ends every worker's process group (the worker and anything it started): first
  politely, then, after a grace period, by force. ``run()`` and ``with`` call it on success,
  on an error, on a timeout and on Ctrl-C / the notebook's interrupt button.
- When one worker fails, the others are stopped at once: they would otherwise wait for it
  forever inside TensorFlow's collective operations.
- ``atexit`` stops the workers of a cluster still running when Python exits (a kernel restart).
- Each worker watches the pipe to its standard input, which only the parent holds open, and
  exits when it closes: even a parent killed outright (SIGKILL, a crashed kernel) leaves no
  worker behind.

``python -m labkit.lab.local_cluster SCRIPT [ARGS...]`` is how a worker starts: with that watch,
then ``SCRIPT`` run as ``python SCRIPT ARGS`` would run it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from labkit.errors import LabkitError
from labkit.startup_log import HARMLESS, LOG_PREFIX

HOST = "127.0.0.1"
GRACE_S = 5.0  # how long a worker may take to stop before it is killed
EXIT_PARENT_GONE = 3  # a worker's exit status when its parent went away
_POSIX = os.name == "posix"
# Whether a finished worker can be seen without reaping it: until it is reaped, its process id
# (its process group's id) cannot be given to another process, so signalling the group is safe.
_CAN_PEEK = _POSIX and all(hasattr(os, n) for n in ("waitid", "P_PID", "WNOWAIT", "CLD_EXITED"))


class WorkerFailed(LabkitError):
    """A worker stopped with an error, or the workers ran out of time; all were stopped."""


@dataclass(frozen=True)
class WorkerResult:
    """How one worker ended."""

    index: int
    pid: int
    returncode: int
    seconds: float
    log: Path


def free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` different TCP ports that are free on ``host`` now: the system picks them (port
    0), all held at once so that they differ, then released for the workers. Another program
    could take one in between; a worker would then fail to start, saying so in its log."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(addresses: Sequence[str], index: int) -> dict:
    """The ``TF_CONFIG`` of worker ``index``: every worker's address, and which one it is.
    Worker 0 is the chief, the one that saves the model."""
    return {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}}


def _with_hosts(value: str | None) -> str:
    """A ``NO_PROXY`` list that also names this machine: gRPC, which the workers talk through,
    would otherwise send even 127.0.0.1 through a proxy set in ``HTTP_PROXY``."""
    names = [n for n in (value or "").split(",") if n]
    return ",".join(names + [n for n in (HOST, "localhost") if n not in names])


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a worker's log that say something: TensorFlow's C++ log
    lines and its known-harmless start-up messages left out."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    kept = [
        line
        for line in text.splitlines()
        if line.strip() and not LOG_PREFIX.match(line) and not HARMLESS.search(line)
    ]
    return "\n".join(kept[-lines:]) or "(the log is empty)"


class LocalCluster:
    """``workers`` processes on 127.0.0.1 that each run ``script`` with ``args``, as the workers
    of one TensorFlow cluster. Logs go to ``log_dir/worker-N.log``. The workers see no GPU
    unless ``use_gpus``: several processes on one GPU would compete for its memory."""

    def __init__(
        self,
        script: str | os.PathLike,
        log_dir: str | os.PathLike,
        workers: int = 2,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        use_gpus: bool = False,
        grace_s: float = GRACE_S,
    ) -> None:
        if workers < 1:
            raise ValueError(f"a cluster needs at least one worker, not {workers}")
        self.script, self.log_dir = Path(script).resolve(), Path(log_dir)
        self.args, self.extra_env = [str(a) for a in args], dict(env or {})
        self.use_gpus, self.grace_s = use_gpus, grace_s
        self.ports = free_ports(workers)
        self.addresses = [f"{HOST}:{port}" for port in self.ports]
        self.tf_configs = [tf_config(self.addresses, i) for i in range(workers)]
        self.logs = [self.log_dir / f"worker-{i}.log" for i in range(workers)]
        self._processes: list[subprocess.Popen] = []
        self._log_files: list[IO[bytes]] = []
        self._started = 0.0
        self._ended: dict[int, float] = {}  # worker index -> seconds when it was seen to end

    # ------------------------------------------------------------------ starting
    def _environment(self, index: int) -> dict[str, str]:
        package_root = str(Path(__file__).resolve().parents[2])  # the folder holding labkit
        python_path = [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            **self.extra_env,
            "TF_CONFIG": json.dumps(self.tf_configs[index]),
            "PYTHONPATH": os.pathsep.join(python_path),
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": _with_hosts(os.environ.get("NO_PROXY")),
            "no_proxy": _with_hosts(os.environ.get("no_proxy")),
        }
        if not self.use_gpus:
            env["CUDA_VISIBLE_DEVICES"] = "-1"
        return env

    def start(self) -> None:
        """Start the workers (once); ``stop()`` ends them, and so does Python's exit."""
        if self._processes:
            raise RuntimeError("this cluster has been started already: make a new LocalCluster")
        if not self.script.is_file():
            raise WorkerFailed(f"The worker script {self.script} does not exist.")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        self._started = time.perf_counter()
        try:
            for index, log in enumerate(self.logs):
                log_file = open(log, "wb")  # noqa: SIM115 - closed by stop()
                self._log_files.append(log_file)
                self._processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", __name__, str(self.script), *self.args],
                        stdin=subprocess.PIPE,  # the parent-death watch: see _worker_main
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        env=self._environment(index),
                        cwd=self.script.parent,
                        **_own_process_group(),
                    )
                )
        except BaseException:
            self.stop()
            raise

    # ------------------------------------------------------------------ waiting
    def wait(self, timeout_s: float) -> list[WorkerResult]:
        """Wait until every worker has finished; their results. Raises WorkerFailed, after
        stopping all of them, as soon as one fails, or after ``timeout_s`` seconds."""
        deadline = time.perf_counter() + timeout_s
        while True:
            for index, process in enumerate(self._processes):
                code = _exit_status(process)
                if code is not None:
                    self._ended.setdefault(index, time.perf_counter() - self._started)
                if code not in (None, 0):
                    self.stop()
                    raise WorkerFailed(
                        f"Worker {index} stopped with exit status {code} after "
                        f"{self._ended[index]:.0f} s, so every worker was stopped. The end of "
                        f"its log ({self.logs[index]}):\n{log_tail(self.logs[index])}"
                    )
            if all(_exit_status(process) == 0 for process in self._processes):
                return self.results()
            if time.perf_counter() > deadline:
                self.stop()
                raise WorkerFailed(
                    f"The workers did not finish within {timeout_s:.0f} s, so they were stopped. "
                    f"The end of worker 0's log ({self.logs[0]}):\n{log_tail(self.logs[0])}"
                )
            time.sleep(0.1)

    def results(self) -> list[WorkerResult]:
        """How each worker ended (those still running are left out)."""
        ended = [(i, p, _exit_status(p)) for i, p in enumerate(self._processes)]
        return [
            WorkerResult(i, p.pid, code, self._ended.get(i, 0.0), self.logs[i])
            for i, p, code in ended
            if code is not None
        ]

    def running_pids(self) -> list[int]:
        """The process ids of the workers still running."""
        return [p.pid for p in self._processes if _exit_status(p) is None]

    def run(self, timeout_s: float) -> list[WorkerResult]:
        """Start the workers, wait for them (see ``wait``), and stop them whatever happens."""
        with self:
            return self.wait(timeout_s)

    # ------------------------------------------------------------------ stopping
    def stop(self) -> None:
        """End every worker and its process group: the pipe closed and SIGTERM first, SIGKILL
        after ``grace_s`` seconds, then reap them. Safe to call again, and from ``atexit``."""
        atexit.unregister(self.stop)
        for process in self._processes:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()  # the worker's watch ends it even if signals fail
            _signal_group(process, kill=False)
        deadline = time.perf_counter() + self.grace_s
        while time.perf_counter() < deadline and self.running_pids():
            time.sleep(0.05)
        for process in self._processes:
            _signal_group(process, kill=True)  # the worker if still there, and what it started
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=self.grace_s)  # reaped: from now on never signalled
        for log_file in self._log_files:
            log_file.close()
        self._log_files = []

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _own_process_group() -> dict:
    """Popen arguments that put a worker in a process group of its own, ended as one."""
    if _POSIX:
        return {"start_new_session": True}
    return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}


def _exit_status(process: subprocess.Popen) -> int | None:
    """The worker's exit status once it has ended, else None; on POSIX without reaping it
    (see ``_CAN_PEEK``), so that ``stop`` can still signal its process group safely."""
    if process.returncode is not None or not _CAN_PEEK:
        return process.poll()
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere
        return process.poll()
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _signal_group(process: subprocess.Popen, kill: bool) -> None:
    """SIGTERM (or SIGKILL) to the process group of a worker not reaped yet; on Windows, end
    the worker itself."""
    if process.returncode is not None:  # reaped: its process id may belong to another process
        return
    if not _POSIX:
        with contextlib.suppress(OSError):
            if kill:
                process.kill()
            else:
                process.terminate()
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)


# ---------------------------------------------------------------------- the worker's side
def _exit_when_parent_goes(pipe: int) -> None:
    """Block until the pipe from the parent closes (the parent closed it, or died), then exit.
    ``os.read`` on the bare descriptor: a thread blocked in ``sys.stdin`` would hold its lock
    and abort the interpreter's shutdown."""
    with contextlib.suppress(OSError):
        while os.read(pipe, 1 << 16):
            pass
    os._exit(EXIT_PARENT_GONE)


def _worker_main(argv: list[str]) -> None:
    """Run ``argv[0]`` as ``python argv[0] argv[1:]`` would, watching the parent meanwhile."""
    if not argv:
        sys.exit("usage: python -m labkit.lab.local_cluster SCRIPT [ARGS...]")
    pipe = os.dup(0)  # the parent's pipe, kept for the watch; the script's stdin is empty
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    threading.Thread(target=_exit_when_parent_goes, args=(pipe,), daemon=True).start()
    script = Path(argv[0]).resolve()
    sys.argv = [str(script), *argv[1:]]
    sys.path.insert(0, str(script.parent))
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    _worker_main(sys.argv[1:])
