"""What every backbone offers the ranker: ``(B, d_in) -> (B, d_out)``, and the shared choices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from harness.registry import PartConfig

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "Activation",
    "Backbone",
    "BackboneConfig",
    "Norm",
    "check_layer_options",
    "make_norm",
]

Activation = Literal["relu", "gelu", "silu"]
Norm = Literal["none", "batch", "layer"]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
NORMS: tuple[str, ...] = ("none", "batch", "layer")


def make_norm(norm: str, d: int) -> nn.Module:
    """``BatchNorm1d``, ``LayerNorm`` or the identity over ``d`` features."""
    if norm == "batch":
        return nn.BatchNorm1d(d)
    if norm == "layer":
        return nn.LayerNorm(d)
    return nn.Identity()


def check_layer_options(dropout: float, activation: str, norm: str) -> None:
    """Raises ValueError naming a bad dropout, activation or normalisation."""
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout=}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation=}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm=}")


class Backbone(nn.Module):
    """The deep part of a ranker: ``(B, d_in) -> (B, d_out)``."""

    d_in: int
    d_out: int

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError


@dataclass(frozen=True)
class BackboneConfig(PartConfig):
    """Base of a registered backbone's config (``BACKBONES``)."""

    def build(self, d_in: int) -> Backbone:
        raise NotImplementedError
