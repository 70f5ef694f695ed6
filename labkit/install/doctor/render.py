"""The report as text to paste into a chat (one function per section), or as one JSON document."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from labkit import settings
from labkit.install.doctor.diagnosis import exit_code, gpu_list
from labkit.install.doctor.report import Report
from labkit.install.doctor.tf_probes import SMOKE_SIZE

Rows = list[tuple[str, str]]
SETTING_DOCS = {setting.name: setting.doc for setting in settings.SETTINGS}
HIDDEN_LOG = "routine TensorFlow start-up messages, known to be harmless (--json lists them)"


def shown(report: Report, key: str, value: Any) -> str:
    """A value for the human report; a missing one shows its reason."""
    if value is None:
        return report.reasons.get(key, "unavailable")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value)) if value else "none"
    return str(value)


def nvidia_machine(report: Report) -> bool:
    """True when the NVIDIA driver lists a GPU, or TensorFlow lists one off macOS."""
    tf_gpus = gpu_list(report, "tf") and report.system.get("platform") != "Darwin"
    return bool(gpu_list(report, "driver") or tf_gpus)


def versions_section(report: Report) -> Rows:
    v, s = report.versions, report.system
    dists = ", ".join(v.get("tensorflow_distributions") or {})
    tensorflow = shown(report, "versions.tensorflow", v.get("tensorflow"))
    if dists and v.get("tensorflow") and dists not in tensorflow:
        tensorflow = f"{v['tensorflow']} ({dists})"
    backend = v.get("keras_backend") or f"{v.get('keras_backend_configured')} (configured)"
    rows = [("python", f"{v.get('python')} ({s.get('python_executable')})")]
    rows.append(("tensorflow", tensorflow))
    rows.append(("keras", f"{shown(report, 'versions.keras', v.get('keras'))}, backend: {backend}"))
    for name in ("numpy", "pandas", "matplotlib", "jupyterlab"):
        rows.append((name, shown(report, f"versions.{name}", v.get(name))))
    if s.get("platform") == "Darwin" or v.get("tensorflow-metal"):
        metal = shown(report, "versions.tensorflow-metal", v.get("tensorflow-metal"))
        rows.append(("tensorflow-metal", metal))
    rows.append(("labkit", shown(report, "versions.labkit", v.get("labkit"))))
    return rows


def system_section(report: Report) -> Rows:
    s = report.system
    os_text = shown(report, "system.os", s.get("os")) + f" [{s.get('machine')}]"
    if s.get("wsl"):
        os_text += " (WSL2)"
    ram = shown(report, "system.ram_total_gib", s.get("ram_total_gib"))
    if s.get("ram_total_gib") is not None:
        ram = f"{s['ram_total_gib']} GiB total"
        if s.get("ram_available_gib") is not None:
            ram += f", {s['ram_available_gib']} GiB available"
    rows = [
        ("os", os_text),
        ("cpu", shown(report, "system.cpu", s.get("cpu"))),
        ("cores", f"{s.get('logical_cores')} logical, {s.get('usable_cores')} usable"),
        ("ram", ram),
    ]
    env = (s.get("env") or {}).items()
    rows += [(name, val) for name, val in env if val is not None and name not in SETTING_DOCS]
    if s.get("setup_python"):
        rows.append(("setup python", f"{s['setup_python']} (from .labkit-python)"))
    return rows


def settings_section(report: Report) -> Rows:
    """The kit's settings (``LABKIT_*``) that are set, each with what it does."""
    env = report.system.get("env") or {}
    return [(name, f"{env[name]} - {doc}") for name, doc in SETTING_DOCS.items() if env.get(name)]


def devices_section(report: Report) -> Rows:
    t = report.tensorflow
    if t.get("status") != "ok":
        return [
            ("tensorflow", f"{t.get('status')}" + (f": {t['error']}" if t.get("error") else ""))
        ]
    rows = []
    for d in t.get("devices") or []:
        text = d["type"]
        if d["type"] == "GPU":
            text = f"{d.get('gpu_name')}, compute capability {d.get('compute')}"
        rows.append((d["name"], text))
    if t.get("devices") is None:
        rows.append(("devices", shown(report, "tensorflow.devices", None)))
    rows += [("start-up log", line) for line in t.get("log") or []]
    hidden = len(t.get("log_harmless") or [])
    if hidden:
        rows.append(("start-up log", f"{hidden} {HIDDEN_LOG}"))
    return rows


def gpu_section(report: Report) -> Rows:
    """Without an NVIDIA GPU: two plain lines, nothing that reads like a GPU problem."""
    gpus = report.driver.get("gpus")
    driver = "lists no GPU" if gpus == [] else shown(report, "driver.gpus", gpus)
    build = report.tensorflow.get("build") or {}
    if build.get("is_cuda_build") is False:
        tensorflow = "a CPU-only build: runs on the CPU"
    elif build.get("is_cuda_build"):
        tensorflow = "runs on the CPU (its CUDA support needs an NVIDIA GPU; nothing to fix)"
    else:
        tensorflow = "runs on the CPU"
    return [("nvidia driver", driver), ("tensorflow", tensorflow)]


def driver_section(report: Report) -> Rows:
    gpus = report.driver.get("gpus")
    if gpus is None:
        return [("nvidia-smi", shown(report, "driver.gpus", None))]
    if not gpus:
        return [("nvidia-smi", "no GPU listed")]
    return [
        (
            f"GPU {i}",
            f"{g['name']}, {g.get('memory')}, compute capability {g.get('compute') or 'unknown'}"
            f", driver {g.get('driver_version')}",
        )
        for i, g in enumerate(gpus)
    ]


def build_section(report: Report) -> Rows:
    t = report.tensorflow
    build = t.get("build")
    if build is None:
        rows = [("build", shown(report, "tensorflow.build", None))]
    elif build.get("is_cuda_build") is False:
        rows = [("cuda build", "no: a CPU-only TensorFlow")]
    else:
        rows = [
            ("cuda build", shown(report, "", build.get("is_cuda_build"))),
            ("cuda", str(build.get("cuda_version"))),
            ("cudnn", str(build.get("cudnn_version"))),
            ("compute caps", shown(report, "", build.get("cuda_compute_capabilities"))),
        ]
    wheels = t.get("cuda_wheels") or {}
    installed = ", ".join(f"{k} {w}" for k, w in wheels.items())
    rows.append(("cuda wheels", installed or "not installed"))
    return rows


def datasets_section(report: Report) -> Rows:
    if report.datasets is None:
        return [("datasets", shown(report, "datasets", None))]
    rows = []
    for name, d in report.datasets.items():
        if not d.get("path"):
            text = "MISSING" if d.get("required") else "not downloaded (optional)"
        elif d.get("verified") is False:
            text = f"CORRUPT or unreadable, in {d['path']}"
        else:
            text = f"verified, in {d['path']}"
            if d.get("found_through") == settings.DATA_DIR.name:
                text += " (through LABKIT_DATA_DIR only)"
        rows.append((name, text))
    return rows


def smoke_section(report: Report) -> Rows:
    if report.smoke is None:
        return [("smoke test", shown(report, "smoke", None))]
    return [
        (e["device"], f"ok (relative error {e['rel_error']:.1e}, {e['ms']} ms)")
        if e["ok"]
        else (e["device"], f"FAILED: {e['error']}")
        for e in report.smoke
    ]


def bench_section(report: Report) -> Rows:
    if report.bench is None:
        return [("bench", report.reasons.get("bench", "not run"))]
    rows = [
        (
            d["device"],
            f"matmul {d['matmul_gflops']} GFLOP/s ({d['matmul_shape']}), "
            f"conv2d {d['conv2d_gflops']} GFLOP/s",
        )
        for d in report.bench["devices"]
    ]
    if report.bench.get("speedup"):
        sp = report.bench["speedup"]
        rows.append(("GPU/CPU", f"matmul x{sp['matmul']}, conv2d x{sp['conv2d']}"))
    return rows


def human_sections(report: Report) -> list[tuple[str, Rows]]:
    """The report as titled sections of (key, value) lines."""
    sections = [
        ("Versions", versions_section(report)),
        ("System", system_section(report)),
    ]
    if settings_section(report):
        sections.append(("Settings", settings_section(report)))
    sections.append(("TensorFlow devices", devices_section(report)))
    if nvidia_machine(report):
        sections += [("NVIDIA driver", driver_section(report)), ("Build", build_section(report))]
    else:
        sections.append(("GPU", gpu_section(report)))
    sections += [
        ("Datasets", datasets_section(report)),
        (f"Smoke test ({SMOKE_SIZE}x{SMOKE_SIZE} float32 matmul vs NumPy)", smoke_section(report)),
    ]
    if report.bench is not None or "--bench" not in report.reasons.get("bench", "--bench"):
        sections.append(("Benchmark", bench_section(report)))
    return sections


def format_human(report: Report) -> str:
    """The paste-into-a-chat report."""
    sections = human_sections(report)
    width = max(len(k) for _, lines in sections for k, _ in lines)
    out = ["labkit doctor: workshop environment report"]
    for title, lines in sections:
        out += ["", f"== {title} =="]
        out += [f"  {k.ljust(width)} : {val}" for k, val in lines]
    out += ["", "== Diagnosis =="]
    for f in report.diagnosis:
        msg = f.message.splitlines()
        out.append(f"  {f.level:<4}  {msg[0]}")
        out += [f"        {ln}" for ln in msg[1:]]
        fix = f.fix.splitlines()
        if fix:
            out.append(f"        fix: {fix[0]}")
            out += [f"             {ln}" for ln in fix[1:]]
    fails = sum(f.level == "FAIL" for f in report.diagnosis)
    warns = sum(f.level == "WARN" for f in report.diagnosis)
    verdict = "READY" if fails == 0 else "NOT READY"
    out += ["", f"Result: {verdict} ({fails} FAIL, {warns} WARN), checked in {report.elapsed_s} s"]
    if fails or warns:
        out.append("Stuck? Paste this whole report into the workshop chat.")
    return "\n".join(out)


def to_json(report: Report) -> str:
    """One JSON document: every field, diagnosis and exit code included."""
    data = asdict(report)
    data["diagnosis"] = [f._asdict() for f in report.diagnosis]
    data["exit_code"] = exit_code(report.diagnosis)
    data["ok"] = data["exit_code"] == 0
    return json.dumps(data, indent=2, default=str)
