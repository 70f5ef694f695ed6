"""Tests for labkit.doctor (what ``python main.py`` reports).

The diagnosis is tested on constructed reports; main.py itself runs in subprocesses:
with TensorFlow (JSON and human report), with a fake ``nvidia-smi`` that lists a GPU
TensorFlow cannot see, and with a Python that cannot import TensorFlow.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labkit import doctor
from labkit.doctor import Finding, Report, cc_support, diagnose, exit_code

REPO = Path(__file__).resolve().parents[1]
MAIN = REPO / "main.py"
SHARED_DATA = Path("/work/shared/datasets")
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
    }
    report.system = {
        "platform": "Linux",
        "machine": "x86_64",
        "wsl": False,
        "ram_total_gib": 16.0,
        "python_executable": "/home/me/.venv/bin/python",
        "env": dict.fromkeys(doctor.ENV_VARS),
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
    }
    report.driver = {"gpus": None}
    report.reasons["driver.gpus"] = "nvidia-smi not found (no NVIDIA driver, or not on PATH)"
    report.datasets = {
        "fashion-mnist": {"required": True, "path": "/data/fashion-mnist", "files": []},
        "atis": {"required": True, "path": "/data/atis", "files": []},
        "mnist": {"required": False, "path": None, "files": []},
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


def test_keras_on_another_backend_warns() -> None:
    report = healthy_report()
    report.versions["keras_backend"] = "jax"
    findings = diagnose(report)
    warn = only(findings, "WARN")
    assert "'jax'" in warn.message
    assert "export KERAS_BACKEND=tensorflow" in warn.fix and "keras.json" in warn.fix
    assert exit_code(findings) == 0


def test_keras_backend_falls_back_to_configured_when_keras_does_not_import() -> None:
    report = healthy_report()
    report.versions["keras_backend"] = None
    report.versions["keras_backend_configured"] = "torch"
    assert "'torch'" in only(diagnose(report), "WARN").message


def test_missing_required_dataset_fails_with_fetch_command() -> None:
    report = healthy_report()
    report.datasets["atis"]["path"] = None
    findings = diagnose(report)
    fail = only(findings, "FAIL")
    assert "atis" in fail.message and "python -m labkit data fetch" in fail.fix
    assert exit_code(findings) == 1


def test_missing_optional_dataset_is_informational() -> None:
    findings = diagnose(healthy_report())
    assert any("mnist" in f.message for f in levels(findings, "INFO"))
    assert not any(
        "mnist" in f.message for f in levels(findings, "FAIL") + levels(findings, "WARN")
    )


def test_datasets_module_failure_warns_without_failing() -> None:
    report = healthy_report()
    report.datasets = None
    report.reasons["datasets"] = "unavailable (labkit.datasets did not import: ImportError: x)"
    findings = diagnose(report)
    assert "labkit.datasets did not import" in only(findings, "WARN").message
    assert exit_code(findings) == 0


@pytest.mark.parametrize(("version", "ok"), [("3.9.18", False), ("3.10.0", True), ("3.13.1", True), ("3.14.0", False)])  # fmt: skip
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


def test_tensorflow_import_failure_shows_error() -> None:
    report = healthy_report()
    report.tensorflow = {"status": "import failed", "error": "ImportError: DLL load failed"}
    report.smoke = None
    fail = only(diagnose(report), "FAIL")
    assert "DLL load failed" in fail.message and "Visual C++" in fail.fix


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


# ---------------------------------------------------------------------------- plumbing


def test_probe_records_reason_and_strict_mode_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    report = Report()

    def broken() -> None:
        raise OSError("disk on fire")

    def explained() -> None:
        raise doctor.Unavailable("not installed")

    assert doctor.probe(report, "system.cpu", broken) is None
    assert report.system["cpu"] is None
    assert report.reasons["system.cpu"] == "unavailable (OSError: disk on fire)"
    doctor.probe(report, "versions.pandas", explained)
    assert report.reasons["versions.pandas"] == "not installed"
    monkeypatch.setattr(doctor, "_STRICT", True)
    with pytest.raises(OSError):
        doctor.probe(report, "system.cpu", broken)


def test_captured_stderr_catches_native_writes() -> None:
    sink: list[str] = []
    with doctor.captured_stderr(sink):
        os.write(2, b"I0000 00:00:1.2 42 cudart_stub.cc:31] Could not find cuda drivers\n")
    assert "cudart_stub" in sink[0]
    assert doctor.notable_log_lines(sink[0]) == ["Could not find cuda drivers"]


@pytest.mark.skipif(os.name == "nt", reason="uses a shell script as fake nvidia-smi")
def test_nvidia_smi_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA A100-SXM4-80GB, 550.54.15, 81920 MiB, 8.0'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    gpus = doctor.nvidia_smi_gpus(doctor.start_nvidia_smi())
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
    data = json.loads(doctor.to_json(report))
    assert data["exit_code"] == 1 and data["ok"] is False
    assert data["diagnosis"][0].keys() == {"level", "message", "fix"}
    text = doctor.format_human(report)
    for title in ("Versions", "System", "TensorFlow devices", "NVIDIA driver", "Build"):
        assert f"== {title} ==" in text
    assert "RTX 3060" in text and "fix: 1) " in text and "NOT READY" in text


# ---------------------------------------------------------------------------- main.py


def main_env(**env: str) -> dict[str, str]:
    environ = {**os.environ, **env}
    environ.pop("TF_CPP_MIN_LOG_LEVEL", None)  # main.py must quiet TensorFlow itself
    if SHARED_DATA.is_dir():
        environ["LABKIT_DATA_DIR"] = str(SHARED_DATA)
    return environ


def run_main(*args: str, python: str = sys.executable, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, *args], capture_output=True, text=True, env=main_env(**env), timeout=120, cwd=REPO
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """main.py twice, concurrently (each takes about a TensorFlow import):

    "json": ``--json --debug`` as is; "human": ``--bench`` with a fake ``nvidia-smi`` on
    PATH that lists a GPU (which TensorFlow cannot see on this machine).
    """
    if not HAS_TF:
        pytest.skip("TensorFlow is not installed")
    fake_dir = tmp_path_factory.mktemp("fake-driver")
    fake = fake_dir / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA GeForce RTX 3060, 550.54, 12288 MiB, 8.6'\n")
    fake.chmod(0o755)
    commands = {
        "json": ([str(MAIN), "--json", "--debug"], main_env()),
        "human": (
            [str(MAIN), "--bench", "--debug"],
            main_env(PATH=f"{fake_dir}{os.pathsep}{os.environ['PATH']}"),
        ),
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )  # fmt: skip
        for name, (args, env) in commands.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[name] = (proc.returncode, out, err)
    return results


def test_main_json_reports_tensorflow_and_cpu(runs: dict) -> None:
    rc, out, err = runs["json"]
    data = json.loads(out)
    # tensorflow-cpu on Linux x86_64, tensorflow elsewhere: the one that ships the package.
    distribution = importlib.metadata.packages_distributions()["tensorflow"][0]
    assert data["versions"]["tensorflow"] == importlib.metadata.version(distribution)
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


def test_main_json_exit_code_follows_datasets(runs: dict) -> None:
    rc, out, _ = runs["json"]
    data = json.loads(out)
    assert isinstance(data["datasets"], dict), data["reasons"].get("datasets")
    required = [d for d in data["datasets"].values() if d["required"]]
    fails = [f for f in data["diagnosis"] if f["level"] == "FAIL"]
    if all(d["path"] for d in required):
        assert rc == 0, fails
    else:
        assert rc == 1
        assert any("python -m labkit data fetch" in f["fix"] for f in fails)


def test_main_human_report_has_no_tensorflow_noise(runs: dict) -> None:
    _, out, err = runs["human"]
    for title in ("System", "TensorFlow devices", "NVIDIA driver", "Benchmark", "Diagnosis"):
        assert f"== {title} ==" in out, title
    assert "GFLOP/s" in out
    for noise in ("cudart_stub", "oneDNN", "I0000 ", "E0000 ", "absl::", "Traceback"):
        assert noise not in out + err, noise
    assert err.strip() == ""


@pytest.mark.skipif(os.name == "nt", reason="fake nvidia-smi is a shell script")
def test_main_with_fake_driver_gpu_fails_with_fix(runs: dict) -> None:
    rc, out, _ = runs["human"]
    if "TensorFlow uses the GPU" in out or doctor.cuda_wheels():
        pytest.skip("needs a machine where TensorFlow sees no GPU and lacks the CUDA wheels")
    assert rc == 1
    assert "NVIDIA GeForce RTX 3060, 12288 MiB, compute capability 8.6" in out
    assert "FAIL  The NVIDIA driver sees NVIDIA GeForce RTX 3060" in out
    assert 'pip install "tensorflow[and-cuda]==' in out


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
    probe = subprocess.run([python, "-c", "import tensorflow"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("the system python3 has TensorFlow")
    proc = run_main(str(MAIN), python=python)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "TensorFlow is not installed" in proc.stdout or "Cannot import labkit" in proc.stdout
