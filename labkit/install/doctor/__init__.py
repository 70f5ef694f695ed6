"""Check the workshop environment: what ``python main.py`` reports.

Collects versions, system facts, the devices TensorFlow sees, what the NVIDIA driver reports and
whether the datasets match their checksums, runs a small matmul smoke test on every device (and
an optional micro-benchmark), then turns it all into PASS/INFO/WARN/FAIL lines, each WARN/FAIL
with its fix. One module per job:

- ``report``: the ``Report`` and ``Finding`` types, and ``probe``, which turns a failing
  collector into a reason instead of a crash;
- ``probes``: versions, OS, CPU, RAM, environment variables, the NVIDIA driver;
- ``tf_probes``: TensorFlow's import (and the real cause when it fails, its start-up messages
  sorted by ``labkit.startup_log``), devices, build, smoke test;
- ``dataset_check``: the datasets' checksums, hashed while TensorFlow imports;
- ``microbench``: ``--bench``;
- ``diagnosis``: the rules (pure functions of a ``Report``);
- ``render``: the human report and the JSON document;
- ``cli``: the arguments, ``collect`` and ``main``.

Only the standard library is imported at module level, so the report still runs (and says what
to do) when TensorFlow, NumPy or the rest of the environment is missing.
"""

from labkit.install.doctor.cli import collect, main
from labkit.install.doctor.diagnosis import diagnose, exit_code
from labkit.install.doctor.report import Finding, Report

__all__ = ["Finding", "Report", "collect", "diagnose", "exit_code", "main"]
