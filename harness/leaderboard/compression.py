"""A compression study as numbers: per compressor and size, what the ranker kept of what the
vector features add.

Each trial row carries what its model saw of the vector features (`TrialResult.content`, a
`ContentReport`): dropped, at full size, or compressed by a kind to a size. The view groups the
complete trials by (compressor, size) and sets each group beside two references, the trials
without the vectors and those with them at full size:

    kept % = (AUC(compressed) - AUC(no vectors)) / (AUC(full size) - AUC(no vectors)) x 100

from the mean test AUCs over seeds. It is the share of what the vectors add that survives the
compression (the published table's "percentage of the offline metric kept"): 100 % keeps all of
it, 0 % is no better than leaving the vectors out. It is not shown when the full-size vectors
add less than `MIN_GAIN` of AUC, since a ratio of two noise-sized differences reads as anything.
Beside it, the retrieval view: the recall@10 of the test vectors' full-size nearest neighbours
among their compressed ones.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from harness.content.compressors import COMPRESSORS
from harness.content.prepare import ContentReport
from harness.leaderboard.stats import MeanStd, mean_std
from harness.results.table import TrialResult

__all__ = ["MIN_GAIN", "CompressionPoint", "CompressionView", "compression_view"]

# The least test AUC the full-size vectors must add over none for "kept %" to be shown.
MIN_GAIN = 0.002


@dataclass(frozen=True)
class CompressionPoint:
    """One compressor at one size, over the seeds that completed.

    Attributes:
        compressor: the kind (``pca``, ..., ``none`` for the full size).
        size: the width the model saw (summed over vector features).
        width: the full width.
        test_auc: mean ± std of the test AUC.
        recall_at_10: the retrieval view (median over the trials; the same for every seed of a
            seedless compressor), or None.
        kept_variance: the training variance kept (PCA, SVD), or None.
        seeds: the seeds that completed.
    """

    compressor: str
    size: int
    width: int
    test_auc: MeanStd | None
    recall_at_10: float | None
    kept_variance: float | None
    seeds: tuple[int, ...]

    @property
    def smaller(self) -> float:
        """How many times smaller than the full width."""
        return self.width / self.size if self.size else float("inf")


@dataclass(frozen=True)
class CompressionView:
    """A compression study: the two references and every compressed point.

    Attributes:
        without: the trials without the vector features (None: no such arm ran).
        full: the trials with them at full size (None: no such arm ran).
        points: every (compressor, size) that ran, by compressor (registry order) then size.
    """

    without: MeanStd | None
    full: CompressionPoint | None
    points: tuple[CompressionPoint, ...]

    @property
    def gain(self) -> float | None:
        """The test AUC the full-size vectors add over none (None without both references)."""
        if self.without is None or self.full is None or self.full.test_auc is None:
            return None
        return self.full.test_auc.mean - self.without.mean

    def kept(self, point: CompressionPoint) -> float | None:
        """The share (%) of the full-size gain a point keeps (module docstring), or None."""
        gain = self.gain
        if gain is None or gain < MIN_GAIN or point.test_auc is None or self.without is None:
            return None
        return 100.0 * (point.test_auc.mean - self.without.mean) / gain

    @property
    def compressors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.compressor for p in self.points))

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(sorted({p.size for p in self.points}))

    def at(self, compressor: str, size: int) -> CompressionPoint | None:
        return next((p for p in self.points if (p.compressor, p.size) == (compressor, size)), None)


def compression_view(rows: Sequence[TrialResult]) -> CompressionView | None:
    """The view of a study's rows, or None when none of them compressed vector features."""
    reports: list[tuple[TrialResult, ContentReport]] = []
    for r in rows:
        report = ContentReport.from_json(r.content)
        if report is not None and r.status == "complete" and r.test_auc is not None:
            reports.append((r, report))
    if not any(rep.used and rep.compressor != "none" for _, rep in reports):
        return None
    without = mean_std([r.test_auc for r, rep in reports if not rep.used and r.test_auc])
    groups: dict[tuple[str, int], list[tuple[TrialResult, ContentReport]]] = {}
    for r, rep in reports:
        if rep.used:
            groups.setdefault((rep.compressor, rep.size), []).append((r, rep))
    points = [_point(kind, size, group) for (kind, size), group in groups.items()]
    full = next((p for p in points if p.compressor == "none"), None)
    # The registry's order (the published table's: PCA, SVD, random, autoencoder, Matryoshka).
    order = {kind: i for i, kind in enumerate(COMPRESSORS.names)}
    compressed = sorted(
        (p for p in points if p.compressor != "none"),
        key=lambda p: (order.get(p.compressor, len(order)), p.compressor, p.size),
    )
    return CompressionView(without=without, full=full, points=tuple(compressed))


def _point(
    kind: str, size: int, group: Sequence[tuple[TrialResult, ContentReport]]
) -> CompressionPoint:
    recalls = [rep.recall_at_10 for _, rep in group if rep.recall_at_10 is not None]
    variances = [rep.kept_variance for _, rep in group if rep.kept_variance is not None]
    return CompressionPoint(
        compressor=kind,
        size=size,
        width=max(rep.width for _, rep in group),
        test_auc=mean_std([r.test_auc for r, _ in group if r.test_auc is not None]),
        recall_at_10=statistics.median(recalls) if recalls else None,
        kept_variance=statistics.median(variances) if variances else None,
        seeds=tuple(sorted(r.seed for r, _ in group)),
    )
