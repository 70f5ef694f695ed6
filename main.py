"""Check that this Python environment is ready for the workshop: ``python main.py``.

Prints versions, system facts, the devices TensorFlow sees, what the NVIDIA driver
reports, whether the datasets match their checksums, a smoke test and a diagnosis
(PASS/WARN/FAIL, each problem with its fix). ``--json`` for machine-readable output,
``--bench`` for a short benchmark, ``--send URL`` to send the report to the instructor's
server as well (``python -m labkit room serve``; ``--name NAME`` names you there). Exit
status 0 when everything required works, 1 otherwise; with ``--send``, 2 more when the report
could not be sent (2: READY but not sent, 3: neither). The checks live in
``labkit/install/doctor/``.

This file must run with any Python (even one without the workshop packages), so it
uses no syntax newer than Python 2.7 before handing over to labkit, and its early
failures are printed as JSON too when ``--json`` is given. Run with another Python than the
one the setup recorded in ``.labkit-python`` (the system's ``python3``, say), it says so and
names the right one.
"""

import binascii
import json
import os
import platform
import sys

REPO_ROOT = os.path.dirname(os.path.abspath(__file__))
KEY_FILE = os.path.join(REPO_ROOT, ".labkit-room-key")  # as labkit/install/doctor/send.py keeps it

SETUP_HINT = (
    "Set up the workshop environment with `bash Scripts/environment.sh` "
    "(Windows: Scripts\\environment.bat), then run `python main.py` with its Python."
)


def option(name):
    """The value of ``--name VALUE`` or ``--name=VALUE`` on the command line, or None."""
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg[len(name) + 1 :]
    return None


def kit_key():
    """This kit's key for the room's server, made at the first send (labkit/install/doctor/send.py)."""
    try:
        with open(KEY_FILE) as f:
            key = f.read().strip()
        if len(key) >= 16:
            return key
    except (IOError, OSError):  # noqa: UP024 (Python 2's IOError is no OSError)
        pass
    key = binascii.hexlify(os.urandom(24)).decode("ascii")
    with open(KEY_FILE, "w") as f:
        f.write(key + "\n")
    return key


def send_early(report):
    """--send URL: post the early report to the instructor's server, as labkit would; the
    outcome (None without --send), in one line on stderr too."""
    url = option("--send")
    if not url:
        return None
    name = option("--name") or platform.node().split(".")[0] or "unnamed computer"
    try:
        from urllib.request import Request, urlopen
    except ImportError:  # Python 2
        from urllib2 import Request, urlopen
    try:
        if not url.startswith(("http://", "https://")) or len(url.split()) != 1:
            raise ValueError("not an http:// address: use the one the instructor gives")
        body = json.dumps({"name": name, "kit": kit_key(), "report": report}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        response = urlopen(Request(url.rstrip("/") + "/report", body, headers), timeout=15)
        answer = json.loads(response.read(65536).decode("utf-8"))
        if response.getcode() != 201 or not isinstance(answer, dict) or "stored" not in answer:
            raise ValueError("the answer is not the room server's")
        outcome = {"sent": True, "message": "Report sent to " + url + ".", "url": url}
    except Exception as exc:  # any failure to send is a message, not a crash
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        message = "Could not send the report to " + " ".join(url.split()) + ": " + reason + "."
        outcome = {"sent": False, "message": message, "url": url}
    outcome["name"] = name
    sys.stderr.write(outcome["message"] + "\n")
    return outcome


def fail_early(message, fix):
    """Report a failure that stops the check before labkit runs, then exit with 1."""
    finding = {"level": "FAIL", "message": message, "fix": fix}
    report = {
        "ok": False,
        "exit_code": 1,
        "diagnosis": [finding],
        "versions": {"python": ".".join(map(str, sys.version_info[:3]))},
        "system": {"os": platform.platform(), "machine": platform.machine()},
    }
    if "--json" not in sys.argv[1:]:
        sys.stdout.write("FAIL  " + message + "\n      fix: " + fix + "\n")
    sent = send_early(report)
    if "--json" in sys.argv[1:]:
        if sent is not None:
            report["send"] = sent
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    raise SystemExit(3 if sent is not None and not sent["sent"] else 1)


REPO_ROOT = os.path.dirname(os.path.abspath(__file__))


def environment_of(python):
    """The folder of the environment an interpreter belongs to (venv or conda, any OS)."""
    folder = os.path.dirname(os.path.abspath(python))
    if os.path.basename(folder).lower() in ("bin", "scripts"):
        folder = os.path.dirname(folder)
    return os.path.normcase(os.path.realpath(folder))


def workshop_python():
    """The interpreter recorded in .labkit-python when it exists and belongs to another
    environment than this Python's; else None. Environments, not interpreters, are compared:
    a virtual environment's python links to the very interpreter that made it."""
    try:
        with open(os.path.join(REPO_ROOT, ".labkit-python")) as f:
            recorded = (f.read().strip().splitlines() or [""])[0].strip()
    except (IOError, OSError, UnicodeError):  # noqa: UP024 (IOError: Python 2)
        return None
    if not recorded or not os.path.isfile(recorded):
        return None
    ours = (os.path.normcase(os.path.realpath(sys.prefix)), environment_of(sys.executable))
    return None if environment_of(recorded) in ours else recorded


def quoted(path):
    return '"' + path + '"' if " " in path else path


WORKSHOP_PYTHON = workshop_python()
if WORKSHOP_PYTHON:
    fail_early(
        "This is not the workshop's Python ("
        + sys.executable
        + "); the setup made "
        + WORKSHOP_PYTHON
        + ".",
        "run: " + " ".join([quoted(WORKSHOP_PYTHON), "main.py"] + sys.argv[1:]),
    )

if sys.version_info < (3, 10):  # noqa: UP036 (this file must run on any Python)
    fail_early(
        "Python " + ".".join(map(str, sys.version_info[:3])) + " is too old for the "
        "workshop (it needs Python 3.10-3.13).",
        SETUP_HINT,
    )

# Let `import labkit` work from a checkout, even when labkit is not installed.
sys.path.insert(0, REPO_ROOT)

try:
    from labkit.install.doctor import main
except Exception as exc:  # ImportError, or a broken labkit
    detail = type(exc).__name__ + ": " + str(exc)
    fail_early(
        "Cannot import labkit from " + REPO_ROOT + " (" + detail + ").",
        "Run main.py from the workshop repository (the folder with labkit/). " + SETUP_HINT,
    )

if __name__ == "__main__":
    raise SystemExit(main())
