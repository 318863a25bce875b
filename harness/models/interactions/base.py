"""What every interaction layer offers the ranker: the tensor kinds it takes and gives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn

from harness.models.spec import TensorKind, TensorSpec
from harness.registry import PartConfig

__all__ = ["Interaction", "InteractionConfig"]


class Interaction(nn.Module):
    """Mixes features: tokens or a flat vector in (``input``), tokens or flat out (``output``).

    Built by its config's ``build`` from the input's `TensorSpec`; ``forward`` takes one tensor of
    the kind ``input`` describes.
    """

    input: TensorSpec
    output: TensorSpec

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError


@dataclass(frozen=True)
class InteractionConfig(PartConfig):
    """Base of a registered interaction's config (``INTERACTIONS``).

    ``takes`` is the tensor kind ``build`` needs: the ranker prepares that view of the tokenizer's
    output (tokens, or everything flattened) before building the layer.
    """

    takes: ClassVar[TensorKind] = "flat"

    def build(self, inputs: TensorSpec) -> Interaction:
        raise NotImplementedError
