"""``cdf``: the training empirical CDF ``P(X <= x)``, interpolated between the knots."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from harness.models.inputs import FeatureInputs
from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig
from harness.models.numeric.checks import check_bool
from harness.models.numeric.knots import knot_matrix, levels
from harness.models.numeric.missing import MissingValues, split_missing

__all__ = ["CDF", "CDFConfig"]


class CDF(NumericEncoding):
    """Each value mapped to its training CDF, in ``[0, 1]``.

    Between two knots the CDF is linear (the inverse of the piecewise-linear quantile function),
    so on training data the output of a continuous feature is uniform on ``[0, 1]``. Below the
    smallest knot it is 0, above the largest 1.

    Ties: a value that several knots share (a count that is mostly 0) has a point mass; it maps
    to the mid-point of ``P(X < x)`` and ``P(X <= x)``, so every row with that value gets the
    same output, centred in the share of rows it stands for.

    Missing: the value channel holds 0.5 (the median) and the flag channel 1 with the
    indicator; without it, a learned per-feature value (initialised at 0.5).

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``, ``d_out`` 2 with the missing
    indicator (channel 0 the CDF, channel 1 the flag), else 1.

    **Examples**

    >>> knots = np.array([[0.0, 0.0, 0.0, 1.0, 2.0]])  # 5 knots: levels 0, 1/4, ..., 1
    >>> m = CDF(knots, missing_indicator=False)
    >>> m(torch.tensor([[0.0], [1.5], [3.0]]))[:, 0, 0].tolist()
    [0.25, 0.875, 1.0]

    Args:
        knots: per feature, the training quantiles at evenly spaced levels ``(n_features, K)``.
        missing_indicator: flag channel (True) or learned missing value (False).
    """

    knots: Tensor
    tie_level: Tensor

    def __init__(self, knots: np.ndarray, *, missing_indicator: bool = True) -> None:
        super().__init__()
        # Comparisons happen in float32, so ties are found among the float32 knots.
        knots32 = np.asarray(knots, dtype=np.float32)
        self.n_features, size = knots32.shape
        if size < 2:
            raise ValueError(f"need at least 2 knots per feature, got {knots32.shape=}")
        level = levels(size)
        tie_level = np.empty(knots32.shape, dtype=np.float64)
        for j, row in enumerate(knots32):
            first = np.searchsorted(row, row, side="left")
            last = np.searchsorted(row, row, side="right") - 1
            tie_level[j] = (level[first] + level[last]) / 2.0
        self.step = 1.0 / (size - 1)
        self.register_buffer("knots", torch.tensor(knots32))
        self.register_buffer("tie_level", torch.tensor(tie_level, dtype=torch.float32))
        self.missing = MissingValues(self.n_features, 1, indicator=missing_indicator, fill=0.5)
        self.d_out = self.missing.d_out

    def forward(self, x_num: Tensor) -> Tensor:
        x, missing = split_missing(x_num, self.n_features)
        xt = x.t().contiguous()  # (n_features, B): searchsorted wants the knots' leading dims
        size = self.knots.shape[1]
        below = torch.searchsorted(self.knots, xt)  # knots < x
        upper = below.clamp(1, size - 1)
        k0 = self.knots.gather(1, upper - 1)
        k1 = self.knots.gather(1, upper)
        width = k1 - k0
        # Within a segment: linear. Beyond the knots, t clamps to 0 or 1; a zero-width end
        # segment (tied end knots) is a step.
        t = torch.where(
            width > 0,
            (xt - k0) / width.clamp_min(torch.finfo(width.dtype).tiny),
            (xt > k0).to(xt.dtype),
        ).clamp(0.0, 1.0)
        between = (upper - 1).to(xt.dtype).add(t).mul(self.step)
        # x equals a knot exactly when the first knot >= x is x (one search, not two).
        at = below.clamp_max(size - 1)
        tied = self.knots.gather(1, at) == xt
        p = torch.where(tied, self.tie_level.gather(1, at), between)
        out: Tensor = self.missing(p.t().unsqueeze(-1), missing)
        return out


@dataclass(frozen=True)
class CDFConfig(NumericEncodingConfig):
    """``cdf``: the empirical CDF from the training knots (uniform on train); ties mid-point.

    Attributes:
        missing_indicator: add a 0/1 "was missing" channel (else a learned missing value).
    """

    missing_indicator: bool = True

    def __post_init__(self) -> None:
        check_bool("missing_indicator", self.missing_indicator)

    def build(self, inputs: FeatureInputs) -> CDF:
        return CDF(knot_matrix(inputs.numeric), missing_indicator=self.missing_indicator)
