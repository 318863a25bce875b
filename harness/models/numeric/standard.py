"""``standard``: clip at training quantiles, then standardise with the clipped moments."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from harness.models.inputs import FeatureInputs
from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig
from harness.models.numeric.checks import check_bool, check_clip
from harness.models.numeric.knots import knot_matrix
from harness.models.numeric.missing import MissingValues, split_missing
from harness.models.numeric.standardize import Scaling, Standardize

__all__ = ["Standard", "StandardConfig"]


class Standard(NumericEncoding):
    """Each feature clamped to its fitted range, minus its mean, over its standard deviation.

    Missing: the value channel holds 0 (the training mean) and the flag channel 1 with the
    indicator; without it, a learned per-feature value (initialised at 0).

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``, ``d_out`` 2 with the missing
    indicator (channel 0 the value, channel 1 the flag), else 1.

    **Examples**

    >>> import numpy as np, torch
    >>> inputs = FeatureInputs.from_arrays(np.random.default_rng(0).normal(5.0, 2.0, (1000, 2)))
    >>> m = StandardConfig().build(inputs)
    >>> m(torch.tensor([[5.0, float("nan")]])).shape
    torch.Size([1, 2, 2])

    Args:
        scaling: the fitted clamp bounds and moments (`Scaling.fit`).
        missing_indicator: flag channel (True) or learned missing value (False).
    """

    def __init__(self, scaling: Scaling, *, missing_indicator: bool = True) -> None:
        super().__init__()
        self.n_features = len(scaling.mean)
        self.standardize = Standardize(scaling)
        self.missing = MissingValues(self.n_features, 1, indicator=missing_indicator)
        self.d_out = self.missing.d_out

    def forward(self, x_num: Tensor) -> Tensor:
        x, missing = split_missing(x_num, self.n_features)
        out: Tensor = self.missing(self.standardize(x).unsqueeze(-1), missing)
        return out


@dataclass(frozen=True)
class StandardConfig(NumericEncodingConfig):
    """``standard``: clip at train quantiles, standardise with the clipped distribution's moments.

    Attributes:
        clip: share of training rows clipped in each tail: values are clamped to the quantiles
            at ``clip`` and ``1 - clip`` (0.001: the 0.1% and 99.9% quantiles; 0: clamped to the
            training range only, so no training value moves).
        missing_indicator: add a 0/1 "was missing" channel (else a learned missing value).
    """

    clip: float = 0.001
    missing_indicator: bool = True

    def __post_init__(self) -> None:
        check_clip(self.clip)
        check_bool("missing_indicator", self.missing_indicator)

    def build(self, inputs: FeatureInputs) -> Standard:
        scaling = Scaling.fit(knot_matrix(inputs.numeric), clip=self.clip)
        return Standard(scaling, missing_indicator=self.missing_indicator)
