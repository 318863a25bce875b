"""The ``harness`` command line: parse arguments, call the pipeline, print one-line errors.

Only this module and the registries turn names into objects.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from harness import __version__
from harness.errors import HarnessError, RunInterruptedError
from harness.urls import masked_url

__all__ = ["main"]

_err = Console(stderr=True, highlight=False)


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}, got {value}")
        return value

    return parse


_positive_int = _whole_number(1)
_non_negative_int = _whole_number(0)


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

    run = sub.add_parser("run", help="preprocess, tune every model, write the leaderboard")
    run.add_argument("--suite", help="suite name (see `harness suites`)")
    run.add_argument(
        "--card",
        type=Path,
        help="your dataset card (`harness data init` drafts one) instead of a suite",
    )
    run.add_argument("--data", help="raw data file or folder (else $HARNESS_DATA_DIR, cache)")
    run.add_argument("--valid", help="pre-split data: the validation file (with --data, --test)")
    run.add_argument("--test", help="pre-split data: the test file (with --data, --valid)")
    run.add_argument(
        "--models", help="comma-separated models: search-space files (default: the suite's)"
    )
    run.add_argument("--trials", type=_positive_int, help="trials per model")
    run.add_argument(
        "--time-budget",
        type=_positive_float,
        help="seconds for the run, shared by the models (see the README on shares)",
    )
    run.add_argument(
        "--protocol",
        help="split protocol: sequential, x1, x4, time, group, last (default: the card's)",
    )
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
    run.add_argument(
        "--study",
        help="comma-separated factor studies (search_spaces/studies/<name>.toml) instead of a "
        "search: each arm of the best neural configuration (or --models PRESET's) with --seeds",
    )
    run.add_argument(
        "--seeds",
        type=_non_negative_int,
        help="after the search, the best configuration of each model is retrained with this "
        "many new seeds for mean ± std and the significance tests (default: 3; 0: none); "
        "--study: trials (seeds) per arm",
    )
    run.add_argument(
        "--optuna-storage",
        help="Optuna storage URL for the studies (e.g. postgresql://user@host/db, for a "
        "cluster); default: runs/<suite>/studies.sqlite3",
    )
    run.add_argument(
        "--storage-path",
        help="Ray Tune's experiment state (trial folders), e.g. a shared filesystem every node "
        "reaches; default: runs/<suite>/ray",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    again = run.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue the run already in --out (after Ctrl-C or a kill): recorded trials are kept",
    )
    again.add_argument(
        "--fresh",
        action="store_true",
        help="move the run already in --out aside (runs/<suite>-<time>/) and start a new one",
    )

    dash = sub.add_parser("dashboard", help="open optuna-dashboard over a suite's studies")
    where = dash.add_mutually_exclusive_group(required=True)
    where.add_argument("--suite", help="a suite, or the dataset name of a `--card` run")
    where.add_argument(
        "--optuna-storage",
        help="the studies of `harness run --optuna-storage URL` instead (every run folder's "
        "studies in that database, e.g. postgresql://user@host/db)",
    )
    dash.add_argument("--synthetic", action="store_true", help="the synthetic run's studies")
    dash.add_argument("--out", type=Path, default=Path("."), help="folder holding runs/")
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=int, default=8080)

    board = sub.add_parser(
        "leaderboard", help="rebuild a suite's leaderboard from results tables, without training"
    )
    board.add_argument("--suite", required=True, help="a suite, or the dataset name of a card run")
    board.add_argument("--synthetic", action="store_true", help="the synthetic run's folder")
    board.add_argument(
        "--runs",
        type=Path,
        nargs="+",
        help="run folders to merge (runs/<label>/, from any runs or machines); default: the "
        "suite's folder in --out",
    )
    board.add_argument("--dataset", help="the data identity to rank when the runs hold several")
    board.add_argument("--out", type=Path, default=Path("."), help="folder for leaderboards/")
    board.add_argument(
        "--search-spaces", type=Path, help="folder of search-space and study files (descriptions)"
    )

    sub.add_parser("suites", help="list suites, model families and search spaces")

    data = sub.add_parser("data", help="fetch or prepare datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = data_sub.add_parser("fetch", help="download a public dataset (progress, resume)")
    fetch.add_argument("dataset", help="dataset name, e.g. criteo")
    fetch.add_argument("--dest", type=Path, help="folder (default: the harness cache)")
    fetch.add_argument("--url", action="append", help="mirror to try instead (repeatable)")
    fetch.add_argument("--sha256", help="expected sha256 of the archive")
    prepare = data_sub.add_parser("prepare", help="preprocess raw files into the cache")
    prepare.add_argument("dataset", nargs="?", help="dataset name, e.g. criteo, criteo-1tb")
    prepare.add_argument("--card", type=Path, help="a dataset card file instead of a name")
    prepare.add_argument("--data", help="raw data file, or folder (criteo-1tb: day files)")
    prepare.add_argument("--valid", help="pre-split data: the validation file")
    prepare.add_argument("--test", help="pre-split data: the test file")
    prepare.add_argument("--protocol", help="split protocol (default: the card's)")
    prepare.add_argument("--min-count", type=_positive_int)
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
    init = data_sub.add_parser("init", help="draft a dataset card for your own file")
    init.add_argument("file", help="a CSV, TSV or parquet file (plain or gzip)")
    init.add_argument("--label", required=True, help="the column to predict")
    init.add_argument("--positive", help="the label value that means 1 (default: inferred)")
    init.add_argument("--group", help="a query or user column (per-group metrics, splits)")
    init.add_argument("--time", help="a time column (the by-time split protocol)")
    init.add_argument("--name", help="the dataset's name (default: the file's)")
    init.add_argument("--out", type=Path, help="where to write the card (default: <file>.toml)")
    init.add_argument("--force", action="store_true", help="replace an existing card")
    listing = data_sub.add_parser("list", help="the dataset cards")
    listing.add_argument("--markdown", action="store_true", help="as the README's table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harness`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    words = list(sys.argv[1:] if argv is None else argv)
    # Written to run.json and the leaderboard: a password in a URL (--optuna-storage) is not.
    args.command_line = " ".join(["harness", *(shlex.quote(masked_url(w)) for w in words)])
    try:
        return _dispatch(args)
    except HarnessError as e:
        _err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        return 2
    except RunInterruptedError as e:
        _err.print(f"[yellow]{escape(str(e))}[/]", soft_wrap=True)
        return e.exit_status
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
    if args.command == "leaderboard":
        return commands.leaderboard(args)
    if args.command == "suites":
        return commands.suites()
    if args.command == "data" and args.data_command == "fetch":
        return commands.fetch(args)
    if args.command == "data" and args.data_command == "prepare":
        if args.dataset is None and args.card is None:
            raise HarnessError("give a dataset name or --card FILE")
        return commands.prepare(args)
    if args.command == "data" and args.data_command == "init":
        return commands.init(args)
    if args.command == "data" and args.data_command == "list":
        return commands.datasets(args)
    raise AssertionError(f"unhandled command {args.command!r}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
