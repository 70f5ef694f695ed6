"""``python main.py`` and ``python -m labkit doctor``: collect, diagnose, print, exit 0 or 1."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time

from labkit.install.doctor import dataset_check
from labkit.install.doctor.diagnosis import diagnose, exit_code, gpu_list
from labkit.install.doctor.probes import (
    collect_system,
    collect_versions,
    nvidia_smi_gpus,
    start_nvidia_smi,
)
from labkit.install.doctor.render import format_human, to_json
from labkit.install.doctor.report import Report, probe
from labkit.install.doctor.tf_probes import collect_tensorflow
from labkit.startup_log import sort_lines

SEND_FAILED = 2  # added to the exit status when --send could not deliver the report


def collect(bench: bool = False, strict: bool = False) -> Report:
    """Gather everything; nvidia-smi and the dataset checksums run while TensorFlow imports.

    ``strict`` (``--debug``): an unexpected exception in a probe propagates.
    """
    start = time.perf_counter()
    report = Report()
    smi = start_nvidia_smi()
    datasets = dataset_check.start()
    collect_versions(report, strict)
    collect_system(report, strict)
    log = collect_tensorflow(report, bench, strict)
    probe(report, "driver.gpus", nvidia_smi_gpus, smi, strict=strict)
    probe(report, "datasets", datasets.result, strict=strict)
    gpu_expected = bool(gpu_list(report, "driver") or gpu_list(report, "tf"))
    notable, harmless = sort_lines(log, gpu_expected)
    report.tensorflow["log"], report.tensorflow["log_harmless"] = notable, harmless
    report.diagnosis = diagnose(report)
    report.elapsed_s = round(time.perf_counter() - start, 1)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of main.py, also those of ``python -m labkit doctor``."""
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--bench", action="store_true", help="add a short matmul/conv2d benchmark")
    parser.add_argument(
        "--debug", action="store_true", help="raise unexpected errors instead of reporting them"
    )
    parser.add_argument(
        "--send",
        metavar="URL",
        help="also send the report to the instructor's server (the address they give, "
        "http://HOST:PORT/CODE); the exit status adds 2 when it could not be sent",
    )
    parser.add_argument(
        "--name",
        metavar="NAME",
        help="your name on the instructor's page, with --send (default: this computer's name)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the checks, print the report, return the exit code."""
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    progress = not args.json and sys.stderr is not None and sys.stderr.isatty()
    if progress:
        sys.stderr.write("Checking the environment (a few seconds)...")
        sys.stderr.flush()
    report = collect(bench=args.bench, strict=args.debug)
    if progress:
        sys.stderr.write("\r" + " " * 44 + "\r")
    verdict = exit_code(report.diagnosis)
    if not args.json:
        print(format_human(report))
    sent = _send(args.send, args.name, to_json(report)) if args.send else None
    if args.json:
        document = json.loads(to_json(report))
        if sent is not None:
            document["send"] = sent
        print(json.dumps(document, indent=2))
    return verdict | (SEND_FAILED if sent is not None and not sent["sent"] else 0)


def _send(url: str, name: str | None, report_json: str) -> dict:
    """Send the report and say so on stderr, in one line; the outcome, for --json."""
    from labkit.install.doctor.send import default_name, send

    sys.stdout.flush()
    outcome = send(url, name or default_name(), report_json)
    if outcome.sent:
        print(outcome.message, file=sys.stderr)
    else:
        print(f"{outcome.message} Run again with --send URL once it is fixed.", file=sys.stderr)
    return outcome.as_dict()


def main(argv: list[str] | None = None) -> int:
    """main.py's entry point."""
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="Check that this Python environment is ready for the workshop labs.",
        epilog="Exit status: 0 when everything required works, 1 otherwise; with --send, 2 "
        "more when the report could not be sent (2: READY but not sent, 3: neither).",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
