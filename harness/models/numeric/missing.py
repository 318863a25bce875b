"""How every numeric encoding reads its input and represents a missing (NaN) value.

A missing value never silently becomes a number that a present value could also take:

- with the missing indicator (``missing_indicator = true``, the default), the value channels
  of a missing entry hold a fixed value (the encoding's neutral one: 0 for a standardised value,
  0.5 for a probability) and a last channel flags it (1 missing, 0 present);
- without it, a missing entry's channels are a learned vector of its feature (an
  ``nn.Parameter``, initialised at that neutral value), as a missing category has its own id.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MissingValues", "split_missing"]


def split_missing(x_num: Tensor, n_features: int) -> tuple[Tensor, Tensor]:
    """Checks ``x_num`` is ``(B, n_features)``; returns it with NaN replaced by 0, and the mask.

    The replacement keeps NaN out of every computation (a NaN in a branch that ``torch.where``
    discards still poisons the gradient); the mask then decides what a missing entry becomes.

    Raises:
        ValueError: ``x_num`` has the wrong shape.
    """
    if x_num.ndim != 2 or x_num.shape[1] != n_features:
        raise ValueError(f"expected x_num of shape (B, {n_features}), got {tuple(x_num.shape)=}")
    missing = torch.isnan(x_num)
    return x_num.masked_fill(missing, 0.0), missing


class MissingValues(nn.Module):
    """Puts the missing entries into encoded channels (module docstring).

    **Shape**: ``values (B, n_features, channels)``, ``missing (B, n_features)`` ->
    ``(B, n_features, channels + 1)`` with the indicator (the last channel the 0/1 flag), else
    ``(B, n_features, channels)``.

    **Examples**

    >>> m = MissingValues(2, 1, indicator=True)
    >>> values = torch.tensor([[[3.0], [4.0]]])
    >>> m(values, torch.tensor([[False, True]])).tolist()
    [[[3.0, 0.0], [0.0, 1.0]]]

    Args:
        n_features: numeric features.
        channels: value channels per feature.
        indicator: fixed value and flag channel (True) or a learned vector (False).
        fill: the fixed value, or the learned vector's initial value.
    """

    def __init__(
        self, n_features: int, channels: int, *, indicator: bool, fill: float = 0.0
    ) -> None:
        super().__init__()
        if n_features < 0 or channels < 1:
            raise ValueError(
                f"need n_features >= 0 and channels >= 1, got {n_features=}, {channels=}"
            )
        self.indicator = indicator
        self.fill = fill
        # No vector for no feature: a parameter of size 0 would learn nothing.
        learned = not indicator and n_features > 0
        self.vector: nn.Parameter | None = (
            nn.Parameter(torch.full((n_features, channels), fill)) if learned else None
        )
        self.d_out = channels + 1 if indicator else channels

    def forward(self, values: Tensor, missing: Tensor) -> Tensor:
        flag = missing.unsqueeze(-1)
        if self.indicator:
            return torch.cat((values.masked_fill(flag, self.fill), flag.to(values.dtype)), dim=-1)
        if self.vector is None:  # no feature
            return values
        return torch.where(flag, self.vector.to(values.dtype), values)
