"""``log1p``: a signed log transform for heavy-tailed counts, then standardised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from harness.models.inputs import FeatureInputs
from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig
from harness.models.numeric.checks import check_bool
from harness.models.numeric.knots import knot_matrix
from harness.models.numeric.missing import MissingValues, split_missing
from harness.models.numeric.standardize import Scaling, Standardize

__all__ = ["LOG_LIMIT", "Log1p", "Log1pConfig", "signed_log1p"]

# sign(x) log1p(|x|) of the largest float32 is 88.72: the transformed value never leaves
# +-LOG_LIMIT (an infinite input is clamped there).
LOG_LIMIT = 89.0


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)`` in numpy (for knots)."""
    out: np.ndarray = np.sign(x) * np.log1p(np.abs(x))
    return out


class Log1p(NumericEncoding):
    """``sign(x) * log1p(|x|)`` per feature, then standardised with the transformed knots' moments.

    The log squashes Criteo-style counts (0 .. 1e6) into a range an MLP handles; the
    standardisation (mean and standard deviation of ``log1p(X)``, integrated from the
    transformed knots) centres it. Built directly without ``scaling``, the module only takes the
    log.

    Missing: the value channel holds 0 (the transformed mean) and the flag channel 1 with the
    indicator; without it, a learned per-feature value (initialised at 0).

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``, ``d_out`` 2 with the missing
    indicator (channel 0 the value, channel 1 the 0/1 missing flag), else 1.

    **Examples**

    >>> m = Log1p(2, missing_indicator=True)
    >>> m(torch.tensor([[0.0, float("nan")]])).tolist()
    [[[0.0, 0.0], [0.0, 1.0]]]

    Args:
        n_features: numeric features.
        missing_indicator: flag channel (True) or learned missing value (False).
        scaling: the moments of the transformed values (`Scaling.fit` on transformed knots);
            None for the bare log.
    """

    def __init__(
        self, n_features: int, *, missing_indicator: bool = True, scaling: Scaling | None = None
    ) -> None:
        super().__init__()
        if n_features < 0:
            raise ValueError(f"n_features must be non-negative, got {n_features=}")
        if scaling is None:
            zeros = np.zeros(n_features)
            scaling = Scaling(low=zeros - LOG_LIMIT, high=zeros + LOG_LIMIT, mean=zeros,
                              std=zeros + 1.0)  # fmt: skip
        if len(scaling.mean) != n_features:
            raise ValueError(f"scaling for {len(scaling.mean)} features, got {n_features=}")
        self.n_features = n_features
        self.standardize = Standardize(scaling)
        self.missing = MissingValues(n_features, 1, indicator=missing_indicator)
        self.d_out = self.missing.d_out

    def forward(self, x_num: Tensor) -> Tensor:
        x, missing = split_missing(x_num, self.n_features)
        value = torch.sign(x) * torch.log1p(torch.abs(x))
        out: Tensor = self.missing(self.standardize(value).unsqueeze(-1), missing)
        return out


@dataclass(frozen=True)
class Log1pConfig(NumericEncodingConfig):
    """``log1p``: signed log, standardised; missing flagged in a channel of its own.

    Attributes:
        missing_indicator: add a 0/1 "was missing" channel per feature (else a learned
            missing value).
        standardize: centre and scale the log by its training mean and standard deviation.
    """

    missing_indicator: bool = True
    standardize: bool = True

    def __post_init__(self) -> None:
        check_bool("missing_indicator", self.missing_indicator)
        check_bool("standardize", self.standardize)

    def build(self, inputs: FeatureInputs) -> Log1p:
        scaling = None
        if self.standardize:
            knots = signed_log1p(knot_matrix(inputs.numeric))
            scaling = Scaling.fit(knots, clip=None, limit=LOG_LIMIT)
        return Log1p(inputs.n_num, missing_indicator=self.missing_indicator, scaling=scaling)
