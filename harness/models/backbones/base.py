"""What every backbone offers the ranker: its input and output widths."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["Backbone"]


class Backbone(nn.Module):
    """The deep part of a ranker: ``(B, d_in) -> (B, d_out)``.

    A registered subclass is constructed as ``cls(d_in)`` with every other argument defaulted,
    which is what lets one contract suite test every registry entry.
    """

    d_in: int
    d_out: int

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError
