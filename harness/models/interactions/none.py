"""``none``: no explicit interaction; the flat input goes on unchanged (a plain MLP ranker)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from harness.models.interactions.base import Interaction, InteractionConfig
from harness.models.spec import TensorSpec

__all__ = ["NoInteraction", "NoInteractionConfig"]


class NoInteraction(Interaction):
    """The identity on the flat vector.

    **Shape**: ``(B, D) -> (B, D)``.
    """

    def __init__(self, inputs: TensorSpec) -> None:
        super().__init__()
        if inputs.kind != "flat":
            raise ValueError(f"none takes the flat vector, got {inputs.kind=}")
        self.input = self.output = inputs

    def forward(self, x: Tensor) -> Tensor:
        self.input.check(x, "none")
        return x


@dataclass(frozen=True)
class NoInteractionConfig(InteractionConfig):
    """``none``: no interaction layer."""

    def build(self, inputs: TensorSpec) -> NoInteraction:
        return NoInteraction(inputs)
