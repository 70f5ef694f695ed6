"""Tests for labkit.install.doctor (what ``python main.py`` reports).

The diagnosis is tested on constructed reports; main.py itself runs in subprocesses:
with TensorFlow (JSON and human report), with a fake ``nvidia-smi`` that lists a GPU
TensorFlow cannot see, with a Python that cannot import TensorFlow, and with Pythons or
checkouts where labkit cannot run at all (the JSON stays valid).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, SHARED_DATASETS

from labkit import startup_log
from labkit.install.doctor import Finding, Report, diagnose, exit_code, probes, render
from labkit.install.doctor.diagnosis import cc_support
from labkit.install.doctor.report import Unavailable, probe

REPO = REPO_ROOT
MAIN = REPO / "main.py"
BUILD_CAPS = ["sm_60", "sm_70", "sm_80", "sm_89", "compute_90"]
HAS_TF = importlib.util.find_spec("tensorflow") is not None
FAKE_GPU = {"name": "NVIDIA GeForce RTX 3060", "driver_version": "550.54", "memory": "12288 MiB"}


def healthy_report() -> Report:
    """A CPU-only Linux machine where everything works."""
    report = Report()
    report.versions = {
        "python": "3.12.3",
        "tensorflow": "2.21.0",
        "keras": "3.15.1",
        "keras_backend": "tensorflow",
        "keras_backend_configured": "tensorflow",
        "numpy": "2.1.0",
        "tensorflow-metal": None,
        "tensorflow_distributions": {"tensorflow": "2.21.0"},
        "keras_backend_source": "the default",
        "keras_backend_installed": True,
    }
    report.system = {
        "platform": "Linux",
        "machine": "x86_64",
        "wsl": False,
        "ram_total_gib": 16.0,
        "python_executable": "/home/me/.venv/bin/python",
        "env": dict.fromkeys(probes.ENV_VARS),
    }
    report.tensorflow = {
        "status": "ok",
        "error": None,
        "devices": [{"name": "CPU:0", "type": "CPU"}],
        "build": {
            "is_cuda_build": True,
            "cuda_version": "12.5.1",
            "cudnn_version": "9",
            "cuda_compute_capabilities": list(BUILD_CAPS),
        },
        "cuda_wheels": {},
        "log": [],
        "log_harmless": [],
    }
    report.driver = {"gpus": None}
    report.reasons["driver.gpus"] = "no NVIDIA driver found (nvidia-smi is not on PATH)"
    found = {"verified": True, "error": None, "found_through": "repository", "files": ["a"]}
    report.datasets = {
        "fashion-mnist": {"required": True, "path": "/repo/data/fashion-mnist", **found},
        "atis": {"required": True, "path": "/repo/data/atis", **found},
        "mnist": {"required": False, "path": None, "verified": None, "files": []},
    }
    report.smoke = [{"device": "CPU:0", "ok": True, "rel_error": 1e-7, "error": None, "ms": 2.0}]
    return report


def with_driver_gpu(report: Report, compute: str = "8.6") -> Report:
    """The NVIDIA driver lists one GPU."""
    report.driver = {"gpus": [dict(FAKE_GPU, compute=compute)]}
    report.reasons.pop("driver.gpus", None)
    return report


def levels(findings: list[Finding], level: str) -> list[Finding]:
    return [f for f in findings if f.level == level]


def only(findings: list[Finding], level: str) -> Finding:
    matching = levels(findings, level)
    assert len(matching) == 1, findings
    return matching[0]


# ---------------------------------------------------------------------------- diagnosis


def test_healthy_report_passes() -> None:
    findings = diagnose(healthy_report())
    assert not levels(findings, "FAIL") and not levels(findings, "WARN"), findings
    assert exit_code(findings) == 0
    assert any("Smoke test" in f.message for f in levels(findings, "PASS"))


def test_driver_sees_gpu_tensorflow_does_not_is_fail_with_install_fix() -> None:
    findings = diagnose(with_driver_gpu(healthy_report()))
    fail = only(findings, "FAIL")
    assert "RTX 3060" in fail.message and "TensorFlow lists no GPU" in fail.message
    assert 'pip install "tensorflow[and-cuda]==2.21.0"' in fail.fix
    assert "Scripts/environment.sh --gpu" in fail.fix
    assert exit_code(findings) == 1


def test_gpu_missing_quotes_tensorflow_log() -> None:
    report = with_driver_gpu(healthy_report())
    report.tensorflow["log"] = [
        "Could not find cuda drivers on your machine, GPU will not be used."
    ]
    assert "Could not find cuda drivers" in only(diagnose(report), "FAIL").message


def test_gpu_missing_blames_stale_ld_library_path() -> None:
    report = with_driver_gpu(healthy_report())
    report.tensorflow["cuda_wheels"] = {"nvidia-cudnn-cu12": "9.3.0"}
    report.system["env"]["LD_LIBRARY_PATH"] = "/usr/local/cuda-11.8/lib64"
    fail = only(diagnose(report), "FAIL")
    assert "unset LD_LIBRARY_PATH" in fail.fix
    assert "tensorflow[and-cuda]" not in fail.fix  # the wheels are there: not the cause


def test_gpu_missing_blames_cuda_visible_devices() -> None:
    report = with_driver_gpu(healthy_report())
    report.tensorflow["cuda_wheels"] = {"nvidia-cudnn-cu12": "9.3.0"}
    report.system["env"]["CUDA_VISIBLE_DEVICES"] = "-1"
    assert "unset CUDA_VISIBLE_DEVICES" in only(diagnose(report), "FAIL").fix


def test_gpu_missing_on_cpu_only_build() -> None:
    report = with_driver_gpu(healthy_report())
    report.tensorflow["build"]["is_cuda_build"] = False
    fail = only(diagnose(report), "FAIL")
    assert "CPU-only build" in fail.fix and "tensorflow[and-cuda]==2.21.0" in fail.fix


def test_gpu_missing_on_native_windows_points_to_wsl2() -> None:
    report = with_driver_gpu(healthy_report())
    report.system["platform"] = "Windows"
    findings = diagnose(report)
    assert not levels(findings, "FAIL")
    warn = only(findings, "WARN")
    assert "native Windows" in warn.message and "WSL2" in warn.fix


@pytest.mark.parametrize(
    ("compute", "expected"),
    [
        ("8.0", "native"),
        ("8.6", "native"),  # sm_80 binaries run on 8.x
        ("7.5", "native"),
        ("8.9", "native"),
        ("9.0", "ptx"),  # only compute_90 PTX: JIT-compiled
        ("12.0", "ptx"),
        ("5.2", "none"),
        ("3.7", "none"),
    ],
)
def test_cc_support(compute: str, expected: str) -> None:
    assert cc_support(compute, BUILD_CAPS) == expected


def test_cc_support_accepts_dotted_and_arch_specific_forms() -> None:
    assert cc_support("8.6", ["8.0", "9.0"]) == "native"
    assert cc_support("9.0", ["sm_90a"]) == "native"
    assert cc_support("10.0", ["sm_90a"]) == "none"
    assert cc_support("10.0", ["sm_100", "compute_120"]) == "native"


def test_tf_gpu_with_unsupported_compute_capability_fails() -> None:
    report = healthy_report()
    report.tensorflow["devices"].append(
        {"name": "GPU:0", "type": "GPU", "gpu_name": "Tesla K80", "compute": "3.7"}
    )
    fail = only(diagnose(report), "FAIL")
    assert "3.7" in fail.message and "sm_60" in fail.message and "Tesla K80" in fail.message


def test_driver_gpu_too_old_is_named_as_the_cause() -> None:
    report = with_driver_gpu(healthy_report(), compute="5.0")
    findings = diagnose(report)
    assert any("5.0" in f.fix for f in levels(findings, "FAIL"))
    assert any("does not support" in f.message for f in levels(findings, "FAIL"))


def test_ptx_only_gpu_warns() -> None:
    report = healthy_report()
    report.tensorflow["devices"].append(
        {"name": "GPU:0", "type": "GPU", "gpu_name": "NVIDIA H100", "compute": "9.0"}
    )
    report.smoke.append({"device": "GPU:0", "ok": True, "rel_error": 1e-4, "ms": 1.0})
    findings = diagnose(report)
    assert "PTX" in only(findings, "WARN").message
    assert exit_code(findings) == 0


def test_keras_on_another_backend_fails() -> None:
    report = healthy_report()
    report.versions["keras_backend"] = "jax"
    report.versions["keras_backend_source"] = "the KERAS_BACKEND variable"
    findings = diagnose(report)
    fail = only(findings, "FAIL")
    assert "'jax'" in fail.message and "the KERAS_BACKEND variable" in fail.message
    assert "export KERAS_BACKEND=tensorflow" in fail.fix and "keras.json" in fail.fix
    assert exit_code(findings) == 1


def test_keras_backend_that_is_not_installed_fails() -> None:
    report = healthy_report()
    report.versions.update(
        keras_backend=None, keras_backend_configured="jax", keras_backend_installed=False
    )
    report.system["platform"] = "Windows"
    fail = only(diagnose(report), "FAIL")
    assert "'jax' is not installed, so `import keras` fails in every lab" in fail.message
    assert "set KERAS_BACKEND=tensorflow" in fail.fix  # the Windows form


def test_keras_backend_falls_back_to_configured_when_keras_does_not_import() -> None:
    report = healthy_report()
    report.versions["keras_backend"] = None
    report.versions["keras_backend_configured"] = "torch"
    assert "'torch'" in only(diagnose(report), "FAIL").message


def test_missing_required_dataset_fails_with_fetch_command() -> None:
    report = healthy_report()
    report.datasets["atis"].update(path=None, verified=None)
    findings = diagnose(report)
    fail = only(findings, "FAIL")
    assert "atis" in fail.message and "python -m labkit data fetch" in fail.fix
    assert "--from FOLDER" in fail.fix
    assert exit_code(findings) == 1


@pytest.mark.parametrize("required", [True, False])
def test_corrupt_dataset_fails_when_required(required: bool) -> None:
    report = healthy_report()
    report.datasets["atis"].update(
        required=required, verified=False, error="/repo/data/atis/x.csv is corrupt\nRun ..."
    )
    findings = diagnose(report)
    finding = only(findings, "FAIL" if required else "WARN")
    assert "Dataset atis in /repo/data/atis is corrupt" in finding.message
    assert "x.csv is corrupt" in finding.message
    assert "python -m labkit data fetch atis" in finding.fix
    assert exit_code(findings) == (1 if required else 0)


def test_verified_dataset_passes_and_one_found_only_through_the_variable_warns() -> None:
    report = healthy_report()
    report.datasets["atis"]["found_through"] = "LABKIT_DATA_DIR"
    findings = diagnose(report)
    assert any(f.message.startswith("Dataset atis verified") for f in levels(findings, "PASS"))
    warn = only(findings, "WARN")
    assert "only through LABKIT_DATA_DIR" in warn.message and "copies it into data/" in warn.fix
    assert exit_code(findings) == 0


def test_missing_optional_dataset_is_informational() -> None:
    findings = diagnose(healthy_report())
    assert any("mnist" in f.message for f in levels(findings, "INFO"))
    assert not any(
        "mnist" in f.message for f in levels(findings, "FAIL") + levels(findings, "WARN")
    )


def test_datasets_that_cannot_be_checked_fail() -> None:
    report = healthy_report()
    report.datasets = None
    report.reasons["datasets"] = "unavailable (labkit.datasets did not import: ImportError: x)"
    findings = diagnose(report)
    assert "labkit.datasets did not import" in only(findings, "FAIL").message
    assert exit_code(findings) == 1


@pytest.mark.parametrize(
    ("version", "ok"),
    [("3.9.18", False), ("3.10.0", True), ("3.13.1", True), ("3.14.0", False)],
)
def test_python_support(version: str, ok: bool) -> None:
    report = healthy_report()
    report.versions["python"] = version
    findings = diagnose(report)
    assert exit_code(findings) == (0 if ok else 1)
    if not ok:
        assert "3.10-3.13" in only(findings, "FAIL").message


def test_tensorflow_not_installed() -> None:
    report = healthy_report()
    report.tensorflow = {"status": "not installed", "error": None, "cuda_wheels": {}, "log": []}
    report.smoke = None
    fail = only(diagnose(report), "FAIL")
    assert "not installed" in fail.message and "bash Scripts/environment.sh" in fail.fix
    report.system["platform"] = "Windows"
    assert r"Scripts\environment.bat" in only(diagnose(report), "FAIL").fix
    report.system["setup_python"] = "/repo/.venv/bin/python"
    assert "/repo/.venv/bin/python main.py" in only(diagnose(report), "FAIL").fix


def failed_import(error: str, origin: str, **details: str) -> Report:
    """A report where ``import tensorflow`` raised ``error`` in the package ``origin``."""
    report = healthy_report()
    report.tensorflow = {"status": "import failed", "error": error, "error_origin": origin}
    report.tensorflow.update(details)
    report.smoke = None
    return report


def test_tensorflow_import_failure_shows_error() -> None:
    report = failed_import("ImportError: DLL load failed", "tensorflow")
    fail = only(diagnose(report), "FAIL")
    assert "DLL load failed" in fail.message and "Visual C++" in fail.fix


def test_import_failure_caused_by_an_environment_variable_names_it() -> None:
    error = "ValueError: Key backend: 'nonsense' is not a valid value for backend; ..."
    report = failed_import(error, "matplotlib")
    report.system["env"]["MPLBACKEND"] = "nonsense"
    fail = only(diagnose(report), "FAIL")
    assert "(raised by matplotlib)" in fail.message
    assert "unset MPLBACKEND" in fail.fix and "--force" not in fail.fix


def test_import_failure_in_another_package_says_to_reinstall_that_package() -> None:
    error = "AttributeError: module 'google.protobuf' has no attribute 'x'"
    fail = only(diagnose(failed_import(error, "google", error_origin_dist="protobuf")), "FAIL")
    assert "reinstalling TensorFlow will not fix it" in fail.fix
    assert "install --force-reinstall protobuf" in fail.fix


def test_smoke_test_mismatch_fails() -> None:
    report = healthy_report()
    report.smoke[0].update(ok=False, error="result differs from NumPy (relative error 0.5)")
    fail = only(diagnose(report), "FAIL")
    assert "CPU:0" in fail.message and "differs" in fail.message


def test_metal_installed_without_gpu_warns() -> None:
    report = healthy_report()
    report.system.update(platform="Darwin", machine="arm64")
    report.versions["tensorflow-metal"] = "1.2.0"
    warn = only(diagnose(report), "WARN")
    assert "tensorflow-metal" in warn.message and "pip uninstall" in warn.fix


# ---------------------------------------------------------------------------- TensorFlow wheels


def test_two_tensorflow_distributions_fail_with_the_fix() -> None:
    report = healthy_report()
    report.versions["tensorflow_distributions"] = {
        "tensorflow": "2.21.0",
        "tensorflow-cpu": "2.21.0",
    }
    findings = diagnose(report)
    fail = only(findings, "FAIL")
    assert "tensorflow 2.21.0 and tensorflow-cpu 2.21.0" in fail.message
    assert "overwrite each other's files" in fail.message
    assert "-m pip uninstall -y tensorflow tensorflow-cpu" in fail.fix
    assert "bash Scripts/environment.sh --force" in fail.fix
    assert exit_code(findings) == 1


def fake_distribution(site: Path, name: str, version: str, files: list[str]) -> None:
    """A ``NAME-VERSION.dist-info`` folder whose RECORD lists ``files``."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in [*files, f"{info.name}/RECORD"]))


def test_tensorflow_distributions_counts_those_that_install_tensorflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution(tmp_path, "tensorflow-cpu", "2.21.0", ["tensorflow/__init__.py"])
    fake_distribution(tmp_path, "tensorflow-macos", "2.16.2", [])  # a shim: installs nothing
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert probes.tensorflow_distributions() == {"tensorflow-cpu": "2.21.0"}
    assert probes.tensorflow_dist({"tensorflow-cpu": "2.21.0"}) == "2.21.0 (tensorflow-cpu)"


def test_cpu_only_wheel_with_a_driver_gpu_says_to_uninstall_it_first() -> None:
    report = with_driver_gpu(healthy_report())
    report.versions["tensorflow_distributions"] = {"tensorflow-cpu": "2.21.0"}
    report.tensorflow["build"] = {"is_cuda_build": False}
    fail = only(diagnose(report), "FAIL")
    assert "CPU-only build" in fail.fix
    assert (
        'pip uninstall -y tensorflow-cpu && pip install "tensorflow[and-cuda]==2.21.0"' in fail.fix
    )


@pytest.mark.parametrize("cuda_build", [True, False], ids=["tensorflow", "tensorflow-cpu"])
def test_report_of_a_machine_without_gpu_shows_no_gpu_problem(cuda_build: bool) -> None:
    report = healthy_report()
    report.versions["tensorflow_distributions"] = {
        ("tensorflow" if cuda_build else "tensorflow-cpu"): "2.21.0"
    }
    report.tensorflow["build"]["is_cuda_build"] = cuda_build
    startup = (
        "I0000 00:00:1.2 42 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n"
        "E0000 00:00:1.3 42 cuda_executor.cc:1] failed call to cuInit: UNKNOWN ERROR (303)\n"
        "I0000 00:00:1.4 42 port.cc:153] oneDNN custom operations are on.\n"
    )
    report.tensorflow["log"], report.tensorflow["log_harmless"] = startup_log.sort_lines(
        startup, gpu_expected=False
    )
    report.diagnosis = diagnose(report)
    text = render.format_human(report)
    assert "READY (0 FAIL, 0 WARN)" in text
    for gpu_problem in ("cuda build", "cuInit", "Could not find cuda", "NVIDIA driver =="):
        assert gpu_problem not in text, gpu_problem
    assert "3 routine TensorFlow start-up messages, known to be harmless" in text
    assert ("CPU-only build" in text) != cuda_build
    assert f"2.21.0 ({'tensorflow' if cuda_build else 'tensorflow-cpu'})" in text


def test_startup_lines_about_cuda_are_notable_only_where_a_gpu_is_expected() -> None:
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1.2 42 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n"
        "E0000 00:00:1.3 42 cuda_executor.cc:1] failed call to cuInit: UNKNOWN ERROR (303)\n"
        "W0000 00:00:1.4 42 trt.cc:1] TF-TRT Warning: Could not find TensorRT\n"
        "E0000 00:00:1.5 42 something.cc:9] Something else broke\n"
    )
    notable, harmless = startup_log.sort_lines(text, gpu_expected=False)
    assert notable == ["Something else broke"] and len(harmless) == 4
    notable, _ = startup_log.sort_lines(text, gpu_expected=True)
    assert notable == [
        "Could not find cuda drivers on your machine.",
        "failed call to cuInit: UNKNOWN ERROR (303)",
        "Something else broke",
    ]


# ---------------------------------------------------------------------------- plumbing


def test_probe_records_reason_and_strict_mode_raises() -> None:
    report = Report()

    def broken() -> None:
        raise OSError("disk on fire")

    def explained() -> None:
        raise Unavailable("not installed")

    assert probe(report, "system.cpu", broken) is None
    assert report.system["cpu"] is None
    assert report.reasons["system.cpu"] == "unavailable (OSError: disk on fire)"
    probe(report, "versions.pandas", explained)
    assert report.reasons["versions.pandas"] == "not installed"
    with pytest.raises(OSError):
        probe(report, "system.cpu", broken, strict=True)


def test_captured_stderr_catches_native_writes() -> None:
    sink: list[str] = []
    with startup_log.captured_stderr(sink):
        os.write(2, b"E0000 00:00:1.2 42 cudart_stub.cc:31] Could not find cuda drivers\n")
    assert "cudart_stub" in sink[0]
    assert startup_log.sort_lines(sink[0], gpu_expected=True)[0] == ["Could not find cuda drivers"]


@pytest.mark.skipif(os.name == "nt", reason="uses a shell script as fake nvidia-smi")
def test_nvidia_smi_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA A100-SXM4-80GB, 550.54.15, 81920 MiB, 8.0'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    gpus = probes.nvidia_smi_gpus(probes.start_nvidia_smi())
    assert gpus == [
        {
            "name": "NVIDIA A100-SXM4-80GB",
            "driver_version": "550.54.15",
            "memory": "81920 MiB",
            "compute": "8.0",
        }
    ]


def test_json_and_human_rendering_of_constructed_report() -> None:
    report = with_driver_gpu(healthy_report())
    report.diagnosis = diagnose(report)
    data = json.loads(render.to_json(report))
    assert data["exit_code"] == 1 and data["ok"] is False
    assert data["diagnosis"][0].keys() == {"level", "message", "fix"}
    text = render.format_human(report)
    for title in ("Versions", "System", "TensorFlow devices", "NVIDIA driver", "Build"):
        assert f"== {title} ==" in text
    assert "RTX 3060" in text and "fix: 1) " in text and "NOT READY" in text
    assert "notebook" not in text  # the labs use JupyterLab only


# ---------------------------------------------------------------------------- main.py


def main_env(**env: str) -> dict[str, str]:
    environ = {**os.environ, **env}
    environ.pop("TF_CPP_MIN_LOG_LEVEL", None)  # main.py must quiet TensorFlow itself
    if "LABKIT_DATA_DIR" not in env and SHARED_DATASETS.is_dir():
        environ["LABKIT_DATA_DIR"] = str(SHARED_DATASETS)
    return environ


def run_main(*args: str, python: str = sys.executable, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, *args], capture_output=True, text=True, env=main_env(**env), timeout=120, cwd=REPO
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """The report four times, concurrently (each takes about a TensorFlow import):

    "json": ``main.py --json --debug`` as is; "human": ``python -m labkit doctor --bench``
    with a fake ``nvidia-smi`` on PATH that lists a GPU (which TensorFlow cannot see on this
    machine), run from a copy of labkit without data/, so that a copy of ATIS with one empty
    file (in LABKIT_DATA_DIR) is the only one it can find; "mpl" and
    "jax": ``python -m labkit doctor --json`` with MPLBACKEND=nonsense (TensorFlow's import
    fails in matplotlib) and with KERAS_BACKEND=jax (not installed).
    """
    if not HAS_TF:
        pytest.skip("TensorFlow is not installed")
    fake_dir = tmp_path_factory.mktemp("fake-driver")
    fake = fake_dir / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA GeForce RTX 3060, 550.54, 12288 MiB, 8.6'\n")
    fake.chmod(0o755)
    corrupt = tmp_path_factory.mktemp("corrupt-data")
    (corrupt / "atis").mkdir()
    for name in probes_atis_files():
        (corrupt / "atis" / name).write_text("0\n")
    (corrupt / "atis" / "atis.test.intent.csv").write_bytes(b"")
    checkout = tmp_path_factory.mktemp("checkout")  # no data/ there: the corrupt copy is found
    shutil.copytree(REPO / "labkit", checkout / "labkit", ignore=shutil.ignore_patterns("__py*"))
    shutil.copy(REPO / "pyproject.toml", checkout)
    commands = {
        "json": ([str(MAIN), "--json", "--debug"], main_env()),
        "human": (
            ["-m", "labkit", "doctor", "--bench", "--debug"],
            main_env(
                PATH=f"{fake_dir}{os.pathsep}{os.environ['PATH']}", LABKIT_DATA_DIR=str(corrupt)
            ),
        ),
        "mpl": (["-m", "labkit", "doctor", "--json"], main_env(MPLBACKEND="nonsense")),
        "jax": (["-m", "labkit", "doctor", "--json"], main_env(KERAS_BACKEND="jax")),
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "PYTHONPATH": str(checkout if name == "human" else REPO)},
            cwd=checkout if name == "human" else REPO,
        )
        for name, (args, env) in commands.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        results[name] = (proc.returncode, out, err)
    return results


def probes_atis_files() -> list[str]:
    from labkit.datasets import atis

    return list(atis.DATASET.files)


def test_main_json_reports_tensorflow_and_cpu(runs: dict) -> None:
    rc, out, err = runs["json"]
    data = json.loads(out)
    installed = probes.tensorflow_distributions()
    assert data["versions"]["tensorflow_distributions"] == installed
    assert data["versions"]["tensorflow"] == next(iter(installed.values()))
    assert data["tensorflow"]["status"] == "ok"
    assert {"name": "CPU:0", "type": "CPU"} in data["tensorflow"]["devices"]
    assert data["smoke"][0]["ok"] is True
    assert rc == data["exit_code"]
    assert err.strip() == ""
    # every null has its reason
    for section in ("versions", "system", "tensorflow", "driver"):
        for key, value in data[section].items():
            if value is None:
                assert f"{section}.{key}" in data["reasons"], (section, key)


def test_main_json_exit_code_follows_verified_datasets(runs: dict) -> None:
    rc, out, _ = runs["json"]
    data = json.loads(out)
    assert isinstance(data["datasets"], dict), data["reasons"].get("datasets")
    required = [d for d in data["datasets"].values() if d["required"]]
    fails = [f for f in data["diagnosis"] if f["level"] == "FAIL"]
    if all(d["path"] and d["verified"] for d in required):
        assert rc == 0, fails
    else:
        assert rc == 1
        assert any("python -m labkit data fetch" in f["fix"] for f in fails)


def test_main_without_a_gpu_classifies_the_cuda_startup_messages(runs: dict) -> None:
    _, out, _ = runs["json"]
    data = json.loads(out)
    if data["driver"]["gpus"] or probes.find_nvidia_smi():
        pytest.skip("this machine has an NVIDIA driver")
    assert not [line for line in data["tensorflow"]["log"] if "cuda" in line.lower()]
    assert not [
        f for f in data["diagnosis"] if f["level"] in ("WARN", "FAIL") and "GPU" in f["message"]
    ]


def test_labkit_doctor_human_report_has_no_tensorflow_noise(runs: dict) -> None:
    _, out, err = runs["human"]
    for title in ("System", "TensorFlow devices", "NVIDIA driver", "Benchmark", "Diagnosis"):
        assert f"== {title} ==" in out, title
    assert "GFLOP/s" in out
    for noise in ("cudart_stub", "oneDNN", "I0000 ", "E0000 ", "absl::", "Traceback"):
        assert noise not in out + err, noise
    assert err.strip() == ""


def test_labkit_doctor_reports_a_corrupt_dataset_as_a_failure(runs: dict) -> None:
    rc, out, _ = runs["human"]
    assert rc == 1
    assert re.search(r"\n  atis +: CORRUPT or unreadable, in ", out)
    assert "FAIL  Dataset atis in " in out and "is corrupt or unreadable" in out
    assert "fix: python -m labkit data fetch atis" in out


@pytest.mark.skipif(os.name == "nt", reason="fake nvidia-smi is a shell script")
def test_main_with_fake_driver_gpu_fails_with_fix(runs: dict) -> None:
    rc, out, _ = runs["human"]
    if "TensorFlow uses the GPU" in out or "cuda wheels    : nvidia" in out:
        pytest.skip("needs a machine where TensorFlow sees no GPU and lacks the CUDA wheels")
    assert rc == 1
    assert "NVIDIA GeForce RTX 3060, 12288 MiB, compute capability 8.6" in out
    assert "FAIL  The NVIDIA driver sees NVIDIA GeForce RTX 3060" in out
    assert 'pip install "tensorflow[and-cuda]==' in out
    if re.search(r"cuda build +: yes", out):  # tensorflow-cpu prints no CUDA message at all
        assert "start-up log" in out and "Could not find cuda drivers" in out  # notable here


def test_a_bad_mplbackend_is_named_as_the_cause_of_the_failed_import(runs: dict) -> None:
    rc, out, _ = runs["mpl"]
    fail = next(f for f in json.loads(out)["diagnosis"] if f["level"] == "FAIL")
    assert rc == 1 and "TensorFlow fails to import (raised by matplotlib)" in fail["message"]
    assert "unset MPLBACKEND" in fail["fix"] and "--force" not in fail["fix"]


def test_keras_backend_jax_without_jax_fails(runs: dict) -> None:
    rc, out, _ = runs["jax"]
    data = json.loads(out)
    if data["versions"]["keras_backend_installed"]:
        pytest.skip("JAX is installed here")
    messages = [f["message"] for f in data["diagnosis"] if f["level"] == "FAIL"]
    assert rc == 1 and any("'jax' is not installed" in m for m in messages), messages


def test_main_without_tensorflow_is_plain() -> None:
    # sys.modules["tensorflow"] = None makes `import tensorflow` fail as if not installed.
    code = (
        "import runpy, sys; sys.modules['tensorflow'] = None; "
        f"sys.argv = [{str(MAIN)!r}]; runpy.run_path({str(MAIN)!r}, run_name='__main__')"
    )
    proc = run_main("-c", code)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "FAIL  TensorFlow is not installed" in proc.stdout
    assert "Scripts/environment.sh" in proc.stdout


def test_main_with_system_python_without_tensorflow() -> None:
    python = "/usr/bin/python3"
    if not Path(python).is_file():
        pytest.skip("no system python3")
    probe_tf = subprocess.run([python, "-c", "import tensorflow"], capture_output=True)
    if probe_tf.returncode == 0:
        pytest.skip("the system python3 has TensorFlow")
    proc = run_main(str(MAIN), python=python)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    said = ("TensorFlow is not installed", "Cannot import labkit", "not the workshop's Python")
    assert any(words in proc.stdout for words in said)  # the last where the setup has run


def test_main_json_is_valid_when_python_is_too_old() -> None:
    code = (
        "import runpy, sys; sys.version_info = (3, 9, 18, 'final', 0); "
        f"sys.argv = [{str(MAIN)!r}, '--json']; runpy.run_path({str(MAIN)!r}, run_name='__main__')"
    )
    proc = run_main("-c", code)
    data = json.loads(proc.stdout)
    assert proc.returncode == 1 and data["exit_code"] == 1 and data["ok"] is False
    assert "Python 3.9.18 is too old" in data["diagnosis"][0]["message"]
    human = run_main("-c", code.replace(", '--json'", ""))
    assert human.stdout.startswith("FAIL  Python 3.9.18 is too old")


def test_main_json_is_valid_when_labkit_cannot_be_imported(tmp_path: Path) -> None:
    lonely = tmp_path / "main.py"
    shutil.copy(MAIN, lonely)
    env = {k: v for k, v in main_env().items() if k != "PYTHONPATH"}
    proc = subprocess.run(  # -S: no site-packages, so no installed labkit either
        [sys.executable, "-S", str(lonely), "--json"], capture_output=True, text=True, env=env
    )
    data = json.loads(proc.stdout)
    assert proc.returncode == 1 and data["exit_code"] == 1
    assert "Cannot import labkit" in data["diagnosis"][0]["message"]


def test_main_with_another_python_than_the_setup_recorded_names_the_right_one(
    tmp_path: Path,
) -> None:
    """The issue's case: a .venv whose python links to the system's python3, and main.py run
    with that python3. Environments are compared, so the link does not fool it."""
    repo = tmp_path / "a clone"
    repo.mkdir()
    shutil.copy(MAIN, repo / "main.py")
    venv = repo / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    made = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    (repo / ".labkit-python").write_text(f"{made}\n")
    base = os.path.realpath(made)  # the interpreter the venv's python links to
    env = {k: v for k, v in main_env().items() if k != "PYTHONPATH"}
    for args, fix in [([], f'"{made}" main.py'), (["--json"], f'"{made}" main.py --json')]:
        proc = subprocess.run(
            [base, "-S", str(repo / "main.py"), *args], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 1, proc.stderr
        said = json.loads(proc.stdout)["diagnosis"][0] if args else None
        if said is None:
            assert proc.stdout.startswith("FAIL  This is not the workshop's Python")
            assert f"fix: run: {fix}" in proc.stdout
        else:
            assert said["message"].startswith("This is not the workshop's Python")
            assert said["fix"] == f"run: {fix}"
    # The recorded Python itself goes on to the checks (here: no labkit beside this main.py).
    proc = subprocess.run(
        [str(made), "-S", str(repo / "main.py")], capture_output=True, text=True, env=env
    )
    assert "not the workshop's Python" not in proc.stdout and "Cannot import labkit" in proc.stdout
