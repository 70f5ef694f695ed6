"""The labkit command line: ``python -m labkit --help``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

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

    changed = notebooks.build(check=args.check)
    for path in changed:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    if args.check and changed:
        print("Run `python -m labkit notebooks build` and commit the result.", file=sys.stderr)
        return 1
    print(
        f"{len(notebooks.lab_names())} labs, {len(changed)} exercise notebooks {'stale' if args.check else 'updated'}."
    )
    return 0


def notebooks_strip(args: argparse.Namespace) -> int:
    """Remove outputs and execution counts from every notebook (--check: only report)."""
    from labkit import notebooks

    changed = notebooks.strip_all(check=args.check)
    for path in changed:
        print(f"{'has outputs' if args.check else 'stripped'}: {path}")
    return 1 if args.check and changed else 0


def kernel(args: argparse.Namespace) -> int:
    """Register the Jupyter kernel dl-workshop for this Python (the setup scripts run it)."""
    from labkit.kernel import register

    print(register(take_over=args.take_over).report())
    return 0


def bench(args: argparse.Namespace) -> int:
    """Run every lab in full mode beside its reference model; write benchmarks/results/."""
    from pathlib import Path

    from labkit import bench as benchmark

    labs = [lab for lab in benchmark.LABS if not args.labs or lab[:2] in args.labs]
    results = benchmark.run(labs, smoke=args.smoke, out_dir=Path(args.out))
    failed = [row["lab"] for row in results["labs"] if "error" in row]
    missed = [row["lab"] for row in results["labs"] if not row["meets_target"]]
    if failed:
        print(f"failed to run: {', '.join(failed)}", file=sys.stderr)
    elif missed and not args.smoke:
        print(f"below target: {', '.join(missed)}", file=sys.stderr)
    return 1 if failed or (missed and not args.smoke) else 0


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

    check = commands.add_parser("doctor", help="check the installation (what main.py runs)")
    check.add_argument(
        "rest", nargs=argparse.REMAINDER, help="options of main.py (--json, --bench)"
    )
    check.set_defaults(func=doctor)

    kernel_parser = commands.add_parser(
        "kernel", help="register the Jupyter kernel dl-workshop for this Python"
    )
    kernel_parser.add_argument(
        "--take-over",
        action="store_true",
        help="take the user-level name dl-workshop even when another environment holds it",
    )
    kernel_parser.set_defaults(func=kernel)

    from labkit.bench import LABS, RESULTS_DIR

    bench_parser = commands.add_parser("bench", help="benchmark the labs in full mode (long)")
    bench_parser.add_argument("labs", nargs="*", choices=[[], *(lab[:2] for lab in LABS)],
                              metavar="NN", help="lab numbers (default: all)")  # fmt: skip
    bench_parser.add_argument(
        "--smoke", action="store_true", help="fast mode and one epoch: proves it works, in minutes"
    )
    bench_parser.add_argument("--out", default=str(RESULTS_DIR), help="where the results go")
    bench_parser.set_defaults(func=bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
