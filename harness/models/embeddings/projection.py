"""``GroupedOutput``: per-size groups of feature vectors to tokens of size ``d``, or to one flat
vector, in feature order."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from harness.models.embeddings.base import EmbeddingOutput

__all__ = ["GroupedOutput"]


class GroupedOutput(nn.Module):
    """Assembles the vectors of features grouped by size into the embedding's output.

    Group ``i`` holds the features ``groups[i][1]`` (ascending), each a vector of size
    ``groups[i][0]``. For ``tokens``, a group of size ``e != dim`` is projected to ``dim`` by one
    linear map per feature (no bias), batched over the group (``einsum``, not a loop of
    ``nn.Linear``); a group of size ``dim`` is taken as it is. For ``flat``, the vectors are
    concatenated. Either way the result is put back in feature order by one ``index_select``
    (none with a single group).

    **Shape**: groups ``[(B, g_i, e_i)]`` -> ``(B, n, dim)`` (tokens) or ``(B, sum_i g_i e_i)``
    (flat).

    **Examples**

    >>> out = GroupedOutput([(2, (1,)), (4, (0, 2))], dim=4, output="tokens")
    >>> out([torch.zeros(3, 1, 2), torch.zeros(3, 2, 4)]).shape
    torch.Size([3, 3, 4])
    """

    order: Tensor | None

    def __init__(
        self,
        groups: Sequence[tuple[int, Sequence[int]]],
        *,
        dim: int,
        output: EmbeddingOutput,
    ) -> None:
        super().__init__()
        features = [j for _, fs in groups for j in fs]
        if sorted(features) != list(range(len(features))) or not features:
            raise ValueError(f"groups must split features 0..n-1, got {groups=}")
        if output not in ("tokens", "flat"):
            raise ValueError(f"output must be 'tokens' or 'flat', got {output=}")
        self.output: EmbeddingOutput = output
        self.dim = dim
        self.weights = nn.ParameterList()
        # Per group, its projection's index in `weights`, or None (taken as it is).
        self._projection: list[int | None] = []
        for e, fs in groups:
            if output == "tokens" and e != dim:
                bound = 1.0 / math.sqrt(e)  # nn.Linear's default for fan-in e
                w = torch.empty(len(fs), e, dim).uniform_(-bound, bound)
                self._projection.append(len(self.weights))
                self.weights.append(nn.Parameter(w))
            else:
                self._projection.append(None)
        # Position of each output element in the group-ordered concatenation.
        order: list[int] | None = None
        if len(groups) > 1:
            if output == "tokens":
                order = sorted(range(len(features)), key=features.__getitem__)
            else:
                sizes = {j: e for e, fs in groups for j in fs}
                starts: dict[int, int] = {}
                at = 0
                for j in features:
                    starts[j] = at
                    at += sizes[j]
                order = [starts[j] + t for j in range(len(features)) for t in range(sizes[j])]
        self.register_buffer(
            "order", None if order is None else torch.tensor(order), persistent=False
        )

    def forward(self, groups: list[Tensor]) -> Tensor:
        if self.output == "tokens":
            parts = [
                g if p is None else torch.einsum("bge,ged->bgd", g, self.weights[p])
                for g, p in zip(groups, self._projection, strict=True)
            ]
        else:
            parts = [g.flatten(1) for g in groups]
        out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return out if self.order is None else out.index_select(1, self.order)
