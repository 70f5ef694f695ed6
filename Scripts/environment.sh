#!/usr/bin/env bash
# Create or update the workshop environment (Linux, macOS, WSL2), then check it with main.py.
#
#   bash Scripts/environment.sh [--venv] [--python PATH] [--cpu | --gpu | --metal]
#                               [--unlocked] [--force] [--no-data]
#                               [--offline DIR | --from URL] [--help]
#
# Windows: use Scripts\environment.bat instead. Run with --help for every flag.
set -euo pipefail

ENV_NAME="dl-workshop"
KERNEL_DISPLAY="Python (dl-workshop)"
# The supported Pythons are declared once, in labkit/settings.py (PYTHON_MIN, PYTHON_MAX).
SETTINGS_PY="$(dirname "${BASH_SOURCE[0]}")/../labkit/settings.py"
MIN_MINOR="$(sed -n 's/^PYTHON_MIN = "3\.\([0-9][0-9]*\)".*/\1/p' "$SETTINGS_PY" 2>/dev/null)" || true
MAX_MINOR="$(sed -n 's/^PYTHON_MAX = "3\.\([0-9][0-9]*\)".*/\1/p' "$SETTINGS_PY" 2>/dev/null)" || true
if [ -z "$MIN_MINOR" ] || [ -z "$MAX_MINOR" ]; then
    [ -f "$SETTINGS_PY" ] && problem="names no PYTHON_MIN and PYTHON_MAX" || problem="is missing"
    echo "ERROR: $SETTINGS_PY $problem." >&2
    echo "       Run this script from a complete clone of the workshop repository." >&2
    exit 1
fi
SUPPORTED="3.$MIN_MINOR-3.$MAX_MINOR"

usage() {
    sed "s/@SUPPORTED@/$SUPPORTED/" <<'EOF'
Usage: bash Scripts/environment.sh [options]

Creates the workshop environment, or updates it when it already exists, then
registers a Jupyter kernel, fetches the datasets and runs `python main.py`.

  With conda or mamba on PATH (mamba preferred): the conda environment
  `dl-workshop` from environment.yml (created, or updated with --prune).
  Without conda, or with --venv: a virtual environment in .venv at the repo
  root.
  Either way the packages come from a lock, requirements/cpu.txt (gpu.txt with
  --gpu, metal.txt with --metal): exact versions, each download checked against
  its PyPI hash (pip --require-hashes); then labkit itself (pip install --no-deps -e .).

Options:
  --venv         Use a virtual environment in .venv even when conda is present.
  --python PATH  Python interpreter for the virtual environment (@SUPPORTED@).
                 Implies --venv. Default: the newest supported python3.N on PATH,
                 else python3 or python when it is a supported one.
  --cpu          Install CPU-only TensorFlow, even when an NVIDIA GPU is found.
  --gpu          Install tensorflow[and-cuda] (Linux/WSL2 with an NVIDIA driver),
                 even when nvidia-smi does not list a GPU.
  --metal        macOS on Apple silicon: also install tensorflow-metal, check that
                 TensorFlow sees the GPU, and fall back to CPU with a warning when it
                 does not (tensorflow-metal is known to break with TensorFlow 2.18+).
                 Picks Python 3.12 or older (tensorflow-metal has no 3.13 wheel).
  --unlocked     Install the newest versions pyproject.toml allows instead of the
                 lock (to try newer releases, or when a locked file cannot be had).
  --force        Reinstall the packages even when nothing changed since the last run.
  --no-data      Do not fetch the datasets (`python -m labkit data fetch`).
  --offline DIR  Install from the instructor's pack in DIR (a USB stick, a share;
                 made by `python -m labkit room pack`), with no network at all:
                 the packages (hash-checked) and the datasets come from DIR only.
                 Implies --venv.
  --from URL     The same from the instructor's server (`python -m labkit room
                 serve`, e.g. --from http://192.168.1.10:8765/CODE); then main.py
                 sends its report there.
  -h, --help     Show this help and exit.

Without --cpu/--gpu/--metal: Linux with a working `nvidia-smi` that lists a GPU gets
the GPU build; everything else (macOS included) gets CPU TensorFlow: tensorflow-cpu on
Linux x86_64, tensorflow elsewhere. Switching between them leaves one TensorFlow.

Environment variables:
  LABKIT_DATA_DIR  Extra folder where the datasets are looked for (offline rooms, CI).

Exit status: that of `python main.py` (0 when the install works), 1 when a setup
step fails, 2 for a usage error.
EOF
}

# ---------------------------------------------------------------- output helpers
# The terminal gets a short summary, step by step; every command's whole output goes to the
# log, .labkit-setup.log, which the summary names (labkit/install/steps.py runs those commands: a
# progress line while they run, the log's last lines when one fails).
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    BOLD=$'\033[1m' YELLOW=$'\033[33m' RED=$'\033[31m' RESET=$'\033[0m'
else
    BOLD="" YELLOW="" RED="" RESET=""
fi
STEP=0
STEPS=6
STEP_TITLE=""
START=$SECONDS
LOG=""          # the log, once step 2 opens it
LOG_NAME=".labkit-setup.log"
EARLY_LOG=""    # what was said before the log was opened
RUNNER_PY=""    # the Python that runs labkit/install/steps.py
CREATING_VENV=0

to_log() {  # to_log LINE...: into the log (kept until it is opened)
    if [ -n "$LOG" ]; then
        printf '%s\n' "$@" >>"$LOG"
    else
        EARLY_LOG="$EARLY_LOG$(printf '%s\n' "$@")"$'\n'
    fi
}
open_log() {  # the log of this run, beginning with what was said so far
    LOG="$REPO_ROOT/$LOG_NAME"
    { printf 'labkit setup log: bash Scripts/environment.sh %s (%s)\n' "$ARGS" "$(date)"; printf '%s' "$EARLY_LOG"; } >"$LOG"
}
step() {
    STEP=$((STEP + 1))
    STEP_TITLE="$1"
    printf '\n%s==> [%d/%d] %s%s\n' "$BOLD" "$STEP" "$STEPS" "$1" "$RESET"
    to_log "" "==> [$STEP/$STEPS] $1"
}
info() { printf '    %s\n' "$@"; to_log "$(printf '    %s\n' "$@")"; }
warn() {
    printf '%sWARNING:%s %s\n' "$YELLOW" "$RESET" "$1" >&2; to_log "WARNING: $1"; shift
    [ $# -eq 0 ] || { printf '         %s\n' "$@" >&2; to_log "$(printf '         %s\n' "$@")"; }
}
# die WHAT-FAILED [WHAT-TO-DO...]
die() {
    printf '\n%sERROR:%s %s\n' "$RED" "$RESET" "$1" >&2
    to_log "ERROR: $1"
    shift
    [ $# -eq 0 ] || { printf '       %s\n' "$@" >&2; to_log "$(printf '       %s\n' "$@")"; }
    [ -z "$LOG" ] || printf '       The whole log: %s\n' "$LOG" >&2
    exit 1
}
usage_error() {
    printf 'environment.sh: %s\nRun "bash Scripts/environment.sh --help" for the options.\n' "$1" >&2
    exit 2
}
# shellcheck disable=SC2317  # called by the ERR trap
on_unexpected_error() {
    printf '\n%sERROR:%s step failed at line %s: %s\n' "$RED" "$RESET" "$1" "$2" >&2
    printf '       Read the messages above, fix the cause, then run bash Scripts/environment.sh again.\n' >&2
    [ -z "$LOG" ] || printf '       The whole log: %s\n' "$LOG" >&2
}
trap 'on_unexpected_error "$LINENO" "$BASH_COMMAND"' ERR
# Ctrl-C (or a closed terminal): one line, whatever the command that was running said (it is in
# the log). What is complete stays: a rerun skips it (the stamp, the datasets' checksums); a
# .venv interrupted while being created is removed, so that the rerun makes it again.
# shellcheck disable=SC2317  # called by the INT/TERM/HUP traps
on_interrupt() {
    trap - ERR INT TERM HUP
    if [ "$CREATING_VENV" = 1 ]; then rm -rf "$VENV_DIR"; fi
    [ -z "$LOG" ] || printf 'Interrupted at step %d (%s).\n' "$STEP" "$STEP_TITLE" >>"$LOG"
    printf '\n%sInterrupted at step %d (%s): run the same command again to continue.%s\n' \
        "$BOLD" "$STEP" "$STEP_TITLE" "$RESET" >&2
    exit 130
}
trap on_interrupt INT TERM HUP
# run_logged [--show-from TEXT] -- COMMAND...: the command, its whole output into the log (see
# labkit/install/steps.py); its exit status. Interrupted (status 130): the one line, and exit.
run_logged() {
    local rc=0
    if [ -n "$RUNNER_PY" ]; then
        "$RUNNER_PY" -m labkit.install.steps --log "$LOG" "$@" || rc=$?
    else  # no Python yet (conda creating its environment): the log only, its tail on failure
        while [ "$1" != -- ]; do shift; done
        shift
        printf '$ %s\n' "$*" >>"$LOG"
        "$@" >>"$LOG" 2>&1 || rc=$?
        if [ "$rc" != 0 ] && [ "$rc" != 130 ]; then
            printf '    The last lines of the log (%s):\n' "$LOG"
            tail -n 25 "$LOG" | sed 's/^/    | /'
        fi
    fi
    [ "$rc" != 130 ] || on_interrupt
    return "$rc"
}

# ---------------------------------------------------------------- arguments
ARGS="$*"
USE_VENV=0
PYTHON_ARG=""
ACCEL=""        # cpu | gpu | metal; empty = detect
ACCEL_DETECTED=0
UNLOCKED=0
FORCE=0
FETCH_DATA=1
SOURCE=""       # --offline DIR or --from URL: the instructor's pack
SOURCE_KIND=""  # offline | from
set_source() {  # set_source KIND VALUE
    [ -z "$SOURCE" ] || usage_error "choose one of --offline and --from"
    [ -n "$2" ] || usage_error "--$1 needs a value (--offline DIR, --from http://HOST:PORT)"
    SOURCE_KIND="$1" SOURCE="$2"
}
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) USE_VENV=1 ;;
        --python)
            [ $# -ge 2 ] || usage_error "--python needs a path, e.g. --python /usr/bin/python3.12"
            PYTHON_ARG="$2"; USE_VENV=1; shift ;;
        --python=*) PYTHON_ARG="${1#--python=}"; USE_VENV=1 ;;
        --cpu | --gpu | --metal)
            [ -z "$ACCEL" ] || [ "$ACCEL" = "${1#--}" ] || usage_error "choose only one of --cpu, --gpu, --metal"
            ACCEL="${1#--}" ;;
        --unlocked) UNLOCKED=1 ;;
        --force) FORCE=1 ;;
        --no-data) FETCH_DATA=0 ;;
        --offline | --from)
            [ $# -ge 2 ] || usage_error "$1 needs a value (--offline DIR, --from http://HOST:PORT)"
            set_source "${1#--}" "$2"; shift ;;
        --offline=*) set_source offline "${1#--offline=}" ;;
        --from=*) set_source from "${1#--from=}" ;;
        -h | --help) usage; exit 0 ;;
        *) usage_error "unknown option: $1" ;;
    esac
    shift
done

if [ -n "$SOURCE" ]; then
    [ "$UNLOCKED" = 0 ] || usage_error "--unlocked downloads from the internet: it cannot go with --$SOURCE_KIND"
    if [ "$SOURCE_KIND" = from ]; then
        case "$SOURCE" in
            http://* | https://*) SOURCE="${SOURCE%/}" ;;
            *) usage_error "--from needs the server's address, e.g. --from http://192.168.1.10:8765/CODE (a folder: --offline DIR)" ;;
        esac
    else
        # Made absolute before the script changes directory.
        [ -d "$SOURCE" ] || usage_error "--offline $SOURCE: no such folder (the pack's folder, with manifest.json)"
        SOURCE="$(cd "$SOURCE" && pwd)"
    fi
    USE_VENV=1  # conda would need its own channels: the pack holds pip's wheels
fi

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
if [ ! -f pyproject.toml ] || [ ! -f environment.yml ]; then
    die "pyproject.toml or environment.yml is missing in $REPO_ROOT." \
           "Run this script from a complete clone of the workshop repository."
fi

OS="$(uname -s)"
ARCH="$(uname -m)"
case "$OS" in
    MINGW* | MSYS* | CYGWIN*)
        die "This script is for Linux, macOS and WSL2." \
            "On Windows run Scripts\\environment.bat from a Command Prompt or Anaconda Prompt," \
            "or use WSL2 (the only way to use an NVIDIA GPU with TensorFlow on Windows)." ;;
esac

# Quiet, non-interactive pip. A normal editable install of labkit needs no word from setuptools
# (its "Editable installation" notice is a BuildBackendWarning box in pip's output).
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
EDITABLE_QUIET="ignore:Editable installation:UserWarning"
if [ "${CI:-}" = "true" ]; then export PIP_PROGRESS_BAR=off; fi

# ---------------------------------------------------------------- helpers
# Print "3.12.4" for an interpreter, or fail when it cannot run.
py_version() {
    "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null
}
is_supported() {  # is_supported 3.12.4
    local major minor rest
    IFS=. read -r major minor rest <<<"$1"
    [ "$major" = 3 ] && [ "$minor" -ge "$MIN_MINOR" ] 2>/dev/null && [ "$minor" -le "$MAX_MINOR" ]
}
install_python_hint() {
    printf '%s\n' \
        "Install Python $SUPPORTED (3.12 recommended), then run this script again:" \
        "  macOS:          brew install python@3.12   (or the installer from https://www.python.org/downloads/)" \
        "  Ubuntu/Debian:  sudo apt install python3 python3-venv   (Ubuntu 22.04/24.04 ship 3.10/3.12;" \
        "                  older releases: the deadsnakes PPA, or pyenv)" \
        "  Any OS:         pyenv install 3.12  (https://github.com/pyenv/pyenv)" \
        "  Or install Miniforge (https://conda-forge.org/download/) and let this script use conda." \
        "An interpreter that is not on PATH can be passed with --python /path/to/python3.12."
}
# The stamp records what was installed: pyproject.toml, environment.yml, the lock and the flags.
stamp_of() {  # stamp_of PYTHON FLAGS
    "$1" -c 'import hashlib, sys
h = hashlib.sha256()
for name in ("pyproject.toml", "environment.yml", sys.argv[2]):
    with open(name, "rb") as f:
        h.update(f.read())
h.update(sys.argv[1].encode())
print(h.hexdigest())' "$2" "$LOCK"
}
installed_ok() {  # labkit is installed (not just found in the current folder) and TensorFlow too
    "$1" -I -c 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("labkit") and u.find_spec("tensorflow") else 1)' >/dev/null 2>&1
}
has_nvidia_gpu() {
    command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '
}

# ---------------------------------------------------------------- 1. check the platform
step "Checking the platform and Python"
CONDA_TOOL=""
if [ "$USE_VENV" = 0 ]; then
    if command -v mamba >/dev/null 2>&1; then CONDA_TOOL=mamba
    elif command -v conda >/dev/null 2>&1; then CONDA_TOOL=conda
    fi
fi

info "System: $OS $ARCH"
if [ "$OS" = Linux ] && grep -qi microsoft /proc/version 2>/dev/null; then
    info "WSL2 detected: the GPU needs only the NVIDIA driver on the Windows side."
    case "$REPO_ROOT" in /mnt/*) warn "The repository is on the Windows drive ($REPO_ROOT): installs and notebooks are much slower there." \
        "Clone it inside WSL instead, e.g. into ~/." ;; esac
fi

# Accelerator: validate overrides, detect otherwise.
case "$ACCEL" in
    metal)
        if [ "$OS" != Darwin ] || [ "$ARCH" != arm64 ]; then
            usage_error "--metal is only for macOS on Apple silicon (this is $OS $ARCH)"
        fi ;;
    gpu)
        [ "$OS" = Linux ] || usage_error "--gpu is only for Linux/WSL2 with an NVIDIA GPU (macOS: try --metal; Windows: use WSL2)"
        has_nvidia_gpu || warn "--gpu given but nvidia-smi does not list a GPU: TensorFlow may fall back to the CPU." \
            "Check the NVIDIA driver with: nvidia-smi" ;;
    cpu) ;;
    "")
        ACCEL_DETECTED=1
        if [ "$OS" = Linux ] && has_nvidia_gpu; then
            ACCEL=gpu
            info "NVIDIA GPU found by nvidia-smi: installing TensorFlow with CUDA (use --cpu to avoid)."
        else
            ACCEL=cpu
            if [ "$OS" = Darwin ] && [ "$ARCH" = arm64 ]; then
                info "Apple silicon: CPU TensorFlow (add --metal to try the GPU through tensorflow-metal)."
            fi
        fi ;;
esac
if [ "$OS" = Darwin ] && [ "$ARCH" = x86_64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
    warn "This shell runs under Rosetta (x86_64 on Apple silicon)." \
        "Use a native arm64 terminal and Python, or TensorFlow may not install."
fi
info "TensorFlow build: $ACCEL"

# The lock to install: exact versions with PyPI hashes (bash requirements/lock.sh makes them).
LOCK="requirements/$ACCEL.txt"
[ -f "$LOCK" ] || die "$LOCK is missing in $REPO_ROOT." "Update your clone of the repository (git pull), then run again."

PY=""          # the environment's interpreter, once known
BASE_PY=""     # venv mode: the interpreter that creates .venv
VENV_DIR="$REPO_ROOT/.venv"
if [ -n "$CONDA_TOOL" ]; then
    info "Using $CONDA_TOOL: conda environment '$ENV_NAME' from environment.yml (--venv for a virtual environment)."
    # The environment's interpreter, when the environment already exists.
    if out="$("$CONDA_TOOL" run -n "$ENV_NAME" python -c 'import sys; print(sys.executable)' 2>/dev/null)"; then
        PY="$(printf '%s\n' "$out" | tail -n 1 | tr -d '\r')"
        [ -x "$PY" ] || PY=""
    fi
else
    if [ -n "$PYTHON_ARG" ]; then
        command -v "$PYTHON_ARG" >/dev/null 2>&1 \
            || die "--python $PYTHON_ARG: no such interpreter." "Pass the path of a Python $SUPPORTED executable."
        ver="$(py_version "$PYTHON_ARG")" \
            || die "--python $PYTHON_ARG: it did not run as a Python interpreter." "Pass the path of a Python $SUPPORTED executable."
        if ! is_supported "$ver"; then
            printf '\n%sERROR:%s %s is Python %s; the workshop needs Python %s (TensorFlow 2.21).\n' \
                "$RED" "$RESET" "$PYTHON_ARG" "$ver" "$SUPPORTED" >&2
            install_python_hint >&2
            exit 1
        fi
        BASE_PY="$(command -v "$PYTHON_ARG")"
    else
        tried=""
        candidates=()
        for ((minor = MAX_MINOR; minor >= MIN_MINOR; minor--)); do candidates+=("python3.$minor"); done
        for cand in "${candidates[@]}" python3 python; do
            # tensorflow-metal publishes no wheel for Python 3.13
            if [ "$ACCEL" = metal ] && [ "$cand" = python3.13 ]; then continue; fi
            command -v "$cand" >/dev/null 2>&1 || continue
            if ver="$(py_version "$cand")"; then
                if is_supported "$ver"; then BASE_PY="$(command -v "$cand")"; break; fi
                tried="$tried $cand=$ver"
            fi
        done
        if [ -z "$BASE_PY" ]; then
            if [ -n "$tried" ]; then
                printf '\n%sERROR:%s no supported Python on PATH (found:%s); the workshop needs Python %s.\n' \
                    "$RED" "$RESET" "$tried" "$SUPPORTED" >&2
            else
                printf '\n%sERROR:%s no Python found on PATH; the workshop needs Python %s.\n' "$RED" "$RESET" "$SUPPORTED" >&2
            fi
            install_python_hint >&2
            exit 1
        fi
        ver="$(py_version "$BASE_PY")"
    fi
    info "Using a virtual environment in .venv, made with $BASE_PY (Python $ver)."
fi

if [ -n "$SOURCE" ]; then
    info "Installing from the instructor's pack: $SOURCE (no index, no internet)."
    # A GPU found by itself, with a pack that has no GPU build for this machine: the CPU build.
    if [ "$ACCEL" = gpu ] && [ "$ACCEL_DETECTED" = 1 ] && ! "$BASE_PY" -m labkit.install.offline has "$SOURCE" gpu 2>/dev/null; then
        ACCEL=cpu
        LOCK="requirements/cpu.txt"
        info "The pack has no GPU build for this computer: installing the CPU one (the labs run on the CPU)."
    fi
fi

# ---------------------------------------------------------------- 2. create the environment
step "Creating or updating the environment"
open_log
info "Every command's whole output goes to $LOG_NAME."
# labkit/install/steps.py runs the long commands: with the environment's Python once there is one.
if [ -n "$PY" ]; then RUNNER_PY="$PY"; elif [ -n "$BASE_PY" ]; then RUNNER_PY="$BASE_PY"; else
    for cand in python3 python; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import labkit.install.steps' >/dev/null 2>&1; then
            RUNNER_PY="$(command -v "$cand")"; break
        fi
    done
fi
FLAGS="accel=$ACCEL unlocked=$UNLOCKED"
if [ -n "$CONDA_TOOL" ]; then
    FLAGS="mode=conda $FLAGS"
else
    # Reuse .venv when it works and suits; recreate it when broken or of another Python.
    if [ -e "$VENV_DIR" ]; then
        # A .venv without pip is one whose creation was cut short: made again.
        if venv_ver="$(py_version "$VENV_DIR/bin/python")" && is_supported "$venv_ver" \
            && "$VENV_DIR/bin/python" -c 'import pip' >/dev/null 2>&1; then
            if [ -n "$PYTHON_ARG" ] && [ "${venv_ver%.*}" != "${ver%.*}" ]; then
                info "Recreating .venv: it has Python $venv_ver, --python asks for $ver."
                rm -rf "$VENV_DIR"
            else
                PY="$VENV_DIR/bin/python"
                info "Reusing .venv (Python $venv_ver)."
            fi
        else
            info "Recreating .venv: it is broken or has an unsupported Python (${venv_ver:-does not run})."
            rm -rf "$VENV_DIR"
        fi
    fi
    if [ -z "$PY" ]; then
        info "Creating .venv with $BASE_PY ..."
        CREATING_VENV=1
        if ! run_logged -- "$BASE_PY" -m venv "$VENV_DIR"; then
            rm -rf "$VENV_DIR"
            minor="$(py_version "$BASE_PY" | cut -d. -f1,2)"
            die "Could not create the virtual environment with $BASE_PY." \
                "Debian/Ubuntu: install the venv module (sudo apt install python${minor}-venv), then run again." \
                "Elsewhere: reinstall Python from python.org, or pass another one with --python."
        fi
        CREATING_VENV=0
        PY="$VENV_DIR/bin/python"
    fi
    RUNNER_PY="$PY"
    FLAGS="mode=venv python=$(py_version "$PY") $FLAGS"
fi

# Skip the (slow) install when the stamp says nothing changed.
UP_TO_DATE=0
STAMP_FILE=""
if [ -n "$PY" ]; then
    STAMP_FILE="$(dirname "$(dirname "$PY")")/.labkit-stamp"
    NEW_STAMP="$(stamp_of "$PY" "$FLAGS")" || die "Could not run $PY." \
        "The environment looks broken: run again with --force, or delete it and run again."
    if [ "$FORCE" = 0 ] && [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$NEW_STAMP" ] && installed_ok "$PY"; then
        UP_TO_DATE=1
    fi
fi

if [ -n "$CONDA_TOOL" ] && [ -n "$PY" ]; then
    # A conda environment is found by its name, so two clones would share it, each install
    # pointing it at its own labkit: refuse to take over another clone's environment.
    owner="$("$PY" -I -c 'import importlib.util as u; s = u.find_spec("labkit"); print(s.origin if s and s.origin else "")' 2>/dev/null | tail -n 1 | tr -d '\r')" || owner=""
    owner_root="$(cd "$(dirname "$owner")/.." 2>/dev/null && pwd -P)" || owner_root=""
    if [ -n "$owner" ] && [ -n "$owner_root" ] && [ "$owner_root" != "$(pwd -P)" ] && [ -f "$owner_root/pyproject.toml" ]; then
        die "Conda environment '$ENV_NAME' belongs to the clone in $owner_root (its labkit comes from there)." \
            "Updating it from here would take it from that clone. For this clone use a virtual environment:" \
            "  bash Scripts/environment.sh --venv" \
            "or remove the other one first: conda env remove -n $ENV_NAME"
    fi
fi

if [ -n "$CONDA_TOOL" ]; then
    if [ "$UP_TO_DATE" = 1 ]; then
        info "Conda environment '$ENV_NAME' is up to date (pyproject.toml, environment.yml and flags unchanged; --force to update it anyway)."
    elif [ -n "$PY" ]; then
        info "Updating conda environment '$ENV_NAME' ($CONDA_TOOL env update --prune) ..."
        run_logged -- "$CONDA_TOOL" env update -n "$ENV_NAME" -f environment.yml --prune \
            || die "'$CONDA_TOOL env update' failed (the log's last lines are above)." \
                   "Check the network, or remove the environment (conda env remove -n $ENV_NAME) and run again."
    else
        info "Creating conda environment '$ENV_NAME' ($CONDA_TOOL env create) ..."
        run_logged -- "$CONDA_TOOL" env create -n "$ENV_NAME" -f environment.yml \
            || die "'$CONDA_TOOL env create' failed (the log's last lines are above)." \
                   "Check the network; if a half-made environment is left, remove it (conda env remove -n $ENV_NAME) and run again."
        out="$("$CONDA_TOOL" run -n "$ENV_NAME" python -c 'import sys; print(sys.executable)')" \
            || die "The new conda environment '$ENV_NAME' has no working python." \
                   "Remove it (conda env remove -n $ENV_NAME) and run again."
        PY="$(printf '%s\n' "$out" | tail -n 1 | tr -d '\r')"
        STAMP_FILE="$(dirname "$(dirname "$PY")")/.labkit-stamp"
        NEW_STAMP="$(stamp_of "$PY" "$FLAGS")"
    fi
    env_ver="$(py_version "$PY")" || die "The python of conda environment '$ENV_NAME' ($PY) does not run." \
        "Remove the environment (conda env remove -n $ENV_NAME) and run again."
    is_supported "$env_ver" || die "Conda environment '$ENV_NAME' has Python $env_ver; the workshop needs $SUPPORTED." \
        "Remove it (conda env remove -n $ENV_NAME) and run again to get the Python of environment.yml."
    info "Environment python: $PY (Python $env_ver)"
    RUNNER_PY="$PY"
fi

# ---------------------------------------------------------------- 3. install packages
step "Installing packages"
pip_failed() {  # pip_failed WHAT-FAILED [HINT...]
    local what="$1"
    shift
    local hints=("$@" "Check the internet connection (behind a proxy: export HTTPS_PROXY=...; local mirror: PIP_INDEX_URL=...)," "then run bash Scripts/environment.sh again.")
    if [ "$OS" = Darwin ] && [ "$ARCH" = x86_64 ]; then
        hints+=("Intel Macs: recent TensorFlow releases publish no macOS x86_64 wheels; use Colab or a Linux machine.")
    fi
    die "$what" "${hints[@]}"
}
# unlocked_requirements: the ranges of pyproject.toml for this build, one per line (--unlocked).
unlocked_requirements() {
    "$PY" - "$ACCEL" <<'EOF'
import sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the copy inside pip
    from pip._vendor import tomli as tomllib
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
accel, extras = sys.argv[1], project["optional-dependencies"]
lines = project["dependencies"] + extras["test"] + (extras["metal"] if accel == "metal" else [])
if accel == "gpu":  # requirements/gpu.in replaces tensorflow-cpu, as in requirements/gpu.txt
    lines = [line for line in lines if not line.startswith("tensorflow-cpu")]
    with open("requirements/gpu.in", encoding="utf-8") as f:
        lines += [line for line in f.read().splitlines() if line and not line.startswith("#")]
print("\n".join(lines))
EOF
}

# From a pack, pip reads no configuration (PIP_CONFIG_FILE=/dev/null), no PIP_* variable
# (--isolated) and no index (--no-index): every file comes from the pack. (${A[@]+"${A[@]}"}:
# an empty array under set -u, which the bash 3.2 of macOS refuses as "${A[@]}".)
PACK_PIP=()
PACK_PIP_OPTIONS=()
if [ -n "$SOURCE" ]; then
    PACK_PIP=(env PIP_CONFIG_FILE=/dev/null)
    PACK_PIP_OPTIONS=(--isolated --no-index)
fi
# install_from_pack: this computer's hash-checked requirements from the pack
# (labkit/install/offline.py picks them and says which machine a pack lacks), installed from
# the pack's wheels only.
install_from_pack() {
    local reqs
    reqs="$(mktemp)"
    local summary
    if ! summary="$("$PY" -m labkit.install.offline requirements "$SOURCE" "$ACCEL" "$reqs")"; then
        rm -f "$reqs"
        die "The pack at $SOURCE cannot set up this computer (see the message above)."
    fi
    info "From the pack: $summary"
    info "pip install --isolated --no-index --require-hashes -r <the pack's requirements for this computer>"
    if ! run_logged -- ${PACK_PIP[@]+"${PACK_PIP[@]}"} "$PY" -m pip install ${PACK_PIP_OPTIONS[@]+"${PACK_PIP_OPTIONS[@]}"} --require-hashes -r "$reqs"; then
        rm -f "$reqs"
        die "Installing from the pack at $SOURCE failed (the log's last lines are above)." \
            "A hash mismatch means the pack's copy is damaged: copy it again (in the pack: sha256sum -c SHA256SUMS)." \
            "A missing file means the pack lacks it: ask the instructor to run python -m labkit room pack again."
    fi
    rm -f "$reqs"
}

if [ "$UP_TO_DATE" = 1 ]; then
    info "Packages are up to date (stamp $STAMP_FILE matches; --force to reinstall)."
else
    # Written again only once everything below has worked.
    [ -z "$STAMP_FILE" ] || rm -f "$STAMP_FILE"
    if [ -n "$SOURCE" ]; then
        info "Keeping the pip that .venv came with (the pack has no pip to upgrade to)."
    elif [ -z "$CONDA_TOOL" ]; then
        info "pip install --upgrade pip"
        run_logged -- "$PY" -m pip install --upgrade pip || pip_failed "Upgrading pip in .venv failed."
    fi
    # One TensorFlow: the builds of --cpu, --gpu and --metal install the same files, so what
    # another build installed goes first (its TensorFlow, the CUDA wheels, tensorflow-metal).
    remove="$("$PY" -m labkit.install.locks conflicts "$ACCEL")" \
        || die "Could not list the packages installed in $PY." "The environment looks broken: run again with --force, or delete it and run again."
    if [ -n "$remove" ]; then
        info "pip uninstall -y $remove   (another build's; $LOCK brings its own)"
        # shellcheck disable=SC2086  # one argument per package name
        run_logged -- "$PY" -m pip uninstall -y $remove || die "pip uninstall failed (the log's last lines are above)." \
            "Delete the environment and run again."
    fi
    if [ -n "$SOURCE" ]; then
        install_from_pack
    elif [ "$UNLOCKED" = 0 ]; then
        info "pip install --require-hashes -r $LOCK   (the longest step)"
        run_logged -- "$PY" -m pip install --require-hashes -r "$LOCK" \
            || pip_failed "Installing the locked packages of $LOCK failed (the log's last lines are above)." \
                "A hash mismatch means a download was altered (a proxy?) or the mirror differs from PyPI."
    else
        reqs="$(mktemp)"
        unlocked_requirements >"$reqs" || { rm -f "$reqs"; die "Could not read the ranges of pyproject.toml."; }
        info "pip install --upgrade --upgrade-strategy eager $(tr '\n' ' ' <"$reqs")"
        run_logged -- "$PY" -m pip install --upgrade --upgrade-strategy eager -r "$reqs" \
            || { rm -f "$reqs"; pip_failed "Installing the ranges of pyproject.toml failed (the log's last lines are above)."; }
        rm -f "$reqs"
    fi
    # labkit itself, editable; its dependencies are in place, setuptools among them (so no
    # build environment to download).
    info "pip install --no-deps --no-build-isolation -e ."
    run_logged -- env PYTHONWARNINGS="$EDITABLE_QUIET" ${PACK_PIP[@]+"${PACK_PIP[@]}"} "$PY" -m pip install ${PACK_PIP_OPTIONS[@]+"${PACK_PIP_OPTIONS[@]}"} --no-deps --no-build-isolation -e . \
        || pip_failed "pip install --no-deps --no-build-isolation -e . failed (the log's last lines are above)."
fi

if [ "$ACCEL" = metal ]; then
    info "Checking that TensorFlow sees the Apple GPU through tensorflow-metal ..."
    if ! "$PY" -m pip show tensorflow-metal >/dev/null 2>&1; then
        if [ "$(py_version "$PY" | cut -d. -f1,2)" = 3.13 ]; then
            warn "tensorflow-metal publishes no wheel for Python 3.13: the labs run on the CPU." \
                "For the GPU, make the environment with Python 3.12: --metal --python python3.12"
        else
            warn "tensorflow-metal is not installed: it was removed in an earlier run because it did not work." \
                "Running on the CPU. Run with --metal --force to try again."
        fi
    elif "$PY" -c 'import sys, tensorflow as tf; sys.exit(0 if tf.config.list_physical_devices("GPU") else 1)'; then
        info "tensorflow-metal works: TensorFlow lists the GPU."
    else
        warn "tensorflow-metal does not work with this TensorFlow (it is known to break with 2.18+)." \
            "Uninstalling it: the labs run on the CPU. Run with --metal --force to try again later."
        run_logged -- "$PY" -m pip uninstall -y tensorflow-metal \
            || die "Could not uninstall tensorflow-metal." "Run: $PY -m pip uninstall -y tensorflow-metal, then run again with --cpu."
    fi
fi

if [ "$UP_TO_DATE" = 0 ]; then
    printf '%s\n' "$NEW_STAMP" >"$STAMP_FILE"
fi

# Let Scripts/test.sh (and people) find the interpreter, whatever the kind of environment.
tmp="$(mktemp "$REPO_ROOT/.labkit-python.XXXXXX")"
printf '%s\n' "$PY" >"$tmp"
mv -f "$tmp" "$REPO_ROOT/.labkit-python"
info "Wrote .labkit-python ($PY)"

# ---------------------------------------------------------------- 4. Jupyter kernel
step "Registering the Jupyter kernel"
# In the environment (JupyterLab started from it opens the labs on it) and for the user (another
# Jupyter, VS Code), under a name no other clone has: labkit/install/kernel.py. It also turns off
# JupyterLab's news prompt for this environment. The name said is the one registered.
run_logged -- "$PY" -m labkit kernel \
    || die "Registering the Jupyter kernel failed (the log's last lines are above)." \
           "Run: $PY -m labkit kernel, or run this script again with --force."
registered="$("$PY" -m labkit kernel --which 2>>"$LOG" | tail -n 1 | tr -d '\r')" || registered=""
KERNEL_DISPLAY="${registered:-$KERNEL_DISPLAY}"
info "Kernel \"$KERNEL_DISPLAY\" (all the kit's kernels: \"$PY\" -m labkit kernel --list)"

# ---------------------------------------------------------------- 5. datasets
# A dataset that cannot be fetched is not fatal here: main.py below reports it as a FAIL, so
# the attendee sees the whole report and setup still ends NOT READY (exit 1).
step "Fetching the datasets"
DATA_FROM=()
[ -z "$SOURCE" ] || DATA_FROM=(--from "$SOURCE/data")
if [ "$FETCH_DATA" = 0 ]; then
    info "Skipped (--no-data): main.py below reports any dataset that is missing."
elif run_logged -- "$PY" -m labkit data fetch ${DATA_FROM[@]+"${DATA_FROM[@]}"}; then
    info "Datasets are ready and verified."
else
    warn "Some datasets could not be fetched (the log's last lines are above); continuing to the check." \
        "Without internet, copy the data from the instructor's USB stick or share, then run:" \
        "  \"$PY\" -m labkit data fetch --from /path/to/that/folder"
fi

# ---------------------------------------------------------------- 6. check the install
step "Checking the install (python main.py)"
[ -f main.py ] || die "main.py is missing in $REPO_ROOT." "Update your clone of the repository (git pull), then run again."
rc=0
SEND=()
[ "$SOURCE_KIND" != from ] || SEND=(--send "$SOURCE")  # the instructor's page shows it
# Its whole report goes to the log; the terminal shows its diagnosis (PASS/WARN/FAIL and fixes).
run_logged --show-from "== Diagnosis ==" -- "$PY" main.py ${SEND[@]+"${SEND[@]}"} || rc=$?
if [ "$rc" = 2 ] || [ "$rc" = 3 ]; then  # main.py adds 2 when its report could not be sent
    warn "Your report did not reach the instructor's page (main.py says why above)." \
        "Send it again with: \"$PY\" main.py --send $SOURCE --name \"Your Name\""
    rc=$((rc - 2))
fi
elapsed=$((SECONDS - START))
if [ "$rc" = 0 ]; then
    printf '\n%sREADY (setup took %ds).%s Start Jupyter with:\n    "%s" -m jupyter lab labs/\n' \
        "$BOLD" "$elapsed" "$RESET" "$PY"
    info "and open a lab with the kernel \"$KERNEL_DISPLAY\". Run the tests with: bash Scripts/test.sh"
    info "The whole log, main.py's full report included: $LOG"
    to_log "READY"
else
    printf '\nThe whole log, main.py'"'"'s full report included: %s\n' "$LOG" >&2
    printf '%sNOT READY%s (main.py exit %d, after %ds): do what each FAIL line above says after "fix:", then check again with: "%s" main.py\n' \
        "$RED" "$RESET" "$rc" "$elapsed" "$PY" >&2
    to_log "NOT READY (main.py exit $rc)"
fi
exit "$rc"
