"""``fm``: the factorization machine's pairwise term (Rendle, 2010) in its O(F·d) form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from torch import Tensor

from harness.models.interactions.base import Interaction, InteractionConfig
from harness.models.spec import TensorKind, TensorSpec

__all__ = ["FMConfig", "FactorizationMachine"]

Pooling = Literal["sum", "vector"]


class FactorizationMachine(Interaction):
    """``sum_{i<j} <v_i, v_j>`` over the field tokens, computed as ``((sum v)^2 - sum v^2) / 2``.

    That identity costs O(F·d) instead of the O(F²·d) of the explicit double sum. The first-order
    terms of an FM (a weight per id and per numeric feature) are the ranker's ``wide`` part: an
    FM ranker is ``wide = true`` plus this layer.

    ``pooling="sum"`` gives the FM logit term ``(B, 1)``; ``pooling="vector"`` keeps the ``d``
    coordinates before summing them (NFM's bi-interaction pooling), ``(B, d)``, for a backbone.

    **Shape**: ``(B, F, d) -> (B, 1)`` (sum) or ``(B, d)`` (vector).

    **Examples**

    >>> fm = FactorizationMachine(TensorSpec.tokens(3, 4))
    >>> fm(torch.ones(2, 3, 4)).tolist()  # 3 pairs of dot products 4
    [[12.0], [12.0]]
    """

    def __init__(self, inputs: TensorSpec, *, pooling: Pooling = "sum") -> None:
        super().__init__()
        if inputs.kind != "tokens":
            raise ValueError(f"fm takes field tokens, got {inputs.kind=}")
        if inputs.fields < 2:
            raise ValueError(f"fm needs at least 2 field tokens to pair, got {inputs.fields=}")
        if pooling not in ("sum", "vector"):
            raise ValueError(f"pooling must be 'sum' or 'vector', got {pooling=}")
        self.input = inputs
        self.pooling = pooling
        self.output = TensorSpec.flat(1 if pooling == "sum" else inputs.width)

    def forward(self, x: Tensor) -> Tensor:
        self.input.check(x, "fm")
        square_of_sum = x.sum(dim=1).square()
        sum_of_squares = x.square().sum(dim=1)
        pairs = 0.5 * (square_of_sum - sum_of_squares)  # (B, d)
        return pairs.sum(dim=1, keepdim=True) if self.pooling == "sum" else pairs


@dataclass(frozen=True)
class FMConfig(InteractionConfig):
    """``fm``: factorization-machine pairwise interactions.

    Attributes:
        pooling: ``"sum"`` (the FM logit term) or ``"vector"`` (NFM's bi-interaction, d wide).
    """

    takes: ClassVar[TensorKind] = "tokens"
    pooling: Pooling = "sum"

    def __post_init__(self) -> None:
        if self.pooling not in ("sum", "vector"):
            raise ValueError(f"pooling must be 'sum' or 'vector', got {self.pooling=}")

    def build(self, inputs: TensorSpec) -> FactorizationMachine:
        return FactorizationMachine(inputs, pooling=self.pooling)
