"""The labkit command line: ``python -m labkit --help``."""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from labkit.errors import LabkitError


def _data_names(args: argparse.Namespace) -> list[str]:
    from labkit.datasets import DATASETS

    if args.names:
        return args.names
    return list(DATASETS) if args.all else [n for n, d in DATASETS.items() if d.required]


def data_fetch(args: argparse.Namespace) -> int:
    """Make datasets available: use a verified copy where one exists, download otherwise."""
    from labkit.datasets import fetch

    failed = 0
    for name in _data_names(args):
        try:
            print(f"{name}: ready in {fetch(name, args.data_dir)}")
        except LabkitError as exc:
            failed += 1
            print(f"{name}: FAILED\n{exc}\n", file=sys.stderr)
    return 1 if failed else 0


def data_verify(args: argparse.Namespace) -> int:
    """Check every file of the datasets against its checksum."""
    from labkit.datasets import verify

    failed = 0
    for name in _data_names(args):
        try:
            print(f"{name}: OK ({verify(name, args.data_dir)})")
        except LabkitError as exc:
            failed += 1
            print(f"{name}: FAILED\n{exc}\n", file=sys.stderr)
    return 1 if failed else 0


def data_where(args: argparse.Namespace) -> int:
    """Say where each dataset was found (existence only, no checksums), and where we looked."""
    from labkit.datasets import DATASETS, store

    names = args.names or list(DATASETS)
    for name in names:
        dataset = DATASETS[name]
        folder = store.find(dataset, args.data_dir)
        print(f"{name}: {folder if folder else 'not found'}")
        if folder is None or args.verbose:
            for d in store.candidate_dirs(dataset, args.data_dir):
                print(f"    looked in {d}")
    print(f"Downloads go to {store.download_target(args.data_dir)}")
    return 0


def doctor(args: argparse.Namespace) -> int:
    """The environment check that main.py runs."""
    from labkit.doctor import main as doctor_main

    return doctor_main(args.rest)


def notebooks_build(args: argparse.Namespace) -> int:
    """Write each exercise notebook from its solution notebook (--check: only report)."""
    from labkit import notebooks

    try:
        changed = notebooks.build(check=args.check, repository_url=args.repository_url)
    except notebooks.NotebookError as exc:
        print(exc, file=sys.stderr)
        return 1
    for path in changed:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    if args.check and changed:
        print("Run `python -m labkit notebooks build` and commit the result.", file=sys.stderr)
        return 1
    state = "out of date" if args.check else "written"
    print(f"{len(notebooks.lab_names())} labs, {len(changed)} files {state}.")
    return 0


def notebooks_strip(args: argparse.Namespace) -> int:
    """Remove outputs and execution counts from every notebook (--check: only report)."""
    from labkit import notebooks

    changed = notebooks.strip_all(check=args.check)
    for path in changed:
        print(f"{'has outputs' if args.check else 'stripped'}: {path}")
    return 1 if args.check and changed else 0


def _benchmarks() -> ModuleType:
    """The benchmark's runner. The benchmark is maintainer tooling that lives beside labkit in
    a checkout (benchmarks/), not in the package, so that nothing a learner imports loads it."""
    from labkit.paths import REPO_ROOT

    if not (REPO_ROOT / "benchmarks" / "run.py").is_file():
        raise LabkitError(
            f"The benchmark runs from a clone of the workshop repository: {REPO_ROOT} has no "
            "benchmarks/run.py."
        )
    if str(REPO_ROOT) not in sys.path:  # e.g. the `labkit` command started from another folder
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("benchmarks.run")


def bench(args: argparse.Namespace) -> int:
    """Run every lab in full mode beside its reference model; write benchmarks/results/."""
    try:
        return _benchmarks().main(
            args.labs, args.smoke, args.out, repeat=args.repeat, time_scale=args.time_scale
        )
    except LabkitError as exc:
        print(exc, file=sys.stderr)
        return 1


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
    actions: dict[str, Callable[[argparse.Namespace], int]] = {
        "fetch": data_fetch, "verify": data_verify, "where": data_where,
    }  # fmt: skip
    from labkit.datasets import DATASETS

    for action, func in actions.items():
        sub = data_commands.add_parser(action, help=func.__doc__.splitlines()[0].lower())
        sub.add_argument(
            "names",
            nargs="*",
            choices=[[], *DATASETS],
            metavar="NAME",
            help=f"datasets ({', '.join(DATASETS)}); default: those the labs use",
        )
        sub.add_argument("--data-dir", help="look here first, and download here")
        sub.add_argument("--all", action="store_true", help="every dataset, MNIST included")
        sub.add_argument("-v", "--verbose", action="store_true", help="list every folder searched")
        sub.set_defaults(func=func)

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
                "every notebook, the README's Colab links and labkit/paths.py (a fork's once); "
                f"default: {REPOSITORY_URL}",
            )

    check = commands.add_parser("doctor", help="check the installation (what main.py runs)")
    check.add_argument(
        "rest", nargs=argparse.REMAINDER, help="options of main.py (--json, --bench)"
    )
    check.set_defaults(func=doctor)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
