"""The diagnosis: PASS/INFO/WARN/FAIL lines, each WARN and FAIL with its fix.

Pure: every rule reads only the ``Report`` (no environment, no files), so each is tested on a
constructed report. ``exit_code`` is main.py's: 1 when any FAIL, else 0.
"""

from __future__ import annotations

import re
from typing import Any

from labkit import settings
from labkit.install.doctor.report import Finding, Report
from labkit.paths import FETCH_CMD

TESTED_TF = "2.21"  # the labs are tested with this TensorFlow minor version
ENV_SCRIPT = "bash Scripts/environment.sh"
ENV_SCRIPT_WIN = r"Scripts\environment.bat"
# Variables read while TensorFlow imports: a bad value makes the import fail.
IMPORT_TIME_VARIABLES = ("MPLBACKEND", "KERAS_BACKEND", "TF_USE_LEGACY_KERAS")


def parse_arch(entry: str) -> tuple[str, tuple[int, int]] | None:
    """'sm_80' -> ('sm', (8, 0)); 'compute_90' -> ('compute', (9, 0)); '8.6' -> ('sm', (8, 6))."""
    m = re.fullmatch(r"\s*(?:(sm|compute)_)?(\d+)(?:\.(\d+))?([af]?)\s*", str(entry))
    if m is None:
        return None
    kind = m.group(1) or "sm"
    if m.group(3) is not None:
        version = (int(m.group(2)), int(m.group(3)))
    elif len(m.group(2)) >= 2:
        version = (int(m.group(2)[:-1]), int(m.group(2)[-1]))
    else:
        version = (int(m.group(2)), 0)
    return ("sm_exact" if m.group(4) and kind == "sm" else kind), version


def cc_support(compute: str, build_caps: list[str]) -> str:
    """How a build runs on a GPU: 'native' (has its binaries), 'ptx' (JIT) or 'none'."""
    gpu = parse_arch(compute)
    if gpu is None:
        return "unknown"
    have = [p for p in map(parse_arch, build_caps) if p is not None]
    major, minor = gpu[1]
    for kind, (cmaj, cmin) in have:
        if kind == "sm" and cmaj == major and cmin <= minor:
            return "native"  # binaries run on later minor versions of the same major
        if kind == "sm_exact" and (cmaj, cmin) == (major, minor):
            return "native"
    if any(kind == "compute" and version <= gpu[1] for kind, version in have):
        return "ptx"
    return "none"


def gpu_list(report: Report, source: str) -> list[dict[str, Any]]:
    """GPUs seen by 'tf' or by the 'driver' (empty when unknown)."""
    if source == "tf":
        return [d for d in report.tensorflow.get("devices") or [] if d.get("type") == "GPU"]
    return list(report.driver.get("gpus") or [])


def is_windows_native(report: Report) -> bool:
    return report.system.get("platform") == "Windows"


def env_fix(var: str, value: str | None, report: Report) -> str:
    """How to set (or unset, value None) an environment variable on this OS."""
    if is_windows_native(report):
        return f"set {var}={value or ''}" + ("  (PowerShell: $env:" + f'{var}="{value or ""}")')
    return f"export {var}={value}" if value is not None else f"unset {var}"


def diagnose_python(report: Report) -> list[Finding]:
    version = report.versions.get("python") or "0.0"
    supported = f"{settings.PYTHON_MIN}-{settings.PYTHON_MAX}"
    if ".".join(version.split(".")[:2]) in settings.python_versions():
        return [Finding("PASS", f"Python {version} is supported ({supported})")]
    return [
        Finding(
            "FAIL",
            f"Python {version} is not supported: the labs need Python {supported}",
            f"Create the workshop environment with a supported Python: {ENV_SCRIPT} "
            f"(Windows: {ENV_SCRIPT_WIN}), then run main.py with that environment's python.",
        )
    ]


def setup_fix(report: Report) -> str:
    """How to (re)create the environment, and how to use it when it already exists."""
    script = ENV_SCRIPT_WIN if is_windows_native(report) else ENV_SCRIPT
    python = report.system.get("setup_python")
    if python:
        return (
            f"The setup script made an environment with {python}: run `{python} main.py` "
            f"(or activate that environment). Otherwise set it up again: {script}"
        )
    return f"Set up the workshop environment: {script}"


def pip_command(report: Report) -> str:
    """``python -m pip`` with the report's interpreter (quoted when its path has spaces)."""
    python = str(report.system.get("python_executable") or "python")
    return f'"{python}" -m pip' if " " in python else f"{python} -m pip"


def diagnose_distributions(report: Report) -> list[Finding]:
    """Two TensorFlow distributions in one environment overwrite each other's files."""
    installed = report.versions.get("tensorflow_distributions") or {}
    if len(installed) < 2:
        return []
    listed = " and ".join(f"{name} {version}" for name, version in installed.items())
    script = ENV_SCRIPT_WIN if is_windows_native(report) else ENV_SCRIPT
    return [
        Finding(
            "FAIL",
            f"Two TensorFlow distributions are installed in this environment: {listed}. They "
            "overwrite each other's files, so TensorFlow may be broken or not the build you "
            "expect",
            f"{pip_command(report)} uninstall -y {' '.join(installed)}\nthen {script} --force "
            "(it installs the one TensorFlow this machine needs)",
        )
    ]


def import_failure_fix(report: Report) -> str:
    """The fix for a failed ``import tensorflow``, from the module that raised."""
    t, env = report.tensorflow, report.system.get("env") or {}
    error, origin = str(t.get("error") or ""), t.get("error_origin")
    for var in IMPORT_TIME_VARIABLES:
        value = env.get(var)
        if value and (f"'{value}'" in error or f'"{value}"' in error):
            return (
                f"{var}={value!r} is not a value {origin or 'the package that reads it'} "
                f"accepts: {env_fix(var, None, report)} (or set it to a valid value)"
            )
    if error.startswith("ModuleNotFoundError") and origin:
        return f"{origin} is missing: {setup_fix(report)} --force"
    if origin and origin not in ("tensorflow", "keras"):
        dist = t.get("error_origin_dist") or origin
        return (
            f"The error comes from {origin}, which TensorFlow imports; reinstalling TensorFlow "
            f"will not fix it. Reinstall {dist}: {pip_command(report)} install "
            f"--force-reinstall {dist}, or {setup_fix(report)} --force"
        )
    fix = setup_fix(report) + " (add --force to reinstall the packages)"
    if "DLL load failed" in error:
        fix += "\nOn Windows also install the Microsoft Visual C++ Redistributable (x64)."
    return fix


def diagnose_tensorflow(report: Report) -> list[Finding]:
    t = report.tensorflow
    status = t.get("status")
    if status == "not installed":
        python = report.system.get("python_executable")
        return [
            Finding(
                "FAIL", f"TensorFlow is not installed in this Python ({python})", setup_fix(report)
            )
        ]
    if status != "ok":
        origin = t.get("error_origin")
        where = f" (raised by {origin})" if origin and origin != "tensorflow" else ""
        message = f"TensorFlow fails to import{where}: {t.get('error')}"
        return [Finding("FAIL", message, import_failure_fix(report))]
    version = str(report.versions.get("tensorflow"))
    findings = [Finding("PASS", f"TensorFlow {version} imports")]
    if not version.startswith(TESTED_TF + "."):
        findings.append(
            Finding(
                "WARN",
                f"TensorFlow {version} is not the tested version {TESTED_TF}.x",
                f"Update the environment: {ENV_SCRIPT} (Windows: {ENV_SCRIPT_WIN})",
            )
        )
    return findings


def diagnose_keras(report: Report) -> list[Finding]:
    v = report.versions
    backend = v.get("keras_backend") or v.get("keras_backend_configured")
    keras_version = str(v.get("keras") or "")
    findings = []
    if keras_version and keras_version[0].isdigit() and int(keras_version.split(".")[0]) < 3:
        findings.append(
            Finding(
                "WARN",
                f"Keras {keras_version} is Keras 2; the labs use Keras 3",
                f'pip install "keras>=3.10,<4"  (or {ENV_SCRIPT} --force)',
            )
        )
    if backend and backend != "tensorflow":
        source = v.get("keras_backend_source") or "the KERAS_BACKEND variable or keras.json"
        if v.get("keras_backend_installed") is False and not v.get("keras_backend"):
            problem = f"'{backend}' is not installed, so `import keras` fails in every lab"
        else:
            problem = "the labs need 'tensorflow' (their TensorFlow code fails on another backend)"
        findings.append(
            Finding(
                "FAIL",
                f"Keras is set to the '{backend}' backend (by {source}): {problem}",
                f'{env_fix("KERAS_BACKEND", "tensorflow", report)}, or set "backend": '
                f'"tensorflow" in keras.json (~/.keras/keras.json, or $KERAS_HOME/keras.json)',
            )
        )
    elif backend == "tensorflow" and v.get("keras_backend"):
        findings.append(Finding("PASS", "Keras uses the TensorFlow backend"))
    return findings


def gpu_missing_causes(report: Report) -> list[str]:
    """Likely causes of 'the driver sees a GPU, TensorFlow does not', each with its fix."""
    env = report.system.get("env") or {}
    tf_version = str(report.versions.get("tensorflow") or f"{TESTED_TF}.*")
    build = report.tensorflow.get("build") or {}
    # tensorflow-cpu and tensorflow[and-cuda] must not be installed side by side.
    others = [d for d in report.versions.get("tensorflow_distributions") or {} if d != "tensorflow"]
    uninstall = f"pip uninstall -y {' '.join(others)} && " if others else ""
    install = (
        f"{ENV_SCRIPT} --gpu --force  (it installs the locked GPU build and removes the CPU one; "
        f'by hand: {uninstall}pip install "tensorflow[and-cuda]=={tf_version}")'
    )
    causes = []
    cvd = env.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None and cvd.strip() in ("", "-1", "none", "NoDevFiles"):
        causes.append(
            f"CUDA_VISIBLE_DEVICES={cvd!r} hides every GPU. Fix: unset CUDA_VISIBLE_DEVICES"
        )
    if build.get("is_cuda_build") is False:
        causes.append(f"This TensorFlow is a CPU-only build. Fix: {install}")
    elif report.system.get("platform") == "Linux" and not report.tensorflow.get("cuda_wheels"):
        causes.append(
            "The CUDA libraries of the tensorflow[and-cuda] extra are not installed "
            f"(CPU-only setup). Fix: {install}"
        )
    ld = env.get("LD_LIBRARY_PATH") or ""
    if re.search(r"cuda|cudnn|nvidia", ld, re.IGNORECASE):
        causes.append(
            f"LD_LIBRARY_PATH={ld} points at another CUDA, which shadows the one TensorFlow "
            "needs. Fix: unset LD_LIBRARY_PATH (and remove it from ~/.bashrc)"
        )
    caps = build.get("cuda_compute_capabilities") or []
    for gpu in gpu_list(report, "driver"):
        if gpu.get("compute") and caps and cc_support(gpu["compute"], caps) == "none":
            causes.append(
                f"{gpu.get('name')} has compute capability {gpu['compute']}, which this "
                "TensorFlow build does not support (see below)"
            )
    if not causes:
        causes.append(
            "Unknown. Fix: recreate the environment with "
            f"{ENV_SCRIPT} --gpu --force, then run python main.py again"
        )
    return causes


def diagnose_gpu(report: Report) -> list[Finding]:
    driver_gpus, tf_gpus = gpu_list(report, "driver"), gpu_list(report, "tf")
    if report.tensorflow.get("status") != "ok":
        return []
    names = ", ".join(str(g.get("name")) for g in driver_gpus)
    if driver_gpus and not tf_gpus:
        log = report.tensorflow.get("log") or []
        said = ("\nTensorFlow said: " + " | ".join(log[:3])) if log else ""
        if is_windows_native(report):
            return [
                Finding(
                    "WARN",
                    f"The NVIDIA driver sees {names}, but TensorFlow >= 2.11 has no GPU "
                    "support on native Windows: the labs run on the CPU",
                    "For the GPU, use WSL2: install Ubuntu in WSL2 and run "
                    f"{ENV_SCRIPT} --gpu inside it (the Windows driver is enough)",
                )
            ]
        causes = gpu_missing_causes(report)
        return [
            Finding(
                "FAIL",
                f"The NVIDIA driver sees {names}, but TensorFlow lists no GPU: "
                f"training would run on the CPU (likely causes and fixes below).{said}",
                "\n".join(f"{i}) {cause}" for i, cause in enumerate(causes, 1)),
            )
        ]
    if "driver.gpus" in report.reasons and report.reasons["driver.gpus"].startswith(
        "nvidia-smi failed"
    ):
        return [
            Finding(
                "WARN",
                f"nvidia-smi is installed but does not work ({report.reasons['driver.gpus']})",
                "Reboot (a driver update needs one); if it persists, reinstall the NVIDIA "
                "driver. The labs also run on the CPU.",
            )
        ]
    if tf_gpus:
        listed = ", ".join(f"{g['name']} ({g.get('gpu_name')})" for g in tf_gpus)
        return [Finding("PASS", f"TensorFlow uses the GPU: {listed}")]
    return [Finding("INFO", "No GPU: TensorFlow runs on the CPU (fine for the labs, slower)")]


def diagnose_compute_capability(report: Report) -> list[Finding]:
    caps = (report.tensorflow.get("build") or {}).get("cuda_compute_capabilities") or []
    if not caps:
        return []
    seen: dict[str, str] = {}
    for gpu in gpu_list(report, "tf"):
        if gpu.get("compute"):
            seen.setdefault(str(gpu["compute"]), str(gpu.get("gpu_name") or gpu["name"]))
    for gpu in gpu_list(report, "driver"):
        if gpu.get("compute"):
            seen.setdefault(str(gpu["compute"]), str(gpu.get("name")))
    findings = []
    built = " ".join(map(str, caps))
    for cc, name in seen.items():
        support = cc_support(cc, caps)
        if support == "ptx":
            findings.append(
                Finding(
                    "WARN",
                    f"{name} (compute capability {cc}) has no native kernels in this "
                    f"TensorFlow build ({built}): they are JIT-compiled from PTX, so the "
                    "first run can take minutes",
                    "Usually fine, just wait on first use. If GPU ops fail, use a TensorFlow "
                    "release built for this GPU (see tensorflow.org/install/pip).",
                )
            )
        elif support == "none":
            findings.append(
                Finding(
                    "FAIL",
                    f"{name} has compute capability {cc}, which this TensorFlow build "
                    f"does not support ({built}): TensorFlow cannot use this GPU",
                    "Run the labs on the CPU (install with --cpu), or use a machine with "
                    "a supported GPU.",
                )
            )
    return findings


def diagnose_metal(report: Report) -> list[Finding]:
    s, v = report.system, report.versions
    if s.get("platform") != "Darwin" or not v.get("tensorflow-metal"):
        return []
    if report.tensorflow.get("status") == "ok" and not gpu_list(report, "tf"):
        return [
            Finding(
                "WARN",
                f"tensorflow-metal {v['tensorflow-metal']} is installed but TensorFlow lists "
                "no GPU (it is known to break with TensorFlow 2.18+)",
                "pip uninstall -y tensorflow-metal  (the labs run on the CPU), or rerun "
                f"{ENV_SCRIPT} --metal --force",
            )
        ]
    return []


def diagnose_smoke(report: Report) -> list[Finding]:
    findings = []
    for entry in report.smoke or []:
        if entry.get("ok"):
            findings.append(Finding("PASS", f"Smoke test (matmul) correct on {entry['device']}"))
        else:
            findings.append(
                Finding(
                    "FAIL",
                    f"Smoke test failed on {entry['device']}: {entry.get('error')}",
                    "Rerun main.py; if it persists on a GPU, check nvidia-smi, reboot, and "
                    f"recreate the environment ({ENV_SCRIPT} --force).",
                )
            )
    if report.smoke is None and report.tensorflow.get("status") == "ok":
        reason = report.reasons.get("smoke", "not run")
        findings.append(Finding("FAIL", f"Smoke test could not run: {reason}", setup_fix(report)))
    return findings


def diagnose_datasets(report: Report) -> list[Finding]:
    """Each required dataset must be found and match its checksums; READY means ready."""
    if report.datasets is None:
        reason = report.reasons.get("datasets", "not checked")
        if report.tensorflow.get("status") != "ok":
            return [Finding("INFO", "Datasets not checked: set up the environment first")]
        return [
            Finding(
                "FAIL",
                f"Could not check the datasets, so the labs cannot load them either: {reason}",
                f"Update the environment ({ENV_SCRIPT} --force), then {FETCH_CMD}",
            )
        ]
    return [f for name, info in report.datasets.items() for f in dataset_findings(name, info)]


def dataset_findings(name: str, info: dict[str, Any]) -> list[Finding]:
    """The verdict on one dataset: missing, corrupt, found only through LABKIT_DATA_DIR, or ok."""
    required, path = info.get("required"), info.get("path")
    offline = f"{FETCH_CMD} {name} --from FOLDER  (a copy on a USB stick or a share)"
    if not path:
        if not required:
            return [
                Finding("INFO", f"Optional dataset {name} is not downloaded ({FETCH_CMD} {name})")
            ]
        return [
            Finding(
                "FAIL",
                f"Dataset {name} is missing (the labs need it)",
                f"{FETCH_CMD}  (needs internet)\nor: {offline}",
            )
        ]
    if info.get("verified") is False:
        return [
            Finding(
                "FAIL" if required else "WARN",
                f"Dataset {name} in {path} is corrupt or unreadable: "
                + str(info.get("error") or "it does not match its checksums"),
                f"{FETCH_CMD} {name}  (puts a verified copy in data/; needs internet)\n"
                f"or: {offline}",
            )
        ]
    findings = [
        Finding(
            "PASS",
            f"Dataset {name} verified ({len(info.get('files') or [])} files, SHA-256) in {path}",
        )
    ]
    if info.get("found_through") == settings.DATA_DIR.name:
        findings.append(
            Finding(
                "WARN",
                f"Dataset {name} is found only through LABKIT_DATA_DIR: a new terminal, a "
                "Jupyter kernel or the tests started without the variable will not find it",
                f"{FETCH_CMD}  (copies it into data/, where it is found with no setting)",
            )
        )
    return findings


def diagnose_memory(report: Report) -> list[Finding]:
    total = report.system.get("ram_total_gib")
    if total is not None and total < 7.5:
        return [
            Finding(
                "WARN",
                f"Only {total} GiB of RAM: the larger labs may run out of memory",
                "Close other programs while training, and use the labs' fast mode.",
            )
        ]
    return []


def diagnose(report: Report) -> list[Finding]:
    """Every check, in report order. Pure: reads only the report."""
    findings = diagnose_python(report) + diagnose_distributions(report)
    findings += diagnose_tensorflow(report) + diagnose_keras(report)
    findings += diagnose_gpu(report) + diagnose_compute_capability(report)
    findings += diagnose_metal(report) + diagnose_smoke(report)
    findings += diagnose_datasets(report) + diagnose_memory(report)
    return findings


def exit_code(findings: list[Finding]) -> int:
    """0 when everything required works (no FAIL), 1 otherwise."""
    return 1 if any(f.level == "FAIL" for f in findings) else 0
