"""``python -m labkit room pack|serve|report|forget``: the arguments, and what each command prints.
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
    from labkit.room.limits import Limits
    from labkit.room.serve import serve

    given = {
        "header_timeout_s": args.header_timeout,
        "max_connections": args.max_connections,
        "names_per_address": args.names_per_address,
    }
    limits = Limits(**{name: value for name, value in given.items() if value is not None})
    try:  # until Ctrl-C, or SIGTERM or SIGHUP
        serve(Path(args.dir), args.host, args.port, say, code=args.code, limits=limits)
    except KeyboardInterrupt:
        pass
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
    board = reports.board(folder)
    print(page.to_json(board) if args.json else page.text_table(board), end="")
    return 0


def forget(args: argparse.Namespace) -> int:
    from labkit.room import reports
    from labkit.room.serve import REPORTS

    folder = Path(args.dir).expanduser() / REPORTS
    if not folder.is_dir():
        say(f"No reports: {folder} does not exist (`room serve {args.dir}` stores them there).")
        return 1
    if args.all:
        say(f"Cleared the room: {reports.clear(folder)} reports deleted from {folder}.")
        return 0
    if not args.names:
        say("Name the attendees to forget (room forget DIR NAME...), or clear the room: --all.")
        return 2
    released = reports.forget(folder, args.names)
    for name in released:
        say(f"Released {name!r}: its report is deleted; the next kit to send it owns it.")
    missing = [
        n for n in args.names if reports.file_name(n) not in map(reports.file_name, released)
    ]
    for name in missing:
        say(f"No report under {name!r} in {folder}.")
    return 1 if missing else 0


def add_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    run: Callable[[argparse.Namespace], int],
) -> None:
    """The ``room`` command and its four actions; ``run(args)`` calls ``args.room_func``."""
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
        description="Serve the pack in DIR over HTTP under a room code (attendees install "
        "with `environment.sh --from http://HOST:PORT/CODE`), receive the readiness reports of "
        "`python main.py --send http://HOST:PORT/CODE` into DIR/reports, and show them live "
        "at http://HOST:PORT/TOKEN/, an address printed only here. Without a pack in DIR, "
        "only the readiness page.",
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
    serve_parser.add_argument(
        "--code",
        metavar="CODE",
        help="the room code, in the address attendees use (default: a random one, made at the "
        "first start and kept in DIR/room.json)",
    )
    serve_parser.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        help="connections served at once (default: 500, lowered below the open-file limit)",
    )
    serve_parser.add_argument(
        "--header-timeout",
        type=float,
        metavar="S",
        help="seconds a client has to send a request's headers, and to keep an idle "
        "connection (default: 10)",
    )
    serve_parser.add_argument(
        "--names-per-address",
        type=int,
        metavar="N",
        help="new names one network address may report under (default: 20; raise it when "
        "the room's laptops reach you through one address)",
    )
    serve_parser.set_defaults(room_func=serve)

    report_parser = actions.add_parser(
        "report", help="print the readiness table from the reports stored in DIR/reports"
    )
    report_parser.add_argument("dir", metavar="DIR", help="the folder `room serve` served")
    report_parser.add_argument("--json", action="store_true", help="print JSON instead")
    report_parser.set_defaults(room_func=report)

    forget_parser = actions.add_parser(
        "forget",
        help="release attendees' names (their reports are deleted), or clear the room",
        description="A name belongs to the kit (the clone) that first sent a report under it. "
        "Releasing it deletes its report, so that the next kit to send under it owns it. It "
        "works while the server runs.",
    )
    forget_parser.add_argument("dir", metavar="DIR", help="the folder `room serve` served")
    forget_parser.add_argument("names", nargs="*", metavar="NAME", help="the names to release")
    forget_parser.add_argument(
        "--all", action="store_true", help="delete every report (and those set aside)"
    )
    forget_parser.set_defaults(room_func=forget)
