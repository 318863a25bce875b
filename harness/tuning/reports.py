"""What a trial tells the driver: one typed report per epoch and one at the end.

Ray Tune carries results as flat dicts; ASHA reads ``valid_auc`` from them. Everything else
travels as one JSON payload that ``from_result`` turns back into the same frozen dataclass, so the
report format is written and read in one place.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.fitting import EpochMetrics, FitResult
from harness.metrics import Metrics

__all__ = ["METRIC", "EpochReport", "FinalReport", "Placement", "TestScores", "report_of"]

# The scheduler's (and the search's) metric: the primary task's validation AUC.
METRIC = "valid_auc"
_PAYLOAD = "harness_report"


@dataclass(frozen=True)
class Placement:
    """Where a trial ran: the device, the GPU ids Ray granted, the CPUs, and any fallback note."""

    device: str = "cpu"
    gpu_ids: str = ""
    cpus: float = 1.0
    note: str = ""


@dataclass(frozen=True)
class TestScores:
    """A test split's scores (GAUC and NDCG@10 only where the data has groups)."""

    auc: float | None = None
    logloss: float | None = None
    gauc: float | None = None
    ndcg10: float | None = None

    @classmethod
    def of(cls, m: Metrics | None) -> TestScores:
        if m is None:
            return cls()
        return cls(_num(m.auc), _num(m.logloss), _num(m.gauc), _num(m.ndcg10))


@dataclass(frozen=True)
class EpochReport:
    """One epoch (a block of boosting rounds for a GBDT): one point of the validation curve.

    ``test`` is scored only at a new best epoch (neural families), so a trial stopped later
    keeps the test score of its best epoch; the sizes (``n_params``, the embeddings' parameters
    and bytes) travel with every epoch for the same reason.
    """

    epoch: int
    valid_auc: float | None
    valid_logloss: float | None
    train_loss: float | None
    seconds: float
    test: TestScores
    n_params: int | None
    placement: Placement
    embedding_params: int | None = None
    embedding_bytes: int | None = None
    # Validation AUCs within the epoch (epochs trained, AUC), when the fit scores several.
    evals: tuple[tuple[float, float | None], ...] = ()

    @classmethod
    def of(cls, m: EpochMetrics, placement: Placement) -> EpochReport:
        return cls(
            epoch=m.epoch,
            valid_auc=_num(m.valid.auc),
            valid_logloss=_num(m.valid.logloss),
            train_loss=_num(m.train_loss),
            seconds=m.seconds,
            test=TestScores.of(m.test),
            n_params=m.n_params,
            placement=placement,
            embedding_params=m.embedding_params,
            embedding_bytes=m.embedding_bytes,
            evals=tuple((float(at), _num(auc)) for at, auc in m.evals),
        )

    def curve_point(self) -> dict[str, Any]:
        """The point as the results table's ``curve`` JSON keeps it (``evals``: the scores
        within the epoch as ``[epochs trained, AUC]`` pairs, only when the fit scored several)."""
        extra = {"evals": [list(e) for e in self.evals]} if self.evals else {}
        return {
            **extra,
            "epoch": self.epoch,
            "valid_auc": self.valid_auc,
            "valid_logloss": self.valid_logloss,
            "train_loss": self.train_loss,
            "seconds": self.seconds,
            "test_auc": self.test.auc,
            "test_logloss": self.test.logloss,
            "test_gauc": self.test.gauc,
            "test_ndcg10": self.test.ndcg10,
        }

    def to_result(self) -> dict[str, Any]:
        return _result(self, self.valid_auc)


@dataclass(frozen=True)
class FinalReport:
    """The end of a fit: scores at the best epoch, the whole curve and the cost.

    ``out_of_time`` marks a fit that its share of the time budget stopped before its own early
    stopping did (its scores are those of its best epoch until then). ``embedding_params`` and
    ``embedding_bytes`` size the categorical embeddings (None for a GBDT);
    ``predict_samples_per_s`` is the inference throughput on the test split; ``content`` what
    the model saw of the vector features (`FitResult.content`); ``matryoshka`` the scores and
    table bytes at each Matryoshka size (`FitResult.matryoshka`).
    """

    valid_auc: float | None
    valid_logloss: float | None
    test: TestScores
    best_epoch: int
    epochs: int
    curve: tuple[dict[str, Any], ...]
    n_params: int
    samples_per_s: float | None
    train_seconds: float
    notes: str
    task_metrics: str
    placement: Placement
    out_of_time: bool = False
    embedding_params: int | None = None
    embedding_bytes: int | None = None
    predict_samples_per_s: float | None = None
    content: str = ""
    matryoshka: str = ""

    @classmethod
    def of(cls, fit: FitResult, labels: tuple[str, ...], placement: Placement) -> FinalReport:
        return cls(
            valid_auc=_num(fit.valid.auc),
            valid_logloss=_num(fit.valid.logloss),
            test=TestScores.of(fit.test),
            best_epoch=fit.best_epoch,
            epochs=fit.curve[-1].epoch if fit.curve else 0,
            curve=tuple(EpochReport.of(m, placement).curve_point() for m in fit.curve),
            n_params=fit.n_params,
            samples_per_s=_num(fit.samples_per_s),
            train_seconds=fit.train_seconds,
            notes=fit.notes,
            task_metrics=task_json(labels, fit.valid_tasks, fit.test_tasks),
            placement=placement,
            out_of_time=fit.out_of_time,
            embedding_params=fit.embedding_params,
            embedding_bytes=fit.embedding_bytes,
            predict_samples_per_s=_rate(fit),
            content=fit.content,
            matryoshka=fit.matryoshka,
        )

    def to_result(self) -> dict[str, Any]:
        return _result(self, self.valid_auc)


def _rate(fit: FitResult) -> float | None:
    """Test rows scored per second (None where not measured)."""
    if fit.test_scores is None or not fit.predict_seconds or fit.predict_seconds <= 0:
        return None
    return len(fit.test_scores) / fit.predict_seconds


def report_of(result: Mapping[str, Any]) -> EpochReport | FinalReport | None:
    """The report inside a Ray result (None: a result not sent by a harness trial)."""
    payload = result.get(_PAYLOAD)
    if not isinstance(payload, str):
        return None
    data = json.loads(payload)
    kind = data.pop("kind")
    data["placement"] = Placement(**data["placement"])
    data["test"] = TestScores(**data["test"])
    if kind == "final":
        data["curve"] = tuple(data["curve"])
        return FinalReport(**data)
    data["evals"] = tuple((float(at), auc) for at, auc in data.get("evals", ()))
    return EpochReport(**data)


def task_json(
    labels: tuple[str, ...], valid: tuple[Metrics, ...], test: tuple[Metrics, ...]
) -> str:
    """``{label: {valid_auc, valid_logloss, test_*}}`` as JSON; "{}" unless several tasks."""
    if len(valid) < 2:
        return "{}"
    out: dict[str, dict[str, float | None]] = {}
    for i, label in enumerate(labels[: len(valid)]):
        t = TestScores.of(test[i] if i < len(test) else None)
        out[label] = {
            "valid_auc": _num(valid[i].auc),
            "valid_logloss": _num(valid[i].logloss),
            "test_auc": t.auc,
            "test_logloss": t.logloss,
            "test_gauc": t.gauc,
            "test_ndcg10": t.ndcg10,
        }
    return json.dumps(out)


def _result(report: EpochReport | FinalReport, metric: float | None) -> dict[str, Any]:
    kind = "final" if isinstance(report, FinalReport) else "epoch"
    payload = {"kind": kind, **dataclasses.asdict(report)}
    # ASHA compares trials on METRIC: a missing score ranks last, not as an error.
    return {METRIC: -math.inf if metric is None else metric, _PAYLOAD: json.dumps(payload)}


def _num(v: float | None) -> float | None:
    """A finite float, or None (NaN and infinities are "not measured" in a report)."""
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None
