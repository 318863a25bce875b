"""``harness leaderboard``: a leaderboard rebuilt from results tables, without training.

Each run folder (``runs/<label>/``) keeps its results table, its record (``run.json``) and the
facts of its header (``info.json``). Several folders (from several runs or machines) merge: their
rows are pooled per data identity (the ``dataset`` column, the cache key of the encoded data)
and, within it, per model and search-space fingerprint (a model's newest fingerprint is ranked,
trials of older versions are counted), so the best trial, its repeats over seeds and the
significance tests are computed over everything recorded. Folders on different data are never
pooled: ``--dataset`` chooses one.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.families.registry import get_family
from harness.leaderboard.markdown import RunInfo
from harness.leaderboard.publish import Board, publish
from harness.leaderboard.summary import ModelSummary
from harness.repeats import TEST_LABELS
from harness.results.table import TrialResult, is_search_trial, read_results
from harness.run_folder import RunState
from harness.studies.files import study_dirs, study_files_of

__all__ = ["Rebuilt", "RunFolder", "read_run_folder", "rebuild"]


@dataclass(frozen=True)
class RunFolder:
    """One run folder as the rebuild reads it.

    Attributes:
        path: the folder (``runs/<label>``).
        info: its header facts.
        state: its record (None: no ``run.json``).
        rows: its trials, predictions paths made absolute.
    """

    path: Path
    info: RunInfo
    state: RunState | None
    rows: tuple[TrialResult, ...]


@dataclass(frozen=True)
class Rebuilt:
    """What ``harness leaderboard`` wrote."""

    leaderboard: Path
    plot: Path
    dataset: str
    folders: tuple[Path, ...]
    summaries: tuple[ModelSummary, ...]
    trials: int


def read_run_folder(path: Path) -> RunFolder:
    """Reads a run folder.

    Raises:
        HarnessError: not a run folder, or one written before ``info.json`` was kept.
    """
    # Absolute: the predictions' paths built from it must not depend on the working folder.
    path = path.resolve()
    results, info = path / "results.parquet", path / "info.json"
    if not results.exists():
        raise HarnessError(f"{path} holds no results table (results.parquet): not a run folder")
    if not info.exists():
        raise HarnessError(
            f"{path} has no info.json (written by an older harness): run the same `harness run` "
            "with --resume once to record it"
        )
    try:
        facts = RunInfo.from_json(info.read_text())
    except ValueError as e:
        raise HarnessError(f"{info}: {e}") from None
    rows = tuple(
        dataclasses.replace(r, predictions=str(path / r.predictions)) if r.predictions else r
        for r in read_results(results)
    )
    return RunFolder(path, facts, RunState.load(path / "run.json"), rows)


def rebuild(
    folders: Sequence[Path],
    leaderboard: Path,
    *,
    dataset: str | None = None,
    search_spaces: Path | None = None,
) -> Rebuilt:
    """Merges ``folders`` and writes their leaderboard at ``leaderboard`` (and its plot).

    Raises:
        HarnessError: a folder is not a run folder, the folders hold several data identities
            and ``dataset`` does not choose one, or ``dataset`` is in none of them.
    """
    if not folders:
        raise HarnessError("no run folder to rebuild a leaderboard from")
    runs = [read_run_folder(Path(f)) for f in dict.fromkeys(folders)]
    chosen = _data_identity(runs, dataset)
    runs = [r for r in runs if any(row.dataset == chosen for row in r.rows)]
    rows = [row for r in runs for row in r.rows if row.dataset == chosen]
    states = [r.state for r in runs if r.state is not None]
    wall: Counter[str] = Counter()
    for state in states:
        wall.update(state.spent_s)
    environments = tuple(dict.fromkeys(e for r in runs for e in r.info.environments))
    first = runs[0].info
    info = dataclasses.replace(
        first,
        invocations=sum(s.search_invocations for s in states) or first.invocations,
        wall_seconds=sum(s.spent_total for s in states) or first.wall_seconds,
        trials_per_model=max((s.trials_per_model for s in states), default=0)
        or first.trials_per_model,
        environments=environments,
        commands=tuple(dict.fromkeys(i.command for s in states for i in s.invocations if i.command))
        or first.commands,
        merged_from=tuple(str(r.path) for r in runs) if len(runs) > 1 else (),
        interrupted=False,
    )
    names = {row.factor_study for row in rows if row.factor_study}
    board = Board(
        info=info,
        rows=rows,
        models=_models(rows),
        wall_seconds=dict(wall),
        asked=info.trials_per_model,
        run_dir=next(
            (r.path for r in runs if (r.path / "predictions" / TEST_LABELS).exists()), None
        ),
        study_files=study_files_of(names, study_dirs(search_spaces)),
    )
    plot = leaderboard.with_name(f"{leaderboard.stem}-search.png")
    summaries, _ = publish(board, leaderboard, plot)
    return Rebuilt(
        leaderboard=leaderboard,
        plot=plot,
        dataset=chosen,
        folders=tuple(r.path for r in runs),
        summaries=tuple(summaries),
        trials=len(rows),
    )


def _with_labels(runs: Sequence[RunFolder]) -> Path | None:
    """The first folder keeping the test labels the bootstrap needs (None: none does)."""
    return next((r.path for r in runs if (r.path / "predictions" / TEST_LABELS).exists()), None)


def _data_identity(runs: Sequence[RunFolder], dataset: str | None) -> str:
    counts = Counter(row.dataset for r in runs for row in r.rows)
    if not counts:
        raise HarnessError(f"no trial in {', '.join(str(r.path) for r in runs)}")
    if dataset is not None:
        if dataset not in counts:
            raise HarnessError(
                f"--dataset {dataset}: not in these runs; they hold {_listing(counts)}"
            )
        return dataset
    if len(counts) > 1:
        raise HarnessError(
            f"these runs are on {len(counts)} different data ({_listing(counts)}): pass "
            "--dataset ID to choose one (trials on different data are never ranked together)"
        )
    (only,) = counts
    return only


def _listing(counts: Counter[str]) -> str:
    return ", ".join(f"{name} ({n} trials)" for name, n in counts.most_common())


def _models(rows: Sequence[TrialResult]) -> dict[str, tuple[str, str]]:
    """Model -> (kind, the fingerprint of its newest search trial), in first-seen order."""
    newest: dict[str, TrialResult] = {}
    for row in rows:
        if not is_search_trial(row):
            continue
        if row.model not in newest or row.started_at > newest[row.model].started_at:
            newest[row.model] = row
    out: dict[str, tuple[str, str]] = {}
    for model, row in newest.items():
        try:
            kind = get_family(row.family).kind
        except HarnessError:
            continue  # a family this version no longer has: its rows are not ranked
        out[model] = (kind, row.space_fingerprint)
    return out
