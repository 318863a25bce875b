"""``dot``: DLRM's interaction (Naumov et al., 2019): pairwise dot products of the tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from harness.models.interactions.base import Interaction, InteractionConfig
from harness.models.spec import TensorKind, TensorSpec

__all__ = ["DotConfig", "DotInteraction"]


class DotInteraction(Interaction):
    """``[dense | <t_i, t_j> for i < j]``: the dense vector next to every pairwise dot product.

    The dense vector is the numeric tokens, flattened: with the tokenizer's DLRM bottom MLP
    (``numeric_tokens = "mlp"``) that is DLRM's one dense embedding, exactly. With
    ``self_interaction`` the squared norms ``<t_i, t_i>`` are kept too (DLRM's
    ``arch-interaction-itself``).

    **Shape**: ``(B, F, d) -> (B, numeric_fields * d + P)``, ``P = F(F-1)/2`` (``F(F+1)/2`` with
    the self terms).

    **Examples**

    >>> dot = DotInteraction(TensorSpec.tokens(3, 2, numeric_fields=1))
    >>> dot(torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])).tolist()
    [[1.0, 2.0, 11.0, 17.0, 39.0]]
    """

    rows: Tensor
    cols: Tensor

    def __init__(self, inputs: TensorSpec, *, self_interaction: bool = False) -> None:
        super().__init__()
        if inputs.kind != "tokens":
            raise ValueError(f"dot takes field tokens, got {inputs.kind=}")
        if inputs.fields < 2:
            raise ValueError(f"dot needs at least 2 field tokens to pair, got {inputs.fields=}")
        self.input = inputs
        self.self_interaction = self_interaction
        rows, cols = torch.triu_indices(
            inputs.fields, inputs.fields, offset=0 if self_interaction else 1
        )
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.n_dense = inputs.numeric_fields * inputs.width
        self.output = TensorSpec.flat(self.n_dense + int(rows.numel()))

    def forward(self, x: Tensor) -> Tensor:
        self.input.check(x, "dot")
        gram = torch.bmm(x, x.transpose(1, 2))  # (B, F, F)
        pairs = gram[:, self.rows, self.cols]
        if not self.n_dense:
            return pairs
        dense = x[:, : self.input.numeric_fields].flatten(1)
        return torch.cat([dense, pairs], dim=1)


@dataclass(frozen=True)
class DotConfig(InteractionConfig):
    """``dot``: DLRM's pairwise dot products.

    Attributes:
        self_interaction: also keep each token's dot product with itself.
    """

    takes: ClassVar[TensorKind] = "tokens"
    self_interaction: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.self_interaction, bool):
            raise ValueError(
                f"self_interaction must be true or false, got {self.self_interaction=}"
            )

    def build(self, inputs: TensorSpec) -> DotInteraction:
        return DotInteraction(inputs, self_interaction=self.self_interaction)
