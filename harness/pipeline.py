"""``harness run``: raw data to leaderboard, one suite at a time.

Order matters for a user's time: every model name and search space is checked before any data
is read, every space is checked against the dataset's schema before any trial runs (each corner
of the space is built on torch's meta device: an impossible rank or width is a one-line error,
not a failed trial), and the leaderboard is rewritten after each model, so an interrupted run
keeps what it finished.

The time budget is shared by the models in turn: each gets what is left divided by the models
left (time one model leaves unused goes to the next ones). No trial starts in the last fifth of
a model's share, and trials still running at its end are stopped and kept with the scores of
their best epoch so far, so no model eats into another's share.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

import harness
from harness.data.cache import load_encoded
from harness.data.card import DatasetCard, load_card
from harness.data.preprocess import PreprocessConfig, prepare_dataset
from harness.data.registry import write_synthetic
from harness.data.schema import EncodedDataset
from harness.data.sources import resolve_data
from harness.data.splits import get_protocol
from harness.errors import HarnessError
from harness.families.registry import get_family
from harness.leaderboard.console import leaderboard_table
from harness.leaderboard.markdown import RunInfo, render, write_atomic
from harness.leaderboard.summary import ModelSummary, summarize
from harness.paths import cache_root, downloads_dir, first_in, lookup_folders, names_in
from harness.results.table import TrialResult, read_results
from harness.suites import Suite, get_suite, suite_for_card
from harness.tuning.space import SearchSpace, load_search_space

__all__ = [
    "RunOptions",
    "RunOutcome",
    "RunPaths",
    "available_models",
    "check_against_data",
    "find_model",
    "load_models",
    "run_suite",
    "search_space_dirs",
]


# Epochs every trial gets before ASHA may stop it. A GBDT "epoch" is a block of boosting rounds
# (rounds_per_epoch in its search space): stopping after the first block would favour high
# learning rates, so GBDTs get a few blocks first.
_GRACE_EPOCHS = {"neural": 1, "gbdt": 4}
# No trial starts in the last fifth of a model's share; the share's end stops those running.
_LAUNCH_SHARE = 0.8


@dataclass(frozen=True)
class RunOptions:
    """Everything ``harness run`` was asked; None means "the suite's (or card's) default".

    ``card`` runs a user's own dataset card (``--card``): the suite is then that card's, with
    the default models; ``valid`` and ``test`` are pre-split files next to ``data``.
    """

    suite: str | None
    data: str | None = None
    card: Path | None = None
    valid: str | None = None
    test: str | None = None
    models: tuple[str, ...] | None = None
    trials: int | None = None
    time_budget_s: float | None = None
    protocol: str | None = None
    min_count: int | None = None
    bad_rows: str = "error"
    address: str | None = None
    cpus_per_trial: int | None = None
    # None: one GPU per neural trial when the cluster has GPUs, none otherwise (no warning).
    gpus_per_trial: float | None = None
    seed: int = 0
    synthetic_rows: int | None = None
    out: Path = Path(".")
    search_spaces: Path | None = None
    progress: bool = True


@dataclass(frozen=True)
class RunPaths:
    """Where a suite's outputs go: ``<out>/leaderboards/<label>.md`` and ``<out>/runs/<label>/``."""

    label: str
    leaderboard: Path
    results: Path
    studies: Path

    @classmethod
    def of(cls, out: Path, suite: str, synthetic: bool) -> RunPaths:
        label = f"{suite}-synthetic" if synthetic else suite
        run_dir = out / "runs" / label
        return cls(
            label=label,
            leaderboard=out / "leaderboards" / f"{label}.md",
            results=run_dir / "results.parquet",
            studies=run_dir / "studies.sqlite3",
        )


@dataclass(frozen=True)
class RunOutcome:
    """What a run produced."""

    paths: RunPaths
    dataset: EncodedDataset
    summaries: tuple[ModelSummary, ...]
    trials: tuple[TrialResult, ...] = field(default=())


def search_space_dirs(explicit: Path | None = None) -> list[Path]:
    """``explicit`` alone, else ``./search_spaces`` (your models) then the shipped ones."""
    return lookup_folders("search_spaces", explicit)


def available_models(folders: Sequence[Path]) -> tuple[str, ...]:
    """The model names (search-space file stems) in the lookup folders, sorted."""
    return names_in(folders)


def find_model(name: str, folders: Sequence[Path]) -> Path | None:
    """The first ``<name>.toml`` in the lookup folders."""
    return first_in(name, folders)


def load_models(names: Sequence[str], folders: Sequence[Path]) -> list[SearchSpace]:
    """The validated search space of each named model (duplicates dropped, order kept).

    Raises:
        HarnessError: no names, or a name without a file (listing the models there).
    """
    if not names:
        raise HarnessError(f"--models is empty; valid: {', '.join(available_models(folders))}")
    spaces = []
    for name in dict.fromkeys(names):
        path = find_model(name, folders)
        if path is None:
            where = ", ".join(map(str, folders))
            raise HarnessError(
                f"no model {name!r}: no {name}.toml in {where}; models: "
                f"{', '.join(available_models(folders)) or 'none'} (a model is a search-space file)"
            )
        spaces.append(load_search_space(path))
    return spaces


def check_against_data(spaces: Sequence[SearchSpace], dataset: EncodedDataset) -> int:
    """Checks every corner of every space against ``dataset`` before any trial runs.

    Returns:
        How many configurations were checked.

    Raises:
        HarnessError: one line naming the file, the key and why the schema rejects it.
    """
    checked = 0
    for space in spaces:
        checked += space.check(
            functools.partial(get_family(space.family).validate, data=dataset),
            against=f"{dataset.title} ({dataset.schema.n_num} numeric, "
            f"{dataset.schema.n_cat} categorical, {len(dataset.schema.labels)} task(s))",
        )
    return checked


def _fitting_defaults(
    spaces: Sequence[SearchSpace], dataset: EncodedDataset, console: Console
) -> tuple[list[SearchSpace], int]:
    """The suite's default models that fit the dataset; the others are left out with a note.

    A default model (not named with ``--models``) may not fit a small table (DLRM's dot product
    needs two field tokens, a cross rank of 128 a flat input of 128): it is skipped rather than
    stopping the run. Raises when no model fits.
    """
    kept, checked = [], 0
    for space in spaces:
        try:
            checked += check_against_data([space], dataset)
            kept.append(space)
        except HarnessError as e:
            console.print(f"[yellow]{space.name} left out: it does not fit this dataset ({e})[/]")
    if not kept:
        raise HarnessError(f"none of the default models fits {dataset.title}; pass --models")
    return kept, checked


def _data(card: DatasetCard, suite: Suite, opts: RunOptions, console: Console) -> EncodedDataset:
    source = resolve_data(card, opts.data, valid=opts.valid, test=opts.test)
    presplit = source.files is not None and source.files.presplit
    if presplit and opts.protocol not in (None, "files"):
        raise HarnessError(
            f"--protocol {opts.protocol}: pre-split files (--valid, --test) are already split"
        )
    config = PreprocessConfig(
        protocol="files" if presplit else opts.protocol or suite.protocol or card.protocol,
        min_count=opts.min_count or suite.min_count or card.min_count,
        seed=opts.seed,
        bad_rows=opts.bad_rows,  # type: ignore[arg-type]
    )
    if source.files is not None:
        console.print(f"data: {source.path} (from {source.origin})")
        if opts.address is not None and len(source.files.main) > 1:
            # Several raw files and a cluster: one Ray task per file (harness/distributed/).
            from harness.distributed.prepare import prepare_distributed

            return prepare_distributed(
                card,
                source.files,
                config,
                cache_root=cache_root(),
                address=opts.address,
                progress=opts.progress,
            )
        return prepare_dataset(
            card, source.files, config, cache_root=cache_root(), progress=opts.progress
        )
    rows = opts.synthetic_rows or suite.synthetic_rows or card.synthetic.rows
    fetch = (
        f"`harness data fetch {card.name}`"
        if card.download is not None
        else "--data PATH (see the card for where to get it)"
    )
    console.print(
        f"[yellow]no {card.name} data found (--data, $HARNESS_DATA_DIR, {downloads_dir()}): "
        f"running on a SYNTHETIC {card.name}-shaped dataset of {rows:,} rows instead; "
        f"for real data: {fetch}[/]"
    )
    folder = downloads_dir() / "synthetic" / f"{card.name}-{rows}-seed0"
    with console.status(f"writing {rows:,} synthetic rows to {folder}"):
        files = write_synthetic(card, folder, rows, seed=0)
    return prepare_dataset(
        card, files, config, cache_root=cache_root(), progress=opts.progress, synthetic=True
    )


def _load_cached(cache_dir: str) -> EncodedDataset:
    # Each trial memory-maps the cache itself: no copy through Ray's object store.
    return load_encoded(Path(cache_dir))


def _protocol_text(name: str) -> str:
    return f"{name}: {get_protocol(name).description}"


def _resources(cpus_per_trial: int, address: str | None) -> str:
    where = f"Ray cluster {address}" if address else f"local Ray, {os.cpu_count()} CPUs"
    return f"{where}, {cpus_per_trial} CPU per trial"


def _suite_and_card(opts: RunOptions) -> tuple[Suite, DatasetCard]:
    """The suite (named, or a user's card's) and its dataset card."""
    if opts.card is not None:
        card = load_card(opts.card)
        if opts.suite is not None and opts.suite != card.name:
            raise HarnessError(
                f"--suite {opts.suite} and --card {opts.card} (dataset {card.name!r}): give one"
            )
        return suite_for_card(card), card
    if opts.suite is None:
        raise HarnessError("give --suite NAME (see `harness suites`) or --card FILE for your data")
    suite = get_suite(opts.suite)
    return suite, load_card(suite.dataset)


def run_suite(opts: RunOptions, console: Console) -> RunOutcome:
    """Runs one suite end to end and writes its leaderboard; see the module docstring."""
    from harness.tuning.tuner import ray_session, tune_model  # the one module importing ray

    suite, card = _suite_and_card(opts)
    spaces = load_models(opts.models or suite.models, search_space_dirs(opts.search_spaces))
    dataset = _data(card, suite, opts, console)
    with console.status("checking every search space against the dataset's schema"):
        if opts.models:  # asked for by name: each must fit
            checked = check_against_data(spaces, dataset)
        else:
            spaces, checked = _fitting_defaults(spaces, dataset, console)
    console.print(f"search spaces: {checked} corner configurations fit the dataset")
    paths = RunPaths.of(opts.out, suite.name, dataset.synthetic)
    dataset_id = Path(dataset.cache_dir).name if dataset.cache_dir else dataset.name
    trials = opts.trials or suite.trials
    default_budget = suite.synthetic_time_budget_s if dataset.synthetic else suite.time_budget_s
    budget = opts.time_budget_s or default_budget
    cpus_per_trial = opts.cpus_per_trial or 1
    started = datetime.now(UTC)
    info = RunInfo(
        suite=suite.name,
        title=dataset.title,
        synthetic=dataset.synthetic,
        source=dataset.source,
        protocol=_protocol_text(dataset.protocol),
        min_count=opts.min_count or suite.min_count or card.min_count,
        rows=(dataset.train.n_rows, dataset.valid.n_rows, dataset.test.n_rows),
        skipped_rows=dataset.skipped_rows,
        n_num=dataset.schema.n_num,
        n_cat=dataset.schema.n_cat,
        vocabulary=sum(dataset.schema.cardinalities),
        started_at=f"{started:%Y-%m-%d %H:%M} UTC",
        harness_version=harness.__version__,
        resources=_resources(cpus_per_trial, opts.address),
        trials_per_model=trials,
        time_budget_s=budget,
        results_path=str(paths.results),
        storage_url=f"sqlite:///{paths.studies}",
        models=tuple((s.name, s.family, s.description) for s in spaces),
        tasks=dataset.schema.labels,
        group=dataset.schema.query_group,
        card=card.path,
    )
    if dataset.skipped_rows:
        console.print(f"[yellow]skipped {dataset.skipped_rows:,} malformed rows (--bad-rows skip)")
    console.print(
        f"{dataset.title}: train {dataset.train.n_rows:,} · valid {dataset.valid.n_rows:,} · "
        f"test {dataset.test.n_rows:,} rows, protocol {dataset.protocol}"
    )
    wall: dict[str, float] = {}
    summaries: list[ModelSummary] = []
    this_run: list[TrialResult] = []
    deadline = time.monotonic() + budget
    with ray_session(opts.address) as cluster:
        gpus = opts.gpus_per_trial
        if gpus is None:
            gpus = 1.0 if cluster.gpus >= 1 else 0.0
        for i, space in enumerate(spaces):
            family = get_family(space.family)
            left = deadline - time.monotonic()
            if left <= 0:
                console.print(f"[yellow]time budget spent: {space.name} not tuned[/]")
                break
            share = left / (len(spaces) - i)
            t0 = time.monotonic()
            rows = tune_model(
                space,
                dataset,
                suite=paths.label,
                dataset_id=dataset_id,
                study_db=paths.studies,
                num_samples=trials,
                time_budget_s=_LAUNCH_SHARE * share,
                hard_time_limit_s=share,
                seed=opts.seed,
                cpus_per_trial=cpus_per_trial,
                gpus_per_trial=gpus if family.kind == "neural" else 0.0,
                grace_period=_GRACE_EPOCHS[family.kind],
                address=opts.address,
                results_path=paths.results,
                load_dataset=_load_cached,
                show_progress=opts.progress,
                console=console,
            )
            wall[space.name] = time.monotonic() - t0
            this_run.extend(rows)
            summaries = _write_leaderboard(paths, info, spaces, wall, dataset_id)
    console.print(leaderboard_table(f"Leaderboard: {dataset.title}", summaries))
    console.print(f"leaderboard: {paths.leaderboard}\nevery trial: {paths.results}")
    return RunOutcome(paths, dataset, tuple(summaries), tuple(this_run))


def _write_leaderboard(
    paths: RunPaths,
    info: RunInfo,
    spaces: Sequence[SearchSpace],
    wall: Mapping[str, float],
    dataset_id: str,
) -> list[ModelSummary]:
    # Every trial ever run on this exact data (same cache key) with the same search space (same
    # fingerprint), not just this run's: a re-run adds trials to the same studies, and the
    # leaderboard reflects all of them; trials of an edited space are counted, not ranked.
    rows = [r for r in read_results(paths.results) if r.dataset == dataset_id]
    models = {s.name: (get_family(s.family).kind, s.fingerprint) for s in spaces}
    summaries = summarize(rows, models, wall)
    write_atomic(paths.leaderboard, render(info, summaries))
    return summaries
