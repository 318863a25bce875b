"""What every interaction layer offers the ranker: its input and output widths."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["Interaction"]


class Interaction(nn.Module):
    """Mixes the flat feature vector: ``(B, d_in) -> (B, d_out)``.

    A registered subclass is constructed as ``cls(d_in)`` with every other argument keyword-only
    and defaulted, which is what lets one contract suite test every registry entry.
    """

    d_in: int
    d_out: int

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError
