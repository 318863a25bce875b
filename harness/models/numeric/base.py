"""What every numeric encoding offers the ranker: a config that builds it, fitted on train."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from harness.models.inputs import FeatureInputs
from harness.registry import PartConfig

__all__ = ["NumericEncoding", "NumericEncodingConfig"]


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

    ``build`` reads what the encoding needs (moments, quantile knots) from the training
    statistics in ``inputs.numeric``, fitted once when the data was prepared, as scikit-learn's
    ``fit`` would on the training split; it never scans the data.
    """

    def build(self, inputs: FeatureInputs) -> NumericEncoding:
        """The encoding of ``inputs.numeric``'s features."""
        raise NotImplementedError
