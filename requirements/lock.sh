#!/usr/bin/env bash
# Regenerate the locks, requirements/*.txt: the exact version and the PyPI hashes of every
# package the setup scripts install, for Python 3.10-3.13 on every platform (universal locks,
# markers choose per machine), made by uv from the ranges in pyproject.toml.
#
#   bash requirements/lock.sh                 # after changing pyproject.toml: locked versions
#                                             # are kept where the ranges still allow them
#   bash requirements/lock.sh --upgrade       # move everything to the newest allowed versions
#   bash requirements/lock.sh --upgrade-package keras   # one package only
#
# Needs uv (https://docs.astral.sh/uv/): pip install uv. Then run the tests
# (bash Scripts/environment.sh --force && bash Scripts/test.sh) and commit the locks.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if command -v uv >/dev/null 2>&1; then
    UV=(uv)
elif python3 -c 'import uv' >/dev/null 2>&1; then
    UV=(python3 -m uv)
else
    echo "ERROR: uv is not installed. Install it (pip install uv), then run this script again." >&2
    exit 1
fi

# compile OUTPUT INPUT... [uv options]: one universal lock with hashes, for PyPI's files.
compile() {
    local out="$1"
    shift
    echo "==> $out"
    "${UV[@]}" pip compile --quiet --universal --generate-hashes --python-version 3.10 \
        --index-url https://pypi.org/simple --custom-compile-command "bash requirements/lock.sh" \
        --output-file "$out" "$@"
}

# cpu.txt: what the setup installs by default (tensorflow-cpu on Linux x86_64, tensorflow
# elsewhere). The other two add to it, constrained to its versions so that they differ from
# it only by what they add.
compile requirements/cpu.txt pyproject.toml --extra test "$@"
# gpu.txt: tensorflow[and-cuda] for Linux x86_64 with an NVIDIA GPU (setup --gpu).
compile requirements/gpu.txt pyproject.toml requirements/gpu.in --extra test \
    --no-emit-package tensorflow-cpu --constraint requirements/cpu.txt "$@"
# metal.txt: cpu.txt plus tensorflow-metal for macOS arm64 (setup --metal).
compile requirements/metal.txt pyproject.toml --extra test --extra metal \
    --constraint requirements/cpu.txt "$@"
# browser.txt: the dependency group `browser` alone (Selenium, for the test of the room kit's
# live page), installed by CI on top of cpu.txt, whose versions it keeps. Attendees never get it.
compile requirements/browser.txt --group pyproject.toml:browser \
    --constraint requirements/cpu.txt "$@"
