"""Backbones: the deep part of a ranker, ``(B, d_in) -> (B, d_out)``.

A new backbone is one module plus one line in ``BACKBONES``; the contract tests cover it.
"""

from harness.models.backbones.base import Backbone
from harness.models.backbones.mlp import ACTIVATIONS, MLP

__all__ = ["ACTIVATIONS", "BACKBONES", "MLP", "Backbone"]

BACKBONES: dict[str, type[Backbone]] = {
    "mlp": MLP,
}
