"""``Log1p``: a signed log transform for heavy-tailed counts, NaN to zero."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from harness.models.inputs import FeatureInputs
from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig

__all__ = ["Log1p", "Log1pConfig"]


class Log1p(NumericEncoding):
    """``sign(x) * log1p(|x|)`` per feature, NaN mapped to 0, optional missing-indicator channel.

    Learns nothing: the log squashes Criteo-style counts (0 .. 1e6) into a range an MLP handles
    without fitted statistics.

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``, ``d_out`` 2 with the missing
    indicator (channel 0 the value, channel 1 the 0/1 missing flag), else 1.

    **Examples**

    >>> m = Log1p(2, missing_indicator=True)
    >>> m(torch.tensor([[0.0, float("nan")]])).tolist()
    [[[0.0, 0.0], [0.0, 1.0]]]
    """

    def __init__(self, n_features: int, *, missing_indicator: bool = True) -> None:
        super().__init__()
        if n_features < 0:
            raise ValueError(f"n_features must be non-negative, got {n_features=}")
        self.n_features = n_features
        self.missing_indicator = missing_indicator
        self.d_out = 2 if missing_indicator else 1

    def forward(self, x_num: Tensor) -> Tensor:
        if x_num.ndim != 2 or x_num.shape[1] != self.n_features:
            raise ValueError(
                f"expected x_num of shape (B, {self.n_features}), got {tuple(x_num.shape)=}"
            )
        missing = torch.isnan(x_num)
        value = torch.sign(x_num) * torch.log1p(torch.abs(x_num))
        value = value.masked_fill(missing, 0.0)
        if not self.missing_indicator:
            return value.unsqueeze(-1)
        return torch.stack((value, missing.to(value.dtype)), dim=-1)


@dataclass(frozen=True)
class Log1pConfig(NumericEncodingConfig):
    """``log1p``: signed log, missing values 0 (and flagged in a channel of their own).

    Attributes:
        missing_indicator: add a 0/1 "was missing" channel per feature.
    """

    missing_indicator: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.missing_indicator, bool):
            raise ValueError(
                f"missing_indicator must be true or false, got {self.missing_indicator=}"
            )

    def build(self, inputs: FeatureInputs) -> Log1p:
        return Log1p(inputs.n_num, missing_indicator=self.missing_indicator)
