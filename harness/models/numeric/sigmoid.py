"""``sigmoid``: soft thresholds ``sigmoid(a * z + b)`` of the standardised value ``z``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from harness.models.inputs import FeatureInputs
from harness.models.numeric.base import NumericEncoding, NumericEncodingConfig
from harness.models.numeric.checks import check_bool, check_clip, check_int
from harness.models.numeric.knots import knot_matrix, quantile_at
from harness.models.numeric.missing import MissingValues, split_missing
from harness.models.numeric.standardize import Scaling, Standardize

__all__ = ["Sigmoid", "SigmoidConfig", "sigmoid_init"]

# The steepest initial slope: a threshold between two nearly equal quantiles (a point mass)
# starts as a step about 0.04 standard deviations wide, not a cliff with vanishing gradients.
_MAX_SLOPE = 100.0


def sigmoid_init(
    knots: np.ndarray, scaling: Scaling, channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Initial ``(a, b)`` ``(n_features, channels)``: thresholds spread over the training quantiles.

    Channel ``k`` starts as a soft step at the quantile of level ``(k + 1/2) / channels`` (in
    ``z``), rising from 0.27 to 0.73 across the central half of its slab of rows (levels
    ``(k + 1/4) / channels`` to ``(k + 3/4) / channels``; in a skewed slab, across twice its
    narrower side): the channels split the training rows into about equal shares, as quantile
    bins would. The central half, not the whole slab, sets the slope, so that the slabs of a
    long tail still start as steps.
    """
    at = (np.arange(channels)[:, None] + np.array([0.25, 0.5, 0.75])) / channels
    z = scaling.apply(quantile_at(knots, at.ravel())).reshape(len(knots), channels, 3)
    centre = z[..., 1]
    # The steeper side sets the slope: in a skewed slab, the rows crowded on one side of the
    # threshold must still fall on their side of the step.
    quarter = np.minimum(centre - z[..., 0], z[..., 2] - centre)
    a = 1.0 / np.maximum(quarter, 1.0 / _MAX_SLOPE)
    return a, -a * centre


class Sigmoid(NumericEncoding):
    """``channels`` soft thresholds of each feature's standardised (clamped) value.

    Channel ``k`` of feature ``j`` is ``sigmoid(a[j, k] * z + b[j, k])``, ``z`` the value
    clamped and standardised as ``standard`` does; ``(a, b)`` start spread over the training
    quantiles (`sigmoid_init`) and are learned when ``learnable``.

    Missing: the value channels hold 0.5 and the flag channel 1 with the indicator; without it,
    a learned per-feature vector (initialised at 0.5).

    **Shape**: ``(B, n_features) -> (B, n_features, d_out)``, ``d_out = channels`` plus 1 with
    the missing indicator (the last channel the flag).

    **Examples**

    >>> inputs = FeatureInputs.from_arrays(np.random.default_rng(0).normal(size=(1000, 2)))
    >>> m = SigmoidConfig(channels=4).build(inputs)
    >>> m(torch.tensor([[0.0, float("nan")]])).shape
    torch.Size([1, 2, 5])

    Args:
        scaling: the clamp bounds and moments of ``z`` (`Scaling.fit`).
        a, b: initial slopes and offsets ``(n_features, channels)``.
        learnable: learn ``a`` and ``b`` (parameters) or keep them (buffers).
        missing_indicator: flag channel (True) or learned missing vector (False).
    """

    def __init__(
        self,
        scaling: Scaling,
        a: np.ndarray,
        b: np.ndarray,
        *,
        learnable: bool = True,
        missing_indicator: bool = True,
    ) -> None:
        super().__init__()
        self.n_features, channels = a.shape
        if b.shape != a.shape or len(scaling.mean) != self.n_features:
            raise ValueError(f"a, b and scaling disagree: {a.shape=}, {b.shape=}")
        self.standardize = Standardize(scaling)
        slope = torch.tensor(np.asarray(a, dtype=np.float32))
        offset = torch.tensor(np.asarray(b, dtype=np.float32))
        self.a: Tensor
        self.b: Tensor
        if learnable:
            self.a, self.b = nn.Parameter(slope), nn.Parameter(offset)
        else:
            self.register_buffer("a", slope)
            self.register_buffer("b", offset)
        self.missing = MissingValues(self.n_features, channels, indicator=missing_indicator,
                                     fill=0.5)  # fmt: skip
        self.d_out = self.missing.d_out

    def forward(self, x_num: Tensor) -> Tensor:
        x, missing = split_missing(x_num, self.n_features)
        z = self.standardize(x).unsqueeze(-1)
        out: Tensor = self.missing(torch.sigmoid(torch.addcmul(self.b, self.a, z)), missing)
        return out


@dataclass(frozen=True)
class SigmoidConfig(NumericEncodingConfig):
    """``sigmoid``: ``channels`` soft thresholds ``sigmoid(a z + b)``, spread over the quantiles.

    Attributes:
        channels: soft thresholds per feature.
        learnable: learn the slopes and offsets (else they stay at their fitted start).
        clip: the tail share clamped before standardising (as ``standard``'s ``clip``).
        missing_indicator: add a 0/1 "was missing" channel (else a learned missing vector).
    """

    channels: int = 8
    learnable: bool = True
    clip: float = 0.001
    missing_indicator: bool = True

    def __post_init__(self) -> None:
        check_int("channels", self.channels, low=1)
        check_bool("learnable", self.learnable)
        check_clip(self.clip)
        check_bool("missing_indicator", self.missing_indicator)

    def build(self, inputs: FeatureInputs) -> Sigmoid:
        knots = knot_matrix(inputs.numeric)
        scaling = Scaling.fit(knots, clip=self.clip)
        a, b = sigmoid_init(knots, scaling, self.channels)
        return Sigmoid(
            scaling,
            a,
            b,
            learnable=self.learnable,
            missing_indicator=self.missing_indicator,
        )
