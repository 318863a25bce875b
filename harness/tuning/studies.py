"""The Optuna studies of a run: one per suite, model and search-space fingerprint.

Optuna's state of each trial tells the same story as the results table: COMPLETE (with its
validation AUC), PRUNED (stopped by ASHA or by the time budget, with its per-epoch intermediate
values) or FAIL (an exception, or an interrupted trial: the ``harness_status`` user attribute
says which and ``harness_reason`` why). A trial that a killed run left RUNNING is closed as
interrupted by the next run on the same folder (``close_stale_trials``), with its row.

The studies live in the run folder's SQLite file, or in a database server that several run
folders (and machines) share (``open_storage`` with a URL, e.g. PostgreSQL on a cluster): each
trial then carries the run folder that asked it (``harness_run_folder``), and a run closes only
its own folder's trials.
"""

from __future__ import annotations

import importlib.util
import json
import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from harness.errors import HarnessError
from harness.results.table import TrialResult
from harness.tuning.rows import RowContext, StudyArm, TrialOutcome, make_row
from harness.tuning.space import SearchSpace, config_to_dict
from harness.urls import masked_url

__all__ = [
    "OWNER_ATTR",
    "StudyBook",
    "StudyBooks",
    "close_stale_trials",
    "open_storage",
    "run_folder_id",
    "study_name",
]

# The user attribute naming the run folder (and host) that asked a trial.
OWNER_ATTR = "harness_run_folder"

# The pip package of each SQLAlchemy driver a storage URL may name (a plain ``postgresql://``
# means psycopg2 here, see ``open_storage``; a plain ``mysql://`` means mysqlclient).
_DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "psycopg": "'psycopg[binary]'",
    "pg8000": "pg8000",
    "mysqldb": "mysqlclient (or use mysql+pymysql:// and pip install PyMySQL)",
    "pymysql": "PyMySQL",
}
# Drivers that take libpq's or MySQL's ``connect_timeout`` (seconds): an unreachable server is
# an error after this long, not a hang until the operating system gives up on the connection.
_CONNECT_TIMEOUT_DRIVERS = {"psycopg2", "psycopg", "mysqldb", "pymysql"}
_CONNECT_TIMEOUT_S = 10

_STATES = {
    "complete": TrialState.COMPLETE,
    "pruned": TrialState.PRUNED,
    "failed": TrialState.FAIL,
    "interrupted": TrialState.FAIL,
}


def study_name(
    suite: str, space: SearchSpace, arm: StudyArm | None = None, *, repeat: bool = False
) -> str:
    """The persistent Optuna study of a suite, model and space, e.g. ``"criteo/dcnv2@3f2a9c1e"``.

    The fingerprint keeps the trials of an edited search space apart from the older ones: TPE
    never learns from points of another space, and the dashboard shows each space's study. A
    factor study's arm has a study of its own, ``"criteo/hashing:fused/dcnv2@5d0c77a1"``, and
    so have the seeds of a model's best configuration (``repeat``),
    ``"criteo/repeats/dcnv2@0b1c2d3e"`` (the fingerprint is the configuration's).
    """
    tag = f"{arm.study}:{arm.arm}/" if arm is not None else "repeats/" if repeat else ""
    return f"{suite}/{tag}{space.name}@{space.fingerprint[:8]}"


def open_storage(where: Path | str) -> optuna.storages.RDBStorage:
    """The Optuna storage of a run's studies: its SQLite file (a `Path`, created if missing) or
    a database URL (a `str`) that SQLAlchemy accepts (``postgresql://user:password@host:5432/db``,
    ``postgresql+psycopg2://...``, ``sqlite:///file``, ``mysql+pymysql://...``). A plain
    ``postgresql://`` uses psycopg2 (the harness's pinned driver) unless psycopg 3 (SQLAlchemy
    2.1's default) is installed.

    The connection is tried (and the tables created) here, before any trial runs.

    Raises:
        HarnessError: one line naming the URL (password masked) and what to do: the URL does
            not parse, its driver is not installed, or the server refuses the connection.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if isinstance(where, Path):
        return optuna.storages.RDBStorage(
            f"sqlite:///{where}", engine_kwargs={"connect_args": {"timeout": 60}}
        )
    url = str(where)
    shown = masked_url(url)
    try:
        parsed = make_url(url)
        backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    except (sqlalchemy.exc.ArgumentError, ValueError) as e:
        raise HarnessError(
            f"--optuna-storage {shown} is not a database URL ({_first_line(e)}); give e.g. "
            "postgresql://USER:PASSWORD@HOST:5432/DATABASE or sqlite:///FILE"
        ) from None
    if parsed.drivername == "postgresql" and not _installed("psycopg"):
        # SQLAlchemy 2.1 reads a plain postgresql:// as psycopg 3; the pinned driver is psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg2")
        driver = "psycopg2"
        url = parsed.render_as_string(hide_password=False)
    engine_kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        # A run holds its connections for hours: a server or proxy may drop idle ones.
        engine_kwargs["pool_pre_ping"] = True
        if driver in _CONNECT_TIMEOUT_DRIVERS:
            engine_kwargs["connect_args"] = {"connect_timeout": _CONNECT_TIMEOUT_S}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    except ImportError as e:
        missing = getattr(e.__cause__, "name", None) or getattr(e, "name", None) or driver
        package = _DRIVER_PACKAGES.get(driver, f"the {driver} driver")
        raise HarnessError(
            f"--optuna-storage {shown}: the database driver is not installed (no module "
            f"{missing!r}); pip install {package}"
        ) from None
    except sqlalchemy.exc.NoSuchModuleError:
        raise HarnessError(
            f"--optuna-storage {shown}: SQLAlchemy knows no database {parsed.drivername!r}; "
            "give e.g. postgresql://USER:PASSWORD@HOST:5432/DATABASE or sqlite:///FILE"
        ) from None
    except sqlalchemy.exc.DBAPIError as e:
        reason = _first_line(e.orig if e.orig is not None else e)
        if parsed.password:
            reason = reason.replace(parsed.password, "***")
        fix = (
            "check that the file's folder exists and that you can write to it"
            if backend == "sqlite"
            else "check that the server runs and that its host, port, user, password and "
            "database are right"
        )
        raise HarnessError(f"cannot open the Optuna storage {shown} ({reason}); {fix}") from None
    except RuntimeError as e:  # Optuna: the tables were made by an incompatible version
        raise HarnessError(f"--optuna-storage {shown}: {_first_line(e)}") from None


def run_folder_id(run_dir: Path) -> str:
    """What identifies a run folder among those sharing a database: ``host:/absolute/folder``."""
    return f"{socket.gethostname()}:{Path(run_dir).resolve()}"


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _first_line(e: object) -> str:
    text = str(e).strip()
    return text.splitlines()[0].strip() if text else type(e).__name__


class StudyBook:
    """One model's study during a run: asks trials for Ray, records epochs, tells outcomes.

    Each asked trial carries what its row needs as user attributes (the row context, the
    resolved config, the Ray trial id), so that a run killed mid-trial can be closed later from
    the study alone; with ``owner`` (`run_folder_id`), also the run folder that asked it, so
    that a run closes only its own folder's trials in a database other folders share.
    """

    def __init__(
        self,
        storage: optuna.storages.BaseStorage,
        space: SearchSpace,
        ctx: RowContext,
        seed: int,
        owner: str | None = None,
    ) -> None:
        self.space = space
        self.ctx = ctx
        self.owner = owner
        previous = _trials_in_study(storage, ctx.study)
        # A new sampler seed per call: a resumed run continues the search instead of replaying
        # its first suggestions (TPE also learns from every trial already in the study).
        self.study = optuna.create_study(
            study_name=ctx.study,
            storage=storage,
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed * 1_000_003 + previous),
            load_if_exists=True,
        )
        self._open: dict[str, optuna.Trial] = {}
        self._seeds: dict[str, int] = {}
        self.started: dict[str, float] = {}

    def ask(self, ray_id: str, seed: int | None = None) -> tuple[int, dict[str, Any]]:
        """A new trial's number and sampled parameters; ``seed`` is the trial's own training
        seed, where it has one (kept as a user attribute, for its row)."""
        trial = self.study.ask()
        try:
            self.space.suggest(trial)
            params = dict(trial.params)
            try:
                config = json.dumps(config_to_dict(self.space.build_config(params)), sort_keys=True)
            except ValueError:
                config = "{}"
            context = {k: v for k, v in vars(self.ctx).items() if k != "versions"}
            for key, value in {
                "ray_trial_id": ray_id,
                "row_context": json.dumps(context),
                "config": config,
            }.items():
                trial.set_user_attr(key, value)
            if seed is not None:
                trial.set_user_attr("seed", seed)
            if self.owner is not None:
                trial.set_user_attr(OWNER_ATTR, self.owner)
        except BaseException:
            self.study.tell(trial, state=TrialState.FAIL)  # never left RUNNING
            raise
        self._open[ray_id] = trial
        if seed is not None:
            self._seeds[ray_id] = seed
        return trial.number, params

    def seed(self, ray_id: str) -> int | None:
        """The trial's own training seed (None: the context's seed)."""
        return self._seeds.get(ray_id)

    def config(self, ray_id: str) -> str:
        trial = self._open.get(ray_id)
        return str(trial.user_attrs.get("config", "{}")) if trial is not None else "{}"

    def number(self, ray_id: str) -> int | None:
        trial = self._open.get(ray_id)
        return None if trial is None else trial.number

    def report(self, ray_id: str, epoch: int, value: float | None) -> None:
        """An epoch's validation AUC as the trial's intermediate value (the dashboard's curve)."""
        trial = self._open.get(ray_id)
        if trial is not None and value is not None:
            trial.report(value, step=epoch)

    def tell(self, ray_id: str, status: str, value: float | None, reason: str = "") -> None:
        """Closes the trial in the study with the state matching its row's status."""
        trial = self._open.get(ray_id)
        if trial is None:
            return
        trial.set_user_attr("harness_status", status)
        if reason:
            trial.set_user_attr("harness_reason", reason[:2000])
        state = _STATES[status]
        if state == TrialState.COMPLETE and value is None:
            state = TrialState.FAIL  # nothing to rank it by
        if state == TrialState.COMPLETE:
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state=state)
        del self._open[ray_id]  # only once told: a failed tell is retried by ``finish``

    def open_ids(self) -> list[str]:
        """Ray ids of the trials asked and not told yet."""
        return list(self._open)

    def params(self, ray_id: str) -> dict[str, Any]:
        trial = self._open.get(ray_id)
        return {} if trial is None else dict(trial.params)


class StudyBooks:
    """The studies of one tuning call (one for a search, one per arm of factor studies), each
    trial routed to its own study by its Ray id; the recorder's view of them."""

    def __init__(self, books: Sequence[StudyBook]) -> None:
        if not books:
            raise ValueError("need at least one study")
        self.books = tuple(books)
        self._of: dict[str, StudyBook] = {}

    def ask(self, ray_id: str, index: int, seed: int | None = None) -> tuple[int, dict[str, Any]]:
        """A new trial of the ``index``-th study (see `StudyBook.ask`)."""
        book = self.books[index]
        asked = book.ask(ray_id, seed)
        self._of[ray_id] = book
        return asked

    def _book(self, ray_id: str) -> StudyBook:
        return self._of.get(ray_id, self.books[0])

    def ctx(self, ray_id: str) -> RowContext:
        """What the trial's row shares with the other trials of its study."""
        return self._book(ray_id).ctx

    def config(self, ray_id: str) -> str:
        return self._book(ray_id).config(ray_id)

    def number(self, ray_id: str) -> int | None:
        return self._book(ray_id).number(ray_id)

    def params(self, ray_id: str) -> dict[str, Any]:
        return self._book(ray_id).params(ray_id)

    def seed(self, ray_id: str) -> int | None:
        return self._book(ray_id).seed(ray_id)

    def report(self, ray_id: str, epoch: int, value: float | None) -> None:
        self._book(ray_id).report(ray_id, epoch, value)

    def tell(self, ray_id: str, status: str, value: float | None, reason: str = "") -> None:
        self._book(ray_id).tell(ray_id, status, value, reason)

    def open_ids(self) -> list[str]:
        """Ray ids of the trials asked and not told yet, in every study."""
        return [ray_id for book in self.books for ray_id in book.open_ids()]


def _study_context(study: optuna.Study) -> str | None:
    """The row context any trial of ``study`` carries (None: no harness trial)."""
    for t in study.get_trials(deepcopy=False):
        context = t.user_attrs.get("row_context")
        if isinstance(context, str):
            return context
    return None


def close_stale_trials(
    storage: optuna.storages.BaseStorage,
    write: Callable[[list[TrialResult]], object],
    recorded: Mapping[tuple[str, int], TrialResult] | None = None,
    reason: str = "interrupted: the run that started it ended before it finished",
    *,
    owner: str | None = None,
) -> int:
    """Closes every RUNNING trial of the storage as interrupted (FAIL) and writes its row.

    A trial whose row was written before the run died (``recorded``: (study, trial number) ->
    row) gets that row's state instead, and no second row. Call it only while holding the
    run folder's lock: then no other run is using the folder's trials, and a RUNNING trial of
    the folder is one that a killed run left behind.

    With ``owner`` (a database other run folders may share while they run), only the trials
    asked by that run folder (`StudyBook`'s ``owner``) are closed, and those that carry no
    folder at all (asked by an older harness); another folder's RUNNING trials are left alone.

    Returns:
        How many trials were closed.
    """
    rows: list[TrialResult] = []
    closed = 0
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            attrs = frozen.user_attrs
            if owner is not None and attrs.get(OWNER_ATTR, owner) != owner:
                continue  # another run folder's trial, maybe running right now
            trial = optuna.Trial(study, frozen._trial_id)
            row = (recorded or {}).get((summary.study_name, frozen.number))
            status = "interrupted" if row is None else row.status
            trial.set_user_attr("harness_status", status)
            trial.set_user_attr("harness_reason", reason if row is None else row.error)
            closed += 1
            if row is not None:
                # Its row says how it ended; the run died before telling the study.
                if status == "complete" and row.valid_auc is not None:
                    study.tell(trial, row.valid_auc)
                else:
                    study.tell(trial, state=_STATES[status])
                continue
            study.tell(trial, state=TrialState.FAIL)
            # A run killed between asking a trial and labelling it left it bare: every trial
            # of a study shares its row context, so a sibling's serves.
            context = attrs.get("row_context") or _study_context(study)
            if context is None:
                continue  # not asked by harness: nothing to write
            ctx = RowContext(**_tuples(json.loads(context)))
            start = frozen.datetime_start or datetime.now(UTC)
            curve = [
                {"epoch": step, "valid_auc": value}
                for step, value in sorted(frozen.intermediate_values.items())
            ]
            rows.append(
                make_row(
                    ctx,
                    TrialOutcome(
                        status="interrupted",
                        trial_id=str(attrs.get("ray_trial_id", "")),
                        study_trial=frozen.number,
                        params=frozen.params,
                        config=str(attrs.get("config", "{}")),
                        seed=attrs.get("seed"),
                        curve=curve,
                        reason=reason,
                        started_at=start.astimezone(UTC).isoformat(),
                    ),
                )
            )
    if rows:
        write(rows)
    return closed


def _tuples(d: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def _trials_in_study(storage: optuna.storages.BaseStorage, name: str) -> int:
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:  # no such study yet
        return 0
    return len(study.trials)
