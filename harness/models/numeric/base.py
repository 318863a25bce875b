"""What every numeric encoding offers the ranker: a config that builds it, fitted on train."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor, nn

from harness.registry import PartConfig

__all__ = ["NumericEncoding", "NumericEncodingConfig", "check_x_train"]


class NumericEncoding(nn.Module):
    """Encodes ``n_features`` raw numeric columns (NaN where missing), each to ``d_out`` channels.

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``.
    """

    n_features: int
    d_out: int

    def forward(self, x_num: Tensor) -> Tensor:
        raise NotImplementedError


@dataclass(frozen=True)
class NumericEncodingConfig(PartConfig):
    """Base of a registered numeric encoding's config (``NUMERIC_ENCODINGS``).

    ``build`` fits what the encoding learns from data (bins, quantiles, scales) on the training
    split only, as scikit-learn's ``fit`` would.
    """

    def build(self, x_train: np.ndarray) -> NumericEncoding:
        """The encoding for the training split's ``x_num`` (float ``(N, n_features)``).

        An encoding that needs statistics should read a sample of rows rather than all of a
        memory-mapped array.
        """
        raise NotImplementedError


def check_x_train(x_train: np.ndarray) -> int:
    """Returns the number of features of a training ``x_num``, rejecting a wrong shape."""
    if x_train.ndim != 2:
        raise ValueError(f"x_train must be 2-D (N, n_features), got {x_train.shape=}")
    return int(x_train.shape[1])
