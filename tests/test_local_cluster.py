"""labkit.lab.local_cluster: worker processes get their TF_CONFIG, and none survives its job, whatever
happens: success, a failing worker, a timeout, a worker deaf to SIGTERM, Ctrl-C in the parent,
the parent killed outright, or Python exiting with the workers still running.

The workers here are small Python scripts (no TensorFlow), so each test takes seconds; lab 09's
notebook test runs real TensorFlow workers with the same code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from labkit.lab import local_cluster
from labkit.lab.local_cluster import LocalCluster, WorkerFailed

posix_only = pytest.mark.skipif(os.name != "posix", reason="process groups and signals: POSIX")

# Every worker script first writes its process id to pid-<index>.txt, beside the script.
PREAMBLE = """\
import json, os, sys, time
INDEX = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
with open(f"pid-{INDEX}.txt", "w") as f:
    f.write(str(os.getpid()))
"""


def write_worker(folder: Path, body: str) -> Path:
    script = folder / "worker.py"
    script.write_text(PREAMBLE + textwrap.dedent(body))
    return script


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, finished but not yet reaped, does not)."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_pids(folder: Path, count: int, name: str = "pid", timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    files = [folder / f"{name}-{i}.txt" for i in range(count)]
    while not all(f.is_file() and f.read_text().strip() for f in files):
        if time.monotonic() > deadline:
            raise AssertionError(f"the workers did not start within {timeout} s")
        time.sleep(0.05)
    return [int(f.read_text()) for f in files]


def assert_gone(pids: list[int], within: float = 10) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)], "a worker process survived"


# ------------------------------------------------------------------ ports and TF_CONFIG
def test_free_ports_are_different_and_can_be_bound() -> None:
    import socket

    ports = local_cluster.free_ports(4)
    assert len(set(ports)) == 4
    for port in ports:
        with socket.socket() as sock:
            sock.bind((local_cluster.HOST, port))


def test_tf_config_lists_every_worker_and_says_which_one_this_is() -> None:
    config = local_cluster.tf_config(["127.0.0.1:1001", "127.0.0.1:1002"], 1)
    assert config == {
        "cluster": {"worker": ["127.0.0.1:1001", "127.0.0.1:1002"]},
        "task": {"type": "worker", "index": 1},
    }


def test_workers_get_their_config_and_labkit_and_leave_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "example.org")
    monkeypatch.setenv("PYTHONPATH", "")  # the workers find labkit without it
    script = write_worker(
        tmp_path,
        """
        import labkit
        seen = {k: os.environ.get(k) for k in ("TF_CONFIG", "NO_PROXY", "CUDA_VISIBLE_DEVICES")}
        seen["argv"] = sys.argv[1:]
        seen["cwd"] = os.getcwd()
        with open(f"seen-{INDEX}.json", "w") as f:
            json.dump(seen, f)
        print("worker", INDEX, "done")
        """,
    )
    cluster = LocalCluster(script, tmp_path / "logs", workers=2, args=["job.json", 7])
    results = cluster.run(timeout_s=60)
    assert [r.returncode for r in results] == [0, 0] and [r.index for r in results] == [0, 1]
    for i in range(2):
        seen = json.loads((tmp_path / f"seen-{i}.json").read_text())
        assert json.loads(seen["TF_CONFIG"]) == cluster.tf_configs[i]
        assert seen["NO_PROXY"] == "example.org,127.0.0.1,localhost"
        assert seen["CUDA_VISIBLE_DEVICES"] == "-1"
        assert seen["argv"] == ["job.json", "7"] and Path(seen["cwd"]) == tmp_path
        assert f"worker {i} done" in cluster.logs[i].read_text()
    assert cluster.running_pids() == []
    assert_gone([r.pid for r in results], within=0)
    cluster.stop()  # again: harmless


# ------------------------------------------------------------------ failures and timeouts
def test_a_failing_worker_stops_the_others_at_once_and_shows_its_error(tmp_path) -> None:
    script = write_worker(
        tmp_path,
        """
        if INDEX == 1:
            while not os.path.exists("pid-0.txt"):  # fail once worker 0 runs (no race)
                time.sleep(0.01)
            print("I0000 00:00:1.0  1 port.cc:153] oneDNN custom operations are on.")
            raise ValueError("the data is not where it should be")
        time.sleep(600)  # worker 0 would wait for worker 1 forever, as in a collective
        """,
    )
    cluster = LocalCluster(script, tmp_path / "logs", workers=2)
    start = time.monotonic()
    with pytest.raises(WorkerFailed) as failure:
        cluster.run(timeout_s=120)
    assert time.monotonic() - start < 30
    message = str(failure.value)
    assert "Worker 1 stopped with exit status 1" in message
    assert "ValueError: the data is not where it should be" in message
    assert "oneDNN" not in message  # TensorFlow's chatter is left out of the log's end
    assert_gone(wait_for_pids(tmp_path, 2, timeout=0))
    assert cluster.running_pids() == []


def fails_within_2_s_leaving_nothing(tmp_path, body: str, workers: int, **options) -> str:
    """Run `body` on `workers` workers for at most 2 s: they must fail (WorkerFailed) and leave
    no process behind. The failure's message."""
    cluster = LocalCluster(write_worker(tmp_path, body), tmp_path / "logs", workers, **options)
    with pytest.raises(WorkerFailed) as failure:
        cluster.run(timeout_s=2)
    assert_gone(wait_for_pids(tmp_path, workers, timeout=0))
    return str(failure.value)


def test_workers_that_run_too_long_are_stopped(tmp_path) -> None:
    message = fails_within_2_s_leaving_nothing(tmp_path, "time.sleep(600)\n", workers=2)
    assert "did not finish within 2 s" in message


@posix_only
def test_a_worker_deaf_to_sigterm_and_to_its_pipe_is_killed(tmp_path) -> None:
    body = """
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os._exit = lambda status: None  # and deaf to its closed pipe
        while True:
            time.sleep(0.01)
        """
    fails_within_2_s_leaving_nothing(tmp_path, body, workers=1, grace_s=0.5)


@posix_only
def test_stopping_a_worker_also_ends_what_it_started(tmp_path) -> None:
    script = write_worker(
        tmp_path,
        """
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(f"child-{INDEX}.txt", "w") as f:
            f.write(str(child.pid))
        time.sleep(600)
        """,
    )
    cluster = LocalCluster(script, tmp_path / "logs", workers=1)
    with cluster:
        workers = wait_for_pids(tmp_path, 1)
        children = wait_for_pids(tmp_path, 1, "child")
        assert alive(children[0])
    assert_gone(workers + children)


def test_a_missing_script_is_reported(tmp_path) -> None:
    with pytest.raises(WorkerFailed, match="does not exist"):
        LocalCluster(tmp_path / "nowhere.py", tmp_path / "logs").run(timeout_s=5)


def test_the_log_tail_leaves_out_tensorflow_chatter(tmp_path) -> None:
    log = tmp_path / "worker-0.log"
    log.write_text(
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "E0000 00:00:1796143104.102986   17975 cuda_platform.cc:52] failed call to cuInit\n"
        "Traceback (most recent call last):\n"
        '  File "worker.py", line 3, in <module>\n'
        "NameError: name 'strategy' is not defined\n"
    )
    assert local_cluster.log_tail(log).splitlines() == [
        "Traceback (most recent call last):",
        '  File "worker.py", line 3, in <module>',
        "NameError: name 'strategy' is not defined",
    ]
    assert local_cluster.log_tail(tmp_path / "none.log") == "(no log)"


# ------------------------------------------------------------------ the parent goes away
PARENT = """\
import sys
from labkit.lab.local_cluster import LocalCluster
cluster = LocalCluster(sys.argv[1], sys.argv[2], workers=2)
if sys.argv[3] == "run":
    cluster.run(timeout_s=600)
else:  # start and leave: Python's exit must stop them
    cluster.start()
    import time, pathlib
    while len(list(pathlib.Path(sys.argv[1]).parent.glob("pid-*.txt"))) < 2:
        time.sleep(0.05)
"""


def start_parent(tmp_path: Path, how: str) -> subprocess.Popen:
    script = write_worker(tmp_path, "time.sleep(600)\n")
    parent = tmp_path / "parent.py"
    parent.write_text(PARENT)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, str(parent), str(script), str(tmp_path / "logs"), how], env=env
    )


@posix_only
def test_ctrl_c_in_the_parent_stops_the_workers(tmp_path) -> None:
    parent = start_parent(tmp_path, "run")
    try:
        workers = wait_for_pids(tmp_path, 2)
        parent.send_signal(signal.SIGINT)  # what the notebook's interrupt button sends
        parent.wait(timeout=30)
    finally:
        parent.kill()
    assert parent.returncode != 0  # KeyboardInterrupt, after the workers were stopped
    assert_gone(workers, within=0)


@posix_only
def test_workers_exit_by_themselves_when_their_parent_is_killed(tmp_path) -> None:
    parent = start_parent(tmp_path, "run")
    try:
        workers = wait_for_pids(tmp_path, 2)
        parent.kill()  # SIGKILL: no cleanup can run in the parent
        parent.wait(timeout=30)
    finally:
        parent.kill()
    assert_gone(workers, within=10)


def test_python_exit_stops_workers_still_running(tmp_path) -> None:
    parent = start_parent(tmp_path, "leave")
    try:
        parent.wait(timeout=60)
    finally:
        parent.kill()
    assert parent.returncode == 0
    assert_gone(wait_for_pids(tmp_path, 2, timeout=0), within=0)
