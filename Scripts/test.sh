#!/usr/bin/env bash
# Run the workshop's tests with the environment made by Scripts/environment.sh.
#
#   bash Scripts/test.sh                 # the whole suite, on two workers (pytest-xdist)
#   bash Scripts/test.sh --quick         # the quick tier: proves an attendee's install
#   bash Scripts/test.sh tests/test_x.py -k name -x   # any pytest arguments
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

case "${1:-}" in
    -h | --help)
        cat <<'USAGE'
Usage: bash Scripts/test.sh [--quick] [pytest arguments]

Runs `python -m pytest [arguments]` from the repository root with the interpreter
that Scripts/environment.sh recorded in .labkit-python (venv or conda alike).
  --quick   only the quick tier (pytest -m quick), about a minute: TensorFlow and Keras
            import, the data verifies, the workshop's Jupyter kernel is registered, and
            every lab's first cells run in it up to the first exercise's check. It is all
            an attendee needs; the whole suite (no --quick) is for maintainers and CI.
With no arguments at all, the whole suite runs on two workers (pytest -n 2 --dist
loadgroup: the tests that share a notebook run or a fixture stay on one worker);
with arguments, pytest runs as given (add -n 2 for that).
Examples:
  bash Scripts/test.sh --quick
  bash Scripts/test.sh
  bash Scripts/test.sh tests/test_setup_scripts.py -x
  bash Scripts/test.sh -m "not notebook"
Tests that need a dataset this machine does not have are skipped, and a WARNING at the
end of the run names the datasets and the command that fetches them.
The exit status is pytest's (5 means that no tests were collected).
USAGE
        exit 0 ;;
esac

if [ ! -f .labkit-python ]; then
    echo "ERROR: the workshop environment is not set up yet (no .labkit-python)." >&2
    echo "       Run: bash Scripts/environment.sh   then run this script again." >&2
    exit 2
fi
py="$(head -n 1 .labkit-python | tr -d '\r')"
if [ -z "$py" ] || ! "$py" -c 'import pytest' >/dev/null 2>&1; then
    echo "ERROR: the environment recorded in .labkit-python ($py) is missing or has no pytest." >&2
    echo "       Run: bash Scripts/environment.sh --force   then run this script again." >&2
    exit 2
fi

if [ "${1:-}" = "--quick" ]; then
    shift
    exec "$py" -m pytest -m quick "$@"
fi
if [ "$#" = 0 ] && "$py" -c 'import xdist' >/dev/null 2>&1; then
    # Two workers on a 2-core laptop: NumPy's OpenBLAS would start a thread per core in each
    # and spin them against each other (on a busy 2-core machine a NumPy-heavy test took 210 s
    # so, 18 s with one thread).
    export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
    exec "$py" -m pytest -n 2 --dist loadgroup
fi
exec "$py" -m pytest "$@"
