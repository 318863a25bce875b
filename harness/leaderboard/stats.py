"""Mean ± sample standard deviation over seeds: how every multi-seed figure is shown."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MeanStd", "mean_std"]


@dataclass(frozen=True)
class MeanStd:
    """The mean of ``n`` values and their sample standard deviation (None for one value)."""

    mean: float
    std: float | None
    n: int


def mean_std(values: Sequence[float]) -> MeanStd | None:
    """``MeanStd`` of the values (None when there are none)."""
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else None
    return MeanStd(statistics.fmean(values), std, len(values))
