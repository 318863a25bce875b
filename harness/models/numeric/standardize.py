"""``Standardize``: clamp each feature to a fitted range, then ``(x - mean) / std``, from the knots.

The mean and standard deviation are those of the *clamped* training distribution, integrated
from the knots (`harness.models.numeric.knots.moments`, the end segments `tail_adjusted`): after
a clamp of at least 0.1% per tail, train values have mean 0 and standard deviation 1 within about
1%, whatever the tails. Without one (``clip = 0``, the training range) a heavy tail's extremes
lie beyond the knots' model: its training standard deviation comes out above 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from harness.models.numeric.knots import (
    KNOT_LIMIT,
    levels,
    moments,
    quantile_at,
    safe_std,
    tail_adjusted,
)

__all__ = ["Scaling", "Standardize"]


@dataclass(frozen=True)
class Scaling:
    """Per-feature clamp bounds and moments ``(n_features,)`` each, fitted from knots.

    Attributes:
        low, high: the clamp bounds.
        mean, std: of the clamped training distribution (``std`` a safe divisor, `safe_std`).
    """

    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, knots: np.ndarray, *, clip: float | None, limit: float = KNOT_LIMIT) -> Scaling:
        """The scaling of features whose training quantile knots are ``knots`` ``(n, K)``.

        Args:
            knots: knots at evenly spaced levels (already transformed, for a transformed value).
            clip: clamp to the quantiles at levels ``clip`` and ``1 - clip`` (0: the training
                range), or None to clamp only to ``+-limit``.
            limit: the bound used when ``clip`` is None.
        """
        grid = levels(knots.shape[1])
        n = knots.shape[0]
        model = tail_adjusted(knots)  # the quantile function moments and clip levels read
        if clip is None:
            low, high = np.full(n, -limit), np.full(n, limit)
            values = model
        else:
            # The clip levels join the grid, so the clamped quantile function stays linear
            # between grid points and its moments are exact.
            grid = np.union1d(grid, [clip, 1.0 - clip])
            values = quantile_at(model, grid)
            low, high = quantile_at(model, [clip, 1.0 - clip]).T
            if clip == 0.0:
                # The training range itself: no training value moves.
                low, high = knots[:, 0], knots[:, -1]
            values = np.clip(values, low[:, None], high[:, None])
        mean, std = moments(grid, values)
        return cls(low=low, high=high, mean=mean, std=safe_std(std, values))

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Standardises ``(n_features, m)`` values in numpy, as `Standardize` does in torch."""
        clamped = np.clip(values, self.low[:, None], self.high[:, None])
        out: np.ndarray = (clamped - self.mean[:, None]) / self.std[:, None]
        return out


class Standardize(nn.Module):
    """``(clamp(x, low, high) - mean) / std`` per feature, with fitted buffers.

    **Shape**: ``(B, n_features) -> (B, n_features)``.

    **Examples**

    >>> knots = np.linspace([0.0, 10.0], [1.0, 30.0], 257, axis=1)  # uniform on [0, 1], [10, 30]
    >>> m = Standardize(Scaling.fit(knots, clip=0.0))
    >>> [round(v, 3) for v in m(torch.tensor([[0.5, 50.0]]))[0].tolist()]
    [0.0, 1.732]
    """

    low: Tensor
    high: Tensor
    mean: Tensor
    std: Tensor

    def __init__(self, scaling: Scaling) -> None:
        super().__init__()
        for name in ("low", "high", "mean", "std"):
            value = np.asarray(getattr(scaling, name), dtype=np.float32)
            # torch.tensor, not from_numpy: the buffer lands on the default device (meta too).
            self.register_buffer(name, torch.tensor(value))

    def forward(self, x: Tensor) -> Tensor:
        return (torch.clamp(x, self.low, self.high) - self.mean) / self.std
