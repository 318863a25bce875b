"""What each ``harness`` sub-command does, given its parsed arguments."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.errors import HarnessError

__all__ = ["dashboard", "datasets", "fetch", "init", "leaderboard", "prepare", "run", "suites"]

_out = Console(highlight=False)


def run(args: argparse.Namespace) -> int:
    from harness.pipeline import RunOptions, run_suite

    studies = None
    if args.study is not None:
        studies = tuple(m.strip() for m in args.study.split(",") if m.strip())
        if not studies:
            from harness.studies.files import available_studies, study_dirs

            valid = ", ".join(available_studies(study_dirs(args.search_spaces)))
            raise HarnessError(f"--study is empty; studies: {valid}")
        if args.trials is not None:
            raise HarnessError("--trials is for a search; a study runs --seeds trials per arm")
        if args.seeds == 0:
            raise HarnessError("--seeds 0: a study needs at least one seed per arm")
    models = None
    if args.models is not None:
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
        if not models:
            from harness.pipeline import available_models, search_space_dirs

            valid = ", ".join(available_models(search_space_dirs(args.search_spaces)))
            raise HarnessError(f"--models is empty; valid: {valid}")
    options = RunOptions(
        suite=args.suite,
        data=args.data,
        card=args.card,
        valid=args.valid,
        test=args.test,
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
        resume=args.resume,
        fresh=args.fresh,
        command=getattr(args, "command_line", ""),
        studies=studies,
        seeds=3 if args.seeds is None else args.seeds,
        optuna_storage=args.optuna_storage,
        storage_path=args.storage_path,
    )
    if studies is not None:
        from harness.study_pipeline import run_studies

        run_studies(options, _out)
    else:
        run_suite(options, _out)
    return 0


def leaderboard(args: argparse.Namespace) -> int:
    from harness.leaderboard.console import leaderboard_table
    from harness.leaderboard.rebuild import rebuild
    from harness.run_folder import RunPaths, check_writable

    paths = RunPaths.of(args.out, args.suite, args.synthetic)
    folders = list(args.runs or [paths.run_dir])
    target = paths.leaderboard
    if args.runs:  # named after the first folder's label
        target = args.out / "leaderboards" / f"{Path(folders[0]).resolve().name}.md"
    check_writable(target.parent)
    with _out.status(f"rebuilding {target} from {len(folders)} run folder(s)"):
        built = rebuild(folders, target, dataset=args.dataset, search_spaces=args.search_spaces)
    _out.print(leaderboard_table(f"Leaderboard: {built.dataset}", built.summaries))
    _out.print(
        f"leaderboard: {escape(str(built.leaderboard))} ({built.trials} trials from "
        f"{len(built.folders)} run folder(s) on {escape(built.dataset)})"
    )
    return 0


def dashboard(args: argparse.Namespace) -> int:
    import optuna_dashboard

    from harness.run_folder import RunPaths
    from harness.suites import SUITES

    if args.optuna_storage is not None:
        from harness.tuning.studies import open_storage
        from harness.urls import masked_url

        storage = open_storage(args.optuna_storage)  # a refused connection: one line
        _check_port(args.host, args.port)
        _out.print(
            f"optuna-dashboard over {masked_url(args.optuna_storage)} on "
            f"http://{args.host}:{args.port}/ (Ctrl-C stops)"
        )
        optuna_dashboard.run_server(storage, host=args.host, port=args.port)
        return 0
    # A suite's name, or the name of a run on your own card (`harness run --card FILE`).
    name = args.suite
    paths = RunPaths.of(args.out, name, args.synthetic)
    if not paths.studies.exists():
        other = RunPaths.of(args.out, name, not args.synthetic)
        runs = sorted(p.parent.name for p in (args.out / "runs").glob("*/studies.sqlite3"))
        if other.studies.exists():
            hint = f"there is {other.studies}: add {'no ' if args.synthetic else ''}--synthetic"
        elif name in SUITES:
            hint = f"run `harness run --suite {name}` first"
        else:
            hint = (
                f"{name!r} is no suite ({', '.join(sorted(SUITES))}) and no run; runs in "
                f"{args.out / 'runs'}: {', '.join(runs) or 'none'}"
            )
        raise HarnessError(f"no studies at {paths.studies} ({hint})")
    url = f"sqlite:///{paths.studies.resolve()}"
    _check_port(args.host, args.port)
    _out.print(f"optuna-dashboard over {url} on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    optuna_dashboard.run_server(url, host=args.host, port=args.port)
    return 0


def _check_port(host: str, port: int) -> None:
    """Raises a one-line error when the dashboard could not listen on ``host:port``."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as e:
            raise HarnessError(
                f"cannot listen on {host}:{port} ({e.strerror or e}): pass --port OTHER "
                f"(e.g. --port {port + 1})"
            ) from None


def suites() -> int:
    from harness.content.compressors import COMPRESSORS
    from harness.data.card import load_card
    from harness.models import BACKBONES, EMBEDDINGS, HEADS, INTERACTIONS, NUMERIC_ENCODINGS
    from harness.pipeline import available_models, find_model, search_space_dirs
    from harness.suites import SUITES
    from harness.training.embeddings import EMBEDDING_OPTIMIZERS, EMBEDDING_SCHEDULES
    from harness.tuning.space import load_search_space

    table = Table(title="Suites", title_justify="left")
    for column in ("suite", "dataset", "protocol", "models", "trials", "budget"):
        table.add_column(column)
    for s in SUITES.values():
        table.add_row(
            s.name,
            s.dataset,
            s.protocol or load_card(s.dataset).protocol,
            ", ".join(s.models),
            str(s.trials),
            f"{s.time_budget_s:g} s (synthetic data: {s.synthetic_time_budget_s:g} s)",
        )
    _out.print(table)
    folders = search_space_dirs()
    shown = ", ".join(map(str, folders))
    spaces = Table(title=f"Models: search-space files in {shown}", title_justify="left")
    for column in ("model", "family", "what it is", "searched parameters"):
        spaces.add_column(column, no_wrap=column == "model")
    for name in available_models(folders):
        try:
            path = find_model(name, folders)
            assert path is not None
            space = load_search_space(path)
            searched = ", ".join(n.removeprefix("model.") for n in space.names) or "(none)"
            spaces.add_row(name, space.family, space.description, searched)
        except HarnessError as e:
            spaces.add_row(name, "?", f"[red]{escape(str(e))}[/]", "")
    _out.print(spaces)
    parts = Table(
        title="Parts a model composes (kind = ... in a search space; content: every family)",
        title_justify="left",
    )
    for column in ("slot", "kind", "what it is"):
        parts.add_column(column, no_wrap=column != "what it is")
    for slot, registry in (
        ("model.tokenizer.numeric", NUMERIC_ENCODINGS),
        ("model.tokenizer.embedding", EMBEDDINGS),
        ("model.interaction", INTERACTIONS),
        ("model.backbone", BACKBONES),
        ("model.head", HEADS),
        ("train.embeddings.optimizer", EMBEDDING_OPTIMIZERS),
        ("train.embeddings.schedule", EMBEDDING_SCHEDULES),
        ("content.compressor", COMPRESSORS),
    ):
        for kind, config in registry.items():
            parts.add_row(slot, kind, config.summary)
    _out.print(parts)
    _out.print(_studies_table())
    return 0


def _studies_table() -> Table:
    from harness.studies.files import available_studies, find_study, load_study, study_dirs

    folders = study_dirs()
    shown = ", ".join(map(str, folders))
    table = Table(
        title=f"Factor studies (harness run --study NAME): files in {shown}", title_justify="left"
    )
    for column in ("study", "what it varies", "factor", "arms"):
        table.add_column(column, no_wrap=column == "study")
    for name in available_studies(folders):
        path = find_study(name, folders)
        assert path is not None
        try:
            study = load_study(path)
            arms = ", ".join(a.name for a in study.arms)
            table.add_row(name, study.description, study.factor_text, arms)
        except HarnessError as e:
            table.add_row(name, f"[red]{escape(str(e))}[/]", "", "")
    return table


def fetch(args: argparse.Namespace) -> int:
    from harness.data.fetch import fetch_dataset
    from harness.data.registry import download_of, get_dataset
    from harness.paths import downloads_dir

    card = get_dataset(args.dataset)
    download = download_of(card)
    if download is None:
        how = card.manual_download or "pass --data to `harness run`"
        raise HarnessError(f"{card.name} cannot be fetched by harness: {how} ({card.path})")
    folder: Path = args.dest or downloads_dir() / card.name
    path = fetch_dataset(download, folder, urls=args.url, sha256=args.sha256)
    _out.print(f"{card.name}: {path}\nlicence and terms: {card.docs or card.path}")
    return 0


def prepare(args: argparse.Namespace) -> int:
    from harness.data.card import load_card
    from harness.data.preprocess import PreprocessConfig, describe, prepare_dataset
    from harness.data.sources import resolve_data
    from harness.paths import cache_root

    card = load_card(args.card or args.dataset)
    source = resolve_data(card, args.data, valid=args.valid, test=args.test)
    if source.files is None:
        raise HarnessError(
            f"no {card.name} data found; pass --data PATH"
            + (f" or run `harness data fetch {card.name}`" if card.download else "")
        )
    config = PreprocessConfig.for_files(
        source.files,
        protocol=args.protocol,
        default_protocol=card.protocol,
        min_count=args.min_count or card.min_count,
        seed=args.seed,
        bad_rows=args.bad_rows,
    )
    if args.address is not None or args.workers is not None:
        from harness.distributed import prepare_distributed  # imports ray: only when asked

        dataset = prepare_distributed(
            card,
            source.files,
            config,
            cache_root=cache_root(),
            address=args.address,
            num_cpus=args.workers,
        )
    else:
        dataset = prepare_dataset(card, source.files, config, cache_root=cache_root())
    _out.print(describe(dataset))
    return 0


def init(args: argparse.Namespace) -> int:
    from harness.data.draft import draft_card

    draft = draft_card(
        args.file,
        label=args.label,
        name=args.name,
        positive=args.positive,
        group=args.group,
        time=args.time,
    )
    out: Path = args.out or Path(f"{Path(args.file).name.split('.')[0]}.toml")
    if out.exists() and not args.force:
        raise HarnessError(f"{out} exists; pass --out OTHER.toml or --force to replace it")
    out.write_text(draft.text)
    _out.print(
        f"wrote {out}: {len(draft.numeric)} numeric, {len(draft.categorical)} categorical, "
        f"{len(draft.skipped)} left out; check it, then run "
        f"`harness run --data {args.file} --card {out}`",
        soft_wrap=True,
    )
    return 0


def datasets(args: argparse.Namespace) -> int:
    from harness.data.card import card_names, load_card

    cards = [load_card(n) for n in card_names()]
    if args.markdown:
        _out.print(datasets_markdown(cards), soft_wrap=True, markup=False)
        return 0
    table = Table(title="Datasets (cards in datasets/)", title_justify="left")
    for column in ("dataset", "what it is", "tasks", "features", "protocol", "licence"):
        table.add_column(column, no_wrap=column == "dataset")
    for card in cards:
        table.add_row(
            card.name,
            card.description,
            ", ".join(card.labels),
            _features(card),
            card.protocol,
            card.licence,
        )
    _out.print(table)
    return 0


def _features(card: Any) -> str:
    """A card's features in a few words: numeric, categorical, text and vector columns."""
    text = f", {len(card.text)} text" if card.text else ""
    text += f", {len(card.vectors)} vector" if card.vectors else ""
    return f"{len(card.numeric)} numeric, {len(card.categorical)} categorical{text}"


def datasets_markdown(cards: list[Any]) -> str:
    """The README's dataset table, made from the cards (``harness data list --markdown``)."""
    lines = [
        "| dataset | what it is | tasks | features | groups | default split | licence |",
        "|---|---|---|---|---|---|---|",
    ]
    for card in cards:
        lines.append(
            f"| `{card.name}` | {card.description} | {', '.join(card.labels)} | "
            f"{_features(card)} | {card.group or '—'} | {card.protocol} | {card.licence} |"
        )
    return "\n".join(lines)
