"""The labkit command line: ``python -m labkit --help``."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import math
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from labkit import settings
from labkit.errors import LabkitError

if TYPE_CHECKING:
    from labkit.datasets.store import Dataset


def _data_names(args: argparse.Namespace) -> list[str]:
    from labkit.datasets import DATASETS

    if args.names:
        return args.names
    return list(DATASETS) if args.all else [n for n, d in DATASETS.items() if d.required]


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """Let SIGTERM (kill) and SIGHUP (a closed terminal) unwind like Ctrl-C, so that an
    interrupted fetch removes its temporary files."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signals = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def data_fetch_or_verify(args: argparse.Namespace) -> int:
    """Fetch (copy or download, then verify) or verify the datasets: one line each."""
    from labkit.datasets import DATASETS, store
    from labkit.paths import is_url

    fetching = args.action == "fetch"
    sources = getattr(args, "sources", [])
    missing = [s for s in sources if not is_url(s) and not Path(s).is_dir()]
    if missing:
        print(f"--from {missing[0]}: no such folder.", file=sys.stderr)
        return 2
    failed = 0
    with _signals_as_interrupt():
        for name in _data_names(args):
            dataset = DATASETS[name]
            try:
                if fetching:
                    folder = store.fetch(dataset, args.data_dir, args.sources)
                else:
                    folder = store.verify(dataset, args.data_dir)
            except LabkitError as exc:
                failed += 1
                print(f"{name}: FAILED\n{exc}\n", file=sys.stderr)
                continue
            except KeyboardInterrupt:
                print(f"{name}: interrupted; no partial file was left behind.", file=sys.stderr)
                return 130
            where = _where_note(dataset, folder, args.data_dir)
            print(f"{name}: {'ready' if fetching else 'verified'} in {folder}{where}")
    return 1 if failed else 0


def _where_note(dataset: Dataset, folder: Path, data_dir: str | None) -> str:
    """Why a dataset is found in ``folder``, when that matters to the reader."""
    from labkit.datasets import store

    why = store.origin(dataset, folder, data_dir)
    if why == "system":
        return " (a system folder: found with no setting; `data fetch` leaves it there)"
    if why == settings.DATA_DIR.name:
        target = store.download_target(dataset, data_dir)
        return (
            f" (only through {why}: `python -m labkit data fetch` copies it into "
            f"{target}, where it is found with no setting)"
        )
    return ""


def data_where(args: argparse.Namespace) -> int:
    """Say where each dataset is found (existence only, no checksums) and where fetch puts it."""
    from labkit.datasets import DATASETS, store

    for name in args.names or list(DATASETS):
        dataset = DATASETS[name]
        folder = store.find(dataset, args.data_dir)
        if folder is None:
            print(f"{name}: not found")
        else:
            print(f"{name}: {folder}{_where_note(dataset, folder, args.data_dir)}")
        if folder is None or args.verbose:
            for d in store.candidate_dirs(dataset, args.data_dir):
                print(f"    looked in {d}")
        if folder is None:
            target = store.download_target(dataset, args.data_dir)
            print(f"    `python -m labkit data fetch {name}` puts it in {target}")
    return 0


def doctor(args: argparse.Namespace) -> int:
    """The environment check that main.py runs."""
    from labkit.install.doctor.cli import run

    return run(args)


def notebooks_build(args: argparse.Namespace) -> int:
    """Write each exercise notebook from its solution notebook (--check: only report)."""
    from labkit.notebooks import build, solutions

    try:
        changed = build.build(check=args.check, repository_url=args.repository_url)
    except solutions.NotebookError as exc:
        print(exc, file=sys.stderr)
        return 1
    for path in changed:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    if args.check and changed:
        print("Run `python -m labkit notebooks build` and commit the result.", file=sys.stderr)
        return 1
    state = "out of date" if args.check else "written"
    print(f"{len(solutions.lab_names())} labs, {len(changed)} files {state}.")
    return 0


def notebooks_strip(args: argparse.Namespace) -> int:
    """Remove outputs and execution counts from every notebook (--check: only report)."""
    from labkit.notebooks import build

    changed = build.strip_all(check=args.check)
    for path in changed:
        print(f"{'has outputs' if args.check else 'stripped'}: {path}")
    return 1 if args.check and changed else 0


def _benchmarks() -> ModuleType:
    """The benchmark's runner. The benchmark is maintainer tooling that lives beside labkit in
    a checkout (benchmarks/), not in the package, so that nothing a learner imports loads it:
    its package is loaded from where it lies, whatever the current folder (sys.path is left
    alone)."""
    from labkit.paths import REPO_ROOT

    package = REPO_ROOT / "benchmarks"
    if not (package / "run.py").is_file():
        raise LabkitError(
            f"The benchmark runs from a clone of the workshop repository: {REPO_ROOT} has no "
            "benchmarks/run.py."
        )
    if "benchmarks" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "benchmarks", package / "__init__.py", submodule_search_locations=[str(package)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["benchmarks"] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules["benchmarks"]
            raise
    return importlib.import_module("benchmarks.run")


def kernel(args: argparse.Namespace) -> int:
    """Register the Jupyter kernel dl-workshop for this Python (the setup scripts run it), say
    its name, list the kit's kernels or remove some."""
    from labkit.install import kernel as kernels

    if args.which:
        print(kernels.which())
    elif args.list:
        found = kernels.kit_kernels()
        for kit in found:
            print(f'{kit.name}: "{kit.display_name}", {kit.python or "?"} ({kit.state})')
            print(f"    {kit.folder}")
        if not found:
            print("No kernel of the kit is registered.")
    elif args.remove is not None:
        names = {kit.name for kit in kernels.kit_kernels()}
        unknown = [n for n in args.remove if n not in names]
        if unknown:
            print(
                f"No kernel of the kit is named {', '.join(unknown)}: see --list.", file=sys.stderr
            )
            return 1
        removed = kernels.remove(args.remove)
        for kit in removed:
            print(f'Removed {kit.name} ("{kit.display_name}", {kit.python or "?"})')
        if not removed:
            print("Nothing to remove: every kernel of the kit starts a Python that exists.")
    else:
        print(kernels.register(take_over=args.take_over).report())
    return 0


def bench(args: argparse.Namespace) -> int:
    """Run every lab in full mode beside its reference model; write benchmarks/results/."""
    try:
        return _benchmarks().main(
            args.labs, args.smoke, args.out, repeat=args.repeat, time_scale=args.time_scale
        )
    except LabkitError as exc:
        print(exc, file=sys.stderr)
        return 1


def room(args: argparse.Namespace) -> int:
    """Instructor tools (labkit/room/): an error or an interruption ends in one clear line."""
    with _signals_as_interrupt():
        try:
            return args.room_func(args)
        except LabkitError as exc:
            print(exc, file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(
                "Interrupted. What is in the folder is complete and verified (work in progress "
                "is removed); run the same command again to go on.",
                file=sys.stderr,
            )
            return 130


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type: a number of `kind` above 0."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not (value > 0 and math.isfinite(value)):
            what = "whole number" if kind is int else "number"
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what} above 0")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m labkit", description="Tools of the deep-learning workshop kit."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="fetch, verify or locate the datasets")
    data_commands = data.add_subparsers(dest="action", required=True, metavar="ACTION")
    from labkit.datasets import DATASETS

    fetch = data_commands.add_parser(
        "fetch", help="put a verified copy of the datasets in data/ (copied, else downloaded)"
    )
    fetch.add_argument(
        "--from",
        dest="sources",
        action="append",
        default=[],
        metavar="DIR",
        help="copy from DIR (a USB stick, a share) first; DIR holds <name>/ folders or the "
        "files; or download from a URL first (the room's server: URL/<name>/<file>); may be "
        "repeated",
    )
    fetch.add_argument(
        "--data-dir", metavar="DIR", help="put the datasets in DIR/<name>/ instead of data/"
    )
    fetch.set_defaults(func=data_fetch_or_verify)
    verify = data_commands.add_parser("verify", help="check every file against its checksum")
    verify.set_defaults(func=data_fetch_or_verify)
    where = data_commands.add_parser(
        "where", help="say where each dataset is found and where fetch puts it"
    )
    where.add_argument("-v", "--verbose", action="store_true", help="list every folder searched")
    where.set_defaults(func=data_where)
    for sub in (verify, where):
        sub.add_argument(
            "--data-dir", metavar="DIR", help="look in DIR first (DIR/<name>/, or the files in DIR)"
        )
    for sub in (fetch, verify, where):
        sub.add_argument(
            "names",
            nargs="*",
            choices=[[], *DATASETS],
            metavar="NAME",
            help=f"datasets ({', '.join(DATASETS)}); default: those the labs use",
        )
        sub.add_argument("--all", action="store_true", help="every dataset, MNIST included")

    nbs = commands.add_parser("notebooks", help="build exercise notebooks, strip outputs")
    nb_commands = nbs.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, func in {"build": notebooks_build, "strip": notebooks_strip}.items():
        sub = nb_commands.add_parser(action, help=func.__doc__.splitlines()[0].lower())
        sub.add_argument(
            "--check", action="store_true", help="change nothing; exit 1 if anything would change"
        )
        sub.set_defaults(func=func)
        if action == "build":
            from labkit.paths import REPOSITORY_URL

            sub.add_argument(
                "--repository-url",
                default=REPOSITORY_URL,
                metavar="URL",
                help="where the kit is published, https://github.com/OWNER/NAME: written into "
                "every notebook, the README's Colab links and labkit/repository-url.txt (a fork's "
                f"once); default: {REPOSITORY_URL}",
            )

    from labkit.install.doctor.cli import add_arguments

    check = commands.add_parser("doctor", help="check the installation (what main.py runs)")
    add_arguments(check)
    check.set_defaults(func=doctor)

    kernel_parser = commands.add_parser(
        "kernel", help="register the Jupyter kernel dl-workshop for this Python"
    )
    kernel_actions = kernel_parser.add_mutually_exclusive_group()
    kernel_actions.add_argument(
        "--take-over",
        action="store_true",
        help="take the user-level name dl-workshop even when another environment holds it",
    )
    kernel_actions.add_argument(
        "--which", action="store_true", help="print the name this environment's kernel shows"
    )
    kernel_actions.add_argument(
        "--list", action="store_true", help="list the kit's kernels (every clone's), and whose"
    )
    kernel_actions.add_argument(
        "--remove",
        nargs="*",
        metavar="NAME",
        help="remove the kit's kernels named (see --list); without a name, those whose Python "
        "is gone (deleted clones)",
    )
    kernel_parser.set_defaults(func=kernel)

    bench_parser = commands.add_parser("bench", help="benchmark the labs in full mode (long)")
    bench_parser.add_argument("labs", nargs="*", metavar="NN", help="lab numbers (default: all)")
    bench_parser.add_argument(
        "--smoke", action="store_true", help="fast mode and one epoch: proves it works, in minutes"
    )
    bench_parser.add_argument(
        "--repeat",
        type=_positive(int),
        default=1,
        metavar="N",
        help="run each lab N times, with the seeds 42, 43, ...; the tables give the median and "
        "the min-max (default: 1)",
    )
    bench_parser.add_argument(
        "--time-scale",
        type=_positive(float),
        metavar="S",
        help="multiply every time budget by S, e.g. 0.6 for a machine 1.7x slower; the results "
        "go to their own files (default: $LABKIT_TIME_SCALE, else 1)",
    )
    bench_parser.add_argument(
        "--out", metavar="DIR", help="where the results go (default: benchmarks/results)"
    )
    bench_parser.set_defaults(func=bench)

    from labkit.room.cli import add_parser as add_room_parser

    add_room_parser(commands, run=room)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
