"""Turns each ended trial into its results row and its Optuna state, in one place.

``TrialRecorder`` is the Ray Tune callback of one model's tuning. It keeps each trial's curve
as the epochs arrive (and reports them to Optuna as intermediate values), decides how a trial
ended (``complete``, ``pruned`` by ASHA or the time budget, ``failed``, ``interrupted``), appends
its row to the results table at once and tells the study the matching state, so that the table,
the study and the display never disagree. ``finish`` closes whatever is still open when the
tuning ends, however it ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ray
from ray import tune

from harness.atomic import replace_atomically
from harness.results.table import TrialResult
from harness.tuning.reports import EpochReport, FinalReport, report_of
from harness.tuning.rows import TrialOutcome, make_row
from harness.tuning.stop import StopRequest
from harness.tuning.studies import StudyBook, StudyBooks
from harness.tuning.trainable import PREDICTIONS_FILE

__all__ = ["TrialRecorder"]


class TrialRecorder(tune.Callback):
    """See the module docstring.

    Args:
        book: the tuning call's studies (asks and tells); a single study is one search's.
        write: appends rows to the results table.
        stop: the run's stop request (a trial stopped by it is ``interrupted``).
        hard_deadline: the ``time.time()`` at which the model's share ends (a trial stopped
            then is ``pruned`` by the time budget).
        progress: called with each ended trial's status and validation AUC.
        epoch_seen: called with the Ray trial id, epoch and validation AUC of each epoch.
        predictions_dir: where a complete trial's test predictions (its final checkpoint) are
            kept, as ``<trial id>.npy``; their path relative to the folder above goes into the
            row (None: predictions are not kept).
    """

    def __init__(
        self,
        book: StudyBooks | StudyBook,
        write: Callable[[list[TrialResult]], None],
        stop: StopRequest,
        hard_deadline: float | None,
        progress: Callable[[str, float | None], None] = lambda _s, _v: None,
        epoch_seen: Callable[[str, int, float | None], None] = lambda _t, _e, _v: None,
        predictions_dir: Path | None = None,
    ) -> None:
        self._predictions_dir = predictions_dir
        self.book = book if isinstance(book, StudyBooks) else StudyBooks([book])
        self.rows: list[TrialResult] = []
        self._write = write
        self._stop = stop
        self._hard_deadline = hard_deadline
        self._progress = progress
        self._epoch_seen = epoch_seen
        self._curves: dict[str, list[dict[str, Any]]] = {}
        self._last: dict[str, EpochReport] = {}
        self._started: dict[str, tuple[float, str]] = {}
        self.error: Exception | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles its run config (this callback included): the live parts stay behind.
        return {"rows": []}

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._started[trial.trial_id] = (time.time(), datetime.now(UTC).isoformat())

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        with self._kept():
            report = report_of(result)
            if not isinstance(report, EpochReport):
                return
            self._curves.setdefault(trial.trial_id, []).append(report.curve_point())
            self._last[trial.trial_id] = report
            self.book.report(trial.trial_id, report.epoch, report.valid_auc)
            self._epoch_seen(trial.trial_id, report.epoch, report.valid_auc)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        with self._kept():
            final = report_of(trial.last_result or {})
            if not isinstance(final, FinalReport):
                status, reason = self._stopped_why(trial.trial_id)
                self._end(trial.trial_id, status, reason=reason)
            elif final.valid_auc is None:
                self._end(trial.trial_id, "failed", error="the fit ended with no finite "
                          "validation AUC (every prediction constant or NaN)")  # fmt: skip
            elif final.out_of_time:
                self._end(trial.trial_id, "pruned", final=final,
                          reason="stopped by its share of the time budget")  # fmt: skip
            else:
                self._end(trial.trial_id, "complete", final=final, predictions=self._keep(trial))

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        with self._kept():
            if self._stop.requested:
                self._end(trial.trial_id, "interrupted", reason="stopped by Ctrl-C")
                return
            error = _error_line(trial)
            where = _error_file(trial)
            self._end(trial.trial_id, "failed", error=error,
                      reason=f"traceback in {where}" if where else "")  # fmt: skip

    def finish(self, error: BaseException | None = None) -> None:
        """Closes every trial still open (asked, started or running) when the tuning ends.

        A trial stopped by the budget after an epoch is ``pruned``; one that never started or
        reported no epoch, or that an exception or a stop cut off, is ``interrupted`` (not
        counted as done on ``--resume``).
        """
        for ray_id in self.book.open_ids():
            if error is not None and not self._stop.requested:
                status = "interrupted"
                reason = f"the tuning ended with {type(error).__name__}: {error}".strip(": ")
            else:
                status, reason = self._stopped_why(ray_id)
            try:
                self._end(ray_id, status, reason=reason)
            except Exception as e:  # the others must still be closed
                self.error = self.error or e

    def _keep(self, trial: Any) -> str:
        """Copies the trial's test predictions out of its final checkpoint into
        ``predictions_dir``; returns their path relative to the run folder ("" for none)."""
        if self._predictions_dir is None or trial.checkpoint is None:
            return ""
        with trial.checkpoint.as_directory() as folder:
            source = Path(folder) / PREDICTIONS_FILE
            if not source.exists():
                return ""
            self._predictions_dir.mkdir(parents=True, exist_ok=True)
            ctx = self.book.ctx(trial.trial_id)
            seed = self.book.seed(trial.trial_id)
            target = self._predictions_dir / f"{ctx.model}-seed{seed}-{trial.trial_id}.npy"
            with source.open("rb") as data:
                replace_atomically(target, lambda out: shutil.copyfileobj(data, out))
        return f"{self._predictions_dir.name}/{target.name}"

    @contextlib.contextmanager
    def _kept(self) -> Iterator[None]:
        """Keeps an exception of this callback for the driver: Ray would swallow it and turn
        the trial into a failed one."""
        try:
            yield
        except Exception as e:
            self.error = self.error or e

    def _stopped_why(self, ray_id: str) -> tuple[str, str]:
        if ray_id not in self._started:
            return "interrupted", "it had not started when the tuning ended"
        if self._stop.requested:
            return "interrupted", "stopped by Ctrl-C"
        if self._hard_deadline is not None and time.time() >= self._hard_deadline - 1.0:
            if ray_id not in self._curves:  # nothing learnt from it: not a pruned point for TPE
                return "interrupted", "stopped by the time budget before its first epoch"
            return "pruned", "stopped at the end of its share of the time budget"
        return "pruned", "stopped early by the ASHA scheduler"

    def _end(
        self,
        ray_id: str,
        status: str,
        *,
        final: FinalReport | None = None,
        error: str = "",
        reason: str = "",
        predictions: str = "",
    ) -> None:
        if ray_id not in self.book.open_ids():
            return  # already recorded
        started, started_at = self._started.get(ray_id, (0.0, ""))
        last = self._last.get(ray_id)
        row = make_row(
            self.book.ctx(ray_id),
            TrialOutcome(
                status=status,
                trial_id=str(ray_id),
                study_trial=self.book.number(ray_id),
                params=self.book.params(ray_id),
                config=self.book.config(ray_id),
                curve=self._curves.get(ray_id, []),
                final=final,
                placement=None if last is None else last.placement,
                n_params=None if last is None else last.n_params,
                embedding_params=None if last is None else last.embedding_params,
                embedding_bytes=None if last is None else last.embedding_bytes,
                seed=self.book.seed(ray_id),
                error=error,
                reason=reason,
                started=started,
                started_at=started_at,
                predictions=predictions,
            ),
        )
        self._write([row])
        self.rows.append(row)
        value = row.valid_auc if status == "complete" else None
        self.book.tell(ray_id, status, value, error or reason)
        self._progress(status, row.valid_auc)


def _error_line(trial: Any) -> str:
    """The trial's exception as ``Type: message`` on one line."""
    text = ""
    # Read the driver-side copies: the ones in the storage folder are synced later.
    pickled = trial.pickled_error_file
    if pickled and os.path.exists(pickled):
        try:
            with open(pickled, "rb") as f:
                exc = ray.cloudpickle.load(f)
            cause = getattr(exc, "cause", None) or exc
            text = f"{type(cause).__name__}: {cause}"
        except Exception:  # an unreadable pickle still leaves the text file below
            text = ""
    if not text and trial.error_file and os.path.exists(trial.error_file):
        lines = Path(trial.error_file).read_text(errors="replace").strip().splitlines()
        text = lines[-1] if lines else ""
    return " ".join(text.split())[:2000] or "trial failed (no error recorded)"


def _error_file(trial: Any) -> str:
    """Where the trial's full traceback ends up (the storage folder, not the staging one)."""
    name = trial.run_metadata.error_filename
    return str(Path(trial.path, name)) if name and trial.path else ""
