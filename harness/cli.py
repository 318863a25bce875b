"""The ``harness`` command line: parse arguments, call the pipeline, print one-line errors.

Only this module and the registries turn names into objects.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from harness import __version__
from harness.errors import HarnessError

__all__ = ["main"]

_err = Console(stderr=True, highlight=False)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _fraction_or_count(text: str) -> float:
    value = float(text) if text.replace(".", "", 1).isdigit() else -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a GPU count or fraction >= 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Tune GBDT baselines and neural CTR rankers on a dataset; write a leaderboard.",
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="preprocess, tune every model family, write the leaderboard")
    run.add_argument("--suite", required=True, help="suite name (see `harness suites`)")
    run.add_argument("--data", help="raw training file or folder (else $HARNESS_DATA_DIR, cache)")
    run.add_argument("--models", help="comma-separated model families (default: the suite's)")
    run.add_argument("--trials", type=_positive_int, help="trials per model family")
    run.add_argument(
        "--time-budget",
        type=_positive_float,
        help="seconds for the run, shared by families; no trial starts after its family's share",
    )
    run.add_argument("--protocol", help="split protocol: sequential (default), x1, x4")
    run.add_argument("--min-count", type=_positive_int, help="values rarer than this share an id")
    run.add_argument(
        "--bad-rows",
        choices=("error", "skip"),
        default="error",
        help="stop at the first malformed row (default) or skip and count them",
    )
    run.add_argument("--address", help="join an existing Ray cluster (default: start a local one)")
    run.add_argument("--cpus-per-trial", type=_positive_int, help="CPUs per trial")
    run.add_argument(
        "--gpus-per-trial",
        type=_fraction_or_count,
        help="GPUs (or a fraction, e.g. 0.5) per neural trial (default: 1 if the cluster has GPUs)",
    )
    run.add_argument("--seed", type=int, default=0, help="seed for splits, search and training")
    run.add_argument(
        "--synthetic-rows",
        type=_positive_int,
        help="rows of the synthetic stand-in used when no real data is found",
    )
    run.add_argument("--out", type=Path, default=Path("."), help="folder for leaderboards/ runs/")
    run.add_argument(
        "--search-spaces", type=Path, help="folder of <family>.toml files (default: search_spaces/)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    dash = sub.add_parser("dashboard", help="open optuna-dashboard over a suite's studies")
    dash.add_argument("--suite", required=True)
    dash.add_argument("--synthetic", action="store_true", help="the synthetic run's studies")
    dash.add_argument("--out", type=Path, default=Path("."), help="folder holding runs/")
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=int, default=8080)

    sub.add_parser("suites", help="list suites, model families and search spaces")

    data = sub.add_parser("data", help="fetch or prepare datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = data_sub.add_parser("fetch", help="download a public dataset (progress, resume)")
    fetch.add_argument("dataset", help="dataset name, e.g. criteo")
    fetch.add_argument("--dest", type=Path, help="folder (default: the harness cache)")
    fetch.add_argument("--url", action="append", help="mirror to try instead (repeatable)")
    fetch.add_argument("--sha256", help="expected sha256 of the archive")
    prepare = data_sub.add_parser("prepare", help="preprocess raw files into the cache")
    prepare.add_argument("dataset", help="dataset name, e.g. criteo, criteo-1tb")
    prepare.add_argument("--data", help="raw training file, or folder (criteo-1tb: day files)")
    prepare.add_argument("--protocol", default="sequential")
    prepare.add_argument("--min-count", type=_positive_int, default=2)
    prepare.add_argument("--bad-rows", choices=("error", "skip"), default="error")
    prepare.add_argument("--seed", type=int, default=0)
    where = prepare.add_mutually_exclusive_group()
    where.add_argument(
        "--address",
        help="spread the files over this Ray cluster (e.g. auto, host:6379); the harness cache "
        "($HARNESS_HOME) must be on storage every node can reach",
    )
    where.add_argument(
        "--workers",
        type=_positive_int,
        help="spread the files over a local Ray cluster with this many CPUs",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harness`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except HarnessError as e:
        _err.print(f"[bold red]error:[/] {e}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        _err.print("[yellow]interrupted: results written so far are kept[/]")
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    # Imports are deferred so `harness --help` answers without loading torch and Ray.
    from harness import commands

    if args.command == "run":
        return commands.run(args)
    if args.command == "dashboard":
        return commands.dashboard(args)
    if args.command == "suites":
        return commands.suites()
    if args.command == "data" and args.data_command == "fetch":
        return commands.fetch(args)
    if args.command == "data" and args.data_command == "prepare":
        return commands.prepare(args)
    raise AssertionError(f"unhandled command {args.command!r}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
