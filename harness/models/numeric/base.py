"""What every numeric encoding offers the ranker: its width and a constructor fitted on train."""

from __future__ import annotations

from typing import Self

import numpy as np
from torch import Tensor, nn

__all__ = ["NumericEncoding", "check_x_train"]


class NumericEncoding(nn.Module):
    """Encodes ``n_features`` raw numeric columns (NaN where missing), each to ``d_out`` channels.

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``.

    A subclass implements ``from_train``: anything learned from data (bins, quantiles, scales) is
    fitted on the training split only, as scikit-learn's ``fit`` would, so that a registry entry
    can be built from ``(x_train, options)`` alone.
    """

    n_features: int
    d_out: int

    @classmethod
    def from_train(cls, x_train: np.ndarray, *, missing_indicator: bool = True) -> Self:
        """Builds the encoding from the training split's ``x_num`` (possibly memory-mapped).

        Args:
            x_train: float ``(N, n_features)``; an encoding that needs statistics should read a
                sample of rows rather than all of a memory-mapped array.
            missing_indicator: add a 0/1 channel per feature marking a missing (NaN) value.
        """
        raise NotImplementedError

    def forward(self, x_num: Tensor) -> Tensor:
        raise NotImplementedError


def check_x_train(x_train: np.ndarray) -> int:
    """Returns the number of features of a training ``x_num``, rejecting a wrong shape."""
    if x_train.ndim != 2:
        raise ValueError(f"x_train must be 2-D (N, n_features), got {x_train.shape=}")
    return int(x_train.shape[1])
