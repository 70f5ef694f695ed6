"""A plain script that imports labkit starts TensorFlow as quietly as a notebook: no oneDNN or
CPU-feature lines, whoever imports TensorFlow; errors still reach stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

CHATTER = ("oneDNN custom operations", "This TensorFlow binary is optimized")


def script(code: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, paths), str(REPO_ROOT)])}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )


def test_a_script_with_labkit_and_tensorflow_is_quiet() -> None:
    pytest.importorskip("tensorflow")
    code = (
        "import labkit\n"
        "from labkit.checks.lab01 import q1\n"
        "import tensorflow as tf\n"
        "print(float(tf.reduce_sum(tf.ones((2, 2)))))\n"
        "q1.check()\n"
    )
    quiet = script(code)
    assert quiet.returncode == 0, quiet.stderr
    assert "4.0" in quiet.stdout
    assert not [line for line in quiet.stderr.splitlines() if any(c in line for c in CHATTER)]
    assert "All log messages before absl" not in quiet.stderr
    loud = script("import tensorflow")  # what the same machine says without labkit
    if not any(c in loud.stderr for c in CHATTER):
        pytest.skip("this TensorFlow says nothing at start-up here")


FAKE_TENSORFLOW = """
import os
os.write(2, b"I0000 00:00:1796591160.649927    4765 port.cc:153] oneDNN custom operations are on.\\n")
os.write(2, b"E0000 00:00:1796591160.649927    4765 loader.cc:9] Something real went wrong\\n")
if os.environ.get("FAKE_TF_RAISES"):
    raise ImportError("libtensorflow_framework.so.2: cannot open shared object file")
"""


@pytest.mark.parametrize("raises", [False, True], ids=["error-line", "import-fails"])
def test_errors_at_tensorflows_start_still_reach_stderr(tmp_path: Path, raises: bool) -> None:
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(FAKE_TENSORFLOW)
    os.environ["FAKE_TF_RAISES"] = "1" if raises else ""
    try:
        result = script("import labkit\nimport tensorflow\nprint('imported')", fake.parent)
    finally:
        del os.environ["FAKE_TF_RAISES"]
    assert "Something real went wrong" in result.stderr
    if raises:  # the traceback, and every captured line written back
        assert result.returncode == 1 and "cannot open shared object file" in result.stderr
        assert "Traceback" in result.stderr
    else:
        assert result.returncode == 0 and result.stdout == "imported\n"
        assert "oneDNN" not in result.stderr
