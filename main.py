"""Check that this Python environment is ready for the workshop: ``python main.py``.

Prints versions, system facts, the devices TensorFlow sees, what the NVIDIA driver
reports, a smoke test and a diagnosis (PASS/WARN/FAIL, each problem with its fix).
``--json`` for machine-readable output, ``--bench`` for a short benchmark. Exit status
0 when everything required works, 1 otherwise. The checks live in ``labkit/doctor.py``.

This file must run with any Python (even one without the workshop packages), so it
uses no syntax newer than Python 3.0 before handing over to labkit.
"""

import os
import sys

SETUP_HINT = (
    "Set up the workshop environment with `bash Scripts/environment.sh` "
    "(Windows: Scripts\\environment.bat), then run `python main.py` with its Python."
)

if sys.version_info < (3, 8):  # noqa: UP036 (this file must run on any Python)
    sys.stdout.write(
        "FAIL  Python " + ".".join(map(str, sys.version_info[:2])) + " is too old for the "
        "workshop (it needs Python 3.10-3.13).\n      fix: " + SETUP_HINT + "\n"
    )
    raise SystemExit(1)

# Let `import labkit` work from a checkout, even when labkit is not installed.
REPO_ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, REPO_ROOT)

try:
    from labkit.doctor import main
except ImportError as exc:
    sys.stdout.write(
        "FAIL  Cannot import labkit from " + REPO_ROOT + " (" + str(exc) + ").\n"
        "      fix: run main.py from the workshop repository (the folder with labkit/).\n"
        "           " + SETUP_HINT + "\n"
    )
    main = None

if main is None:
    raise SystemExit(1)
if __name__ == "__main__":
    raise SystemExit(main())
