"""What each ``harness`` sub-command does, given its parsed arguments."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.errors import HarnessError

__all__ = ["dashboard", "fetch", "prepare", "run", "suites"]

_out = Console(highlight=False)


def run(args: argparse.Namespace) -> int:
    from harness.pipeline import RunOptions, run_suite

    models = None
    if args.models is not None:
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    options = RunOptions(
        suite=args.suite,
        data=args.data,
        models=models,
        trials=args.trials,
        time_budget_s=args.time_budget,
        protocol=args.protocol,
        min_count=args.min_count,
        bad_rows=args.bad_rows,
        address=args.address,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        seed=args.seed,
        synthetic_rows=args.synthetic_rows,
        out=args.out,
        search_spaces=args.search_spaces,
        progress=not args.quiet,
    )
    run_suite(options, _out)
    return 0


def dashboard(args: argparse.Namespace) -> int:
    import optuna_dashboard

    from harness.pipeline import RunPaths
    from harness.suites import get_suite

    suite = get_suite(args.suite)
    paths = RunPaths.of(args.out, suite.name, args.synthetic)
    if not paths.studies.exists():
        other = RunPaths.of(args.out, suite.name, not args.synthetic)
        hint = (
            f" (there is {other.studies}: add {'no ' if args.synthetic else ''}--synthetic)"
            if other.studies.exists()
            else f" (run `harness run --suite {suite.name}` first)"
        )
        raise HarnessError(f"no studies at {paths.studies}{hint}")
    url = f"sqlite:///{paths.studies.resolve()}"
    _out.print(f"optuna-dashboard over {url} on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    optuna_dashboard.run_server(url, host=args.host, port=args.port)
    return 0


def suites() -> int:
    from harness.models import BACKBONES, HEADS, INTERACTIONS, NUMERIC_ENCODINGS
    from harness.pipeline import available_models, search_space_dir
    from harness.suites import SUITES
    from harness.tuning.space import load_search_space

    table = Table(title="Suites", title_justify="left")
    for column in ("suite", "dataset", "protocol", "models", "trials", "budget"):
        table.add_column(column)
    for s in SUITES.values():
        table.add_row(
            s.name,
            s.dataset,
            s.protocol,
            ", ".join(s.models),
            str(s.trials),
            f"{s.time_budget_s:g} s (synthetic data: {s.synthetic_time_budget_s:g} s)",
        )
    _out.print(table)
    folder = search_space_dir()
    spaces = Table(title=f"Models: search-space files in {folder}", title_justify="left")
    for column in ("model", "family", "what it is", "searched parameters"):
        spaces.add_column(column, no_wrap=column == "model")
    for name in available_models(folder):
        try:
            space = load_search_space(folder / f"{name}.toml")
            searched = ", ".join(n.removeprefix("model.") for n in space.names) or "(none)"
            spaces.add_row(name, space.family, space.description, searched)
        except HarnessError as e:
            spaces.add_row(name, "?", f"[red]{e}[/]", "")
    _out.print(spaces)
    parts = Table(
        title="Parts a neural model composes (kind = ... in a search space)", title_justify="left"
    )
    for column in ("slot", "kind", "what it is"):
        parts.add_column(column, no_wrap=column != "what it is")
    for slot, registry in (
        ("model.tokenizer.numeric", NUMERIC_ENCODINGS),
        ("model.interaction", INTERACTIONS),
        ("model.backbone", BACKBONES),
        ("model.head", HEADS),
    ):
        for kind, config in registry.items():
            parts.add_row(slot, kind, config.summary)
    _out.print(parts)
    return 0


def fetch(args: argparse.Namespace) -> int:
    from harness.data.fetch import fetch_dataset
    from harness.data.registry import get_dataset
    from harness.paths import downloads_dir

    adapter = get_dataset(args.dataset)
    if adapter.download is None:
        how = adapter.manual_download or "pass --data to `harness run`"
        raise HarnessError(f"{adapter.name} cannot be fetched by harness: {how} ({adapter.card})")
    folder: Path = args.dest or downloads_dir() / adapter.name
    path = fetch_dataset(adapter.download, folder, urls=args.url, sha256=args.sha256)
    _out.print(f"{adapter.name}: {path}\nlicence and terms: {adapter.card}")
    return 0


def prepare(args: argparse.Namespace) -> int:
    from harness.data.preprocess import PreprocessConfig, describe
    from harness.data.registry import get_dataset
    from harness.data.sources import resolve_data
    from harness.paths import cache_root

    adapter = get_dataset(args.dataset)
    source = resolve_data(adapter.name, args.data)
    if source.path is None:
        raise HarnessError(
            f"no {adapter.name} data found; pass --data PATH or run `harness data fetch "
            f"{adapter.name}`"
        )
    config = PreprocessConfig(
        protocol=args.protocol, min_count=args.min_count, seed=args.seed, bad_rows=args.bad_rows
    )
    if args.address is not None or args.workers is not None:
        from harness.distributed import prepare_distributed  # imports ray: only when asked

        dataset = prepare_distributed(
            source.files,
            config,
            cache_root=cache_root(),
            address=args.address,
            num_cpus=args.workers,
            name=adapter.name,
        )
    else:
        dataset = adapter.prepare(source.files, config, cache_root=cache_root(), name=adapter.name)
    _out.print(describe(dataset))
    return 0
