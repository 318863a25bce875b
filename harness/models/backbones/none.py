"""``none``: no deep part; the interaction's output goes straight to the head (FM, LR)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from harness.models.backbones.base import Backbone, BackboneConfig

__all__ = ["NoBackbone", "NoBackboneConfig"]


class NoBackbone(Backbone):
    """The identity. **Shape**: ``(B, d_in) -> (B, d_in)``."""

    def __init__(self, d_in: int) -> None:
        super().__init__()
        if d_in < 1:
            raise ValueError(f"d_in must be positive, got {d_in=}")
        self.d_in = self.d_out = d_in

    def forward(self, x: Tensor) -> Tensor:
        return x


@dataclass(frozen=True)
class NoBackboneConfig(BackboneConfig):
    """``none``: no backbone."""

    def build(self, d_in: int) -> NoBackbone:
        return NoBackbone(d_in)
