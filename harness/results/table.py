"""The results table: one flat ``TrialResult`` row per finished trial, kept in a parquet file.

Appends are atomic (write a temporary file next to the table, then ``os.replace``) and serialised
with a lock file, so an interrupted run keeps every row written before the interruption and two
runs appending to one table do not lose each other's rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import typing
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import polars as pl

import harness
from harness.atomic import replace_atomically

__all__ = [
    "RESULT_SCHEMA",
    "STATUSES",
    "TrialResult",
    "append_results",
    "best_trial",
    "is_search_trial",
    "package_versions",
    "read_results",
    "read_results_frame",
]

Status = Literal["complete", "pruned", "failed", "interrupted"]
STATUSES: tuple[str, ...] = typing.get_args(Status)


@dataclass(frozen=True)
class TrialResult:
    """One trial, one flat row.

    Metrics are those of the best validation epoch (for a GBDT: the best boosting round). A
    pruned trial (stopped by the ASHA scheduler or by its share of the time budget) has the
    validation metrics of its best epoch so far, and test metrics where the family scored test
    at that epoch; a failed one has ``error`` and whatever it reported before failing; an
    interrupted one (Ctrl-C, or a killed run) has its curve so far and is never ranked.

    Attributes:
        suite: the benchmark suite (e.g. "criteo").
        dataset: the dataset name.
        protocol: the split protocol (e.g. "random", "temporal").
        family: the family that trained it ("lightgbm", "catboost", "neural").
        model: the model, i.e. the search-space file's name ("lightgbm", "dcnv2", "deepfm", ...);
            rows written before models existed have "" and are read as their family.
        space_fingerprint: the search space's fingerprint (`SearchSpace.fingerprint`): rows of
            an edited file are told apart from older ones.
        config: the resolved typed config as JSON, in the layout of a search-space file (every
            value a constant), so the trial can be re-run exactly.
        task_metrics: per-task scores as JSON, ``{label: {valid_auc, valid_logloss, test_auc,
            test_logloss, test_gauc, test_ndcg10}}`` ("{}" unless the data has several tasks).
        study: the Optuna study the trial belongs to ("<suite>/<model>@<fingerprint>").
        trial_id: Ray Tune's trial id (unique within a run).
        study_trial: the Optuna trial number in ``study`` (None if unknown).
        params: the sampled parameters as JSON (Optuna primitives; see ``SearchSpace``).
        seed: the training seed (a study's trials: one each, ``--seed`` + 0, 1, ...).
        status: "complete", "pruned", "failed" or "interrupted" (its Optuna trial: COMPLETE,
            PRUNED, FAIL, FAIL).
        error: the failure, one line ("" unless failed).
        valid_auc, valid_logloss, test_auc, test_logloss: scores (None where not measured).
        test_gauc, test_ndcg10: per-group AUC and NDCG@10 on grouped data (None otherwise).
        embedding_params, embedding_bytes: parameters and bytes of the categorical embeddings
            (tables and projections) of a neural ranker; None for a GBDT, a failed trial, and
            rows written before they were recorded.
        factor_study: the factor study (``harness run --study NAME``) the trial is an arm of;
            "" for a search trial. Study rows are never ranked with the search's.
        arm: the study's arm ("" for a search trial).
        base_source: where the study's base configuration came from, one line ("" for a search
            trial).
        repeat_of: for a trial of the repeat stage (the best configuration of a search trained
            again with a new seed), the search trial it repeats, ``"<study>#<trial number>"``;
            "" otherwise. Repeats are never counted or ranked as search trials.
        predictions: where the trial's test predictions were kept (a ``.npy`` path relative to
            the run folder; "" for none): the leaderboard's bootstrap resamples them.
        predict_samples_per_s: inference throughput, test rows scored per second.
        content: what the model saw of the dataset's vector features, as
            `harness.content.prepare.ContentReport` JSON ("" without vector features).
        matryoshka: scores with the categorical embeddings cut to each Matryoshka size
            (``[train.matryoshka]``) and whole, with the ID tables' bytes at each, as JSON
            ``{"<size>": {valid_auc, valid_logloss, test_auc, test_logloss, table_bytes}}``
            ("" when the trial trained no sizes, or did not complete).
        best_epoch: the best epoch (boosting round for a GBDT).
        epochs: epochs (rounds) run.
        curve: per-epoch validation metrics as JSON, a list of
            ``{"epoch", "valid_auc", "valid_logloss", "train_loss", "seconds"}``.
        n_params: model size (weights, or tree nodes for a GBDT).
        samples_per_s: training throughput (rows x epochs or rows x rounds per second).
        train_seconds: time inside ``fit`` (a pruned trial: its epochs' seconds until it
            stopped).
        wall_seconds: the trial's wall time, loading data included.
        device: "cpu" or "cuda".
        gpu_ids: the GPU ids Ray granted, comma-separated ("" for none).
        cpus: the CPUs Ray granted (the training threads).
        *_version: package versions in the process that trained.
        started_at: ISO-8601 UTC start time.
        notes: anything worth knowing (row sampling, device fallback, ...), "; "-separated.
    """

    suite: str
    dataset: str
    protocol: str
    family: str
    study: str
    trial_id: str
    study_trial: int | None
    params: str
    seed: int
    status: str
    error: str = ""
    valid_auc: float | None = None
    valid_logloss: float | None = None
    test_auc: float | None = None
    test_logloss: float | None = None
    best_epoch: int | None = None
    epochs: int = 0
    curve: str = "[]"
    n_params: int | None = None
    samples_per_s: float | None = None
    train_seconds: float | None = None
    wall_seconds: float = 0.0
    device: str = "cpu"
    gpu_ids: str = ""
    cpus: float = 1.0
    harness_version: str = ""
    torch_version: str = ""
    lightgbm_version: str = ""
    catboost_version: str = ""
    ray_version: str = ""
    optuna_version: str = ""
    started_at: str = ""
    notes: str = ""
    model: str = ""
    space_fingerprint: str = ""
    config: str = "{}"
    task_metrics: str = "{}"
    test_gauc: float | None = None
    test_ndcg10: float | None = None
    embedding_params: int | None = None
    embedding_bytes: int | None = None
    factor_study: str = ""
    arm: str = ""
    base_source: str = ""
    repeat_of: str = ""
    predictions: str = ""
    predict_samples_per_s: float | None = None
    content: str = ""
    matryoshka: str = ""

    def __post_init__(self) -> None:
        if not self.model:
            object.__setattr__(self, "model", self.family)
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status=}")
        if bool(self.factor_study) != bool(self.arm):
            raise ValueError(
                f"a study row needs both a study and an arm, got {self.factor_study=} {self.arm=}"
            )
        if self.repeat_of and self.factor_study:
            raise ValueError(f"a row repeats a search trial or is a study's, got {self.repeat_of=}")
        if self.status == "failed" and not self.error:
            raise ValueError(f"a failed trial needs an error message, got {self.error=}")
        for name in ("valid_auc", "test_auc"):
            v = getattr(self, name)
            if v is not None and not (math.isnan(v) or 0.0 <= v <= 1.0):
                raise ValueError(f"{name} must lie in [0, 1], got {v!r}")
        for name in ("params", "curve", "config", "task_metrics"):
            try:
                json.loads(getattr(self, name))
            except json.JSONDecodeError as e:
                raise ValueError(f"{name} must be JSON, got {getattr(self, name)!r}: {e}") from None

    @property
    def params_dict(self) -> dict[str, Any]:
        return typing.cast(dict[str, Any], json.loads(self.params))

    @property
    def config_dict(self) -> dict[str, Any]:
        return typing.cast(dict[str, Any], json.loads(self.config))

    @property
    def task_dict(self) -> dict[str, dict[str, float | None]]:
        return typing.cast(dict[str, dict[str, float | None]], json.loads(self.task_metrics))

    @property
    def curve_list(self) -> list[dict[str, Any]]:
        return typing.cast(list[dict[str, Any]], json.loads(self.curve))


def is_search_trial(r: TrialResult) -> bool:
    """A trial of a search (not a factor study's arm, not a repeat of a best configuration)."""
    return not r.factor_study and not r.repeat_of


def best_trial(rows: Iterable[TrialResult]) -> TrialResult | None:
    """The best of ``rows`` by validation AUC among those with a test score (complete, or
    stopped early after the family scored test at its best epoch); None when there is none."""
    done = [r for r in rows if r.status in ("complete", "pruned") and r.test_auc is not None]
    return max(done, key=_valid_score, default=None)


def _valid_score(r: TrialResult) -> float:
    return r.valid_auc if r.valid_auc is not None and r.valid_auc == r.valid_auc else -1.0


def _dtype(hint: Any) -> pl.DataType:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if args else hint
    if base is int:
        return pl.Int64()
    if base is float:
        return pl.Float64()
    return pl.String()


RESULT_SCHEMA: dict[str, pl.DataType] = {
    name: _dtype(hint) for name, hint in typing.get_type_hints(TrialResult).items()
}


def package_versions() -> dict[str, str]:
    """``{<package>_version: version}`` for the fields of ``TrialResult`` ("" if not installed)."""
    out = {"harness_version": harness.__version__}
    for pkg in ("torch", "lightgbm", "catboost", "ray", "optuna"):
        try:
            out[f"{pkg}_version"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[f"{pkg}_version"] = ""
    return out


def _frame(rows: Sequence[TrialResult]) -> pl.DataFrame:
    return pl.DataFrame([dataclasses.asdict(r) for r in rows], schema=RESULT_SCHEMA, orient="row")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append_results(path: str | Path, rows: Iterable[TrialResult]) -> int:
    """Appends rows to the parquet table at ``path`` (created with its folder if missing).

    The new table is written to a temporary file in the same folder and moved over the old one
    with ``os.replace``: a reader (or a crash) sees either the old table or the new one.

    Returns:
        The number of rows in the table afterwards.
    """
    path = Path(path)
    new = list(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        frame = _frame(new)
        if path.exists():
            old = pl.read_parquet(path)
            # "diagonal_relaxed": a table written before a column was added gets nulls there.
            frame = pl.concat([old, frame], how="diagonal_relaxed")
        replace_atomically(path, frame.write_parquet)
        return frame.height


def read_results_frame(path: str | Path) -> pl.DataFrame:
    """The results table as a polars frame (every ``TrialResult`` column present)."""
    frame = pl.read_parquet(path)
    missing = [pl.lit(None, dtype=t).alias(n) for n, t in RESULT_SCHEMA.items() if n not in frame]
    return frame.with_columns(missing) if missing else frame


def read_results(path: str | Path) -> list[TrialResult]:
    """The table as ``TrialResult`` rows (columns this version does not know are dropped)."""
    frame = read_results_frame(path)
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(TrialResult)
        if f.default is not dataclasses.MISSING
    }
    rows = []
    for record in frame.select(list(RESULT_SCHEMA)).iter_rows(named=True):
        values = {
            k: (defaults[k] if v is None and k in defaults and defaults[k] is not None else v)
            for k, v in record.items()
        }
        rows.append(TrialResult(**values))
    return rows
