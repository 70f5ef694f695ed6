"""``python -m labkit room pack|serve|report``: the arguments, and what each command prints.
The modules that do the work (and Tornado) are imported only by the command that needs them."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path

from labkit.datasets import DATASETS
from labkit.install import locks
from labkit.room.wheels import DEFAULT_TARGETS, TARGETS

say = functools.partial(print, flush=True)


def pack(args: argparse.Namespace) -> int:
    from labkit.room import instructions
    from labkit.room.pack import pack

    datasets = list(DATASETS) if args.all_data else [n for n, d in DATASETS.items() if d.required]
    outcome = pack(Path(args.out), args.platforms, args.pythons, datasets, say=say)
    out = Path(args.out).expanduser().resolve()
    say(f"\nPack: {out}")
    for line in instructions.contents(outcome.manifest):
        say("  " + line)
    if outcome.new_files:
        say(
            f"This run downloaded or built {len(outcome.new_files)} wheels "
            f"({instructions.megabytes(outcome.new_bytes)}); the rest was in the pack already."
        )
    else:
        say("This run downloaded nothing: every wheel was in the pack already (all verified).")
    say("Hand out the folder (a USB stick: its README.txt says what to do), or serve it:")
    say(f"  python -m labkit room serve {out}")
    return 0


def serve(args: argparse.Namespace) -> int:
    from labkit.room.serve import serve

    try:
        serve(Path(args.dir), args.host, args.port, say)
    except KeyboardInterrupt:
        say(f"\nStopped. The reports stay in {Path(args.dir) / 'reports'}; to see them:")
        say(f"  python -m labkit room report {args.dir}")
    return 0


def report(args: argparse.Namespace) -> int:
    from labkit.room import page, reports
    from labkit.room.serve import REPORTS

    folder = Path(args.dir).expanduser() / REPORTS
    if not folder.is_dir():
        say(f"No reports: {folder} does not exist (`room serve {args.dir}` stores them there).")
        return 1
    rows = reports.rows(folder)
    print(page.to_json(rows) if args.json else page.text_table(rows), end="")
    return 0


def add_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    run: Callable[[argparse.Namespace], int],
) -> None:
    """The ``room`` command and its three actions; ``run(args)`` calls ``args.room_func``."""
    room = commands.add_parser(
        "room", help="instructor tools: pack the install for a room, serve it, see who is ready"
    )
    room.set_defaults(func=run)
    actions = room.add_subparsers(dest="action", required=True, metavar="ACTION")

    pack_parser = actions.add_parser(
        "pack",
        help="write a folder (a USB stick) that installs the workshop without internet",
        description="Download the wheels of the chosen machines and Pythons from the locks "
        "(hashes checked), copy the datasets (verified) and the kit, and write a README and a "
        "manifest. Running it again adds what is asked for and downloads nothing already there; "
        "what earlier runs packed stays (delete the folder to start afresh).",
    )
    pack_parser.add_argument("out", metavar="OUT", help="the pack's folder (made if needed)")
    pack_parser.add_argument(
        "--platforms",
        nargs="+",
        choices=list(TARGETS),
        default=list(DEFAULT_TARGETS),
        metavar="MACHINE",
        help=f"the machines to pack for, from {', '.join(TARGETS)} "
        f"(default: {' '.join(DEFAULT_TARGETS)}; the GPU one adds about 3 GB per Python)",
    )
    pack_parser.add_argument(
        "--pythons",
        nargs="+",
        choices=list(locks.PYTHONS),
        default=list(locks.PYTHONS),
        metavar="X.Y",
        help="the Pythons to pack for (default: all the kit supports, "
        f"{' '.join(locks.PYTHONS)}: the setup takes the newest one an attendee has)",
    )
    pack_parser.add_argument(
        "--all-data", action="store_true", help="also the optional datasets (MNIST)"
    )
    pack_parser.set_defaults(room_func=pack)

    serve_parser = actions.add_parser(
        "serve",
        help="serve a pack on the room's network and show who is ready",
        description="Serve the pack in DIR over HTTP (attendees install with "
        "`environment.sh --from http://HOST:PORT`), receive the readiness reports of "
        "`python main.py --send http://HOST:PORT` into DIR/reports, and show them live at "
        "http://HOST:PORT/. Without a pack in DIR, only the readiness page.",
    )
    serve_parser.add_argument("dir", metavar="DIR", help="the pack's folder")
    serve_parser.add_argument(
        "--port", type=int, default=8765, metavar="N", help="the port (default: 8765)"
    )
    serve_parser.add_argument(
        "--host",
        default="0.0.0.0",
        metavar="ADDR",
        help="the address to listen on (default: 0.0.0.0, every network of this computer; "
        "127.0.0.1: this computer only)",
    )
    serve_parser.set_defaults(room_func=serve)

    report_parser = actions.add_parser(
        "report", help="print the readiness table from the reports stored in DIR/reports"
    )
    report_parser.add_argument("dir", metavar="DIR", help="the folder `room serve` served")
    report_parser.add_argument("--json", action="store_true", help="print JSON instead")
    report_parser.set_defaults(room_func=report)
