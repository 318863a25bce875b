"""``DCNv2Ranker``: numeric encoding + embeddings -> cross network -> MLP -> logits."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from harness.models.backbones.base import Backbone
from harness.models.embeddings.fused import FusedEmbedding
from harness.models.interactions.base import Interaction
from harness.models.numeric.base import NumericEncoding

__all__ = ["DCNv2Ranker"]


class DCNv2Ranker(nn.Module):
    """The "stacked" DCN-v2: cross layers on the flat input, then an MLP, then a linear head.

    Receives built parts (as torchrec's DLRM does) and returns logits; the loss lives in the
    training loop. The flat input ``x_0`` is the concatenation of the flattened numeric encoding
    ``(B, n_num * d_num)`` and the flattened embeddings ``(B, n_cat * dim)``.

    **Shape**: ``x_num (B, n_num)``, ``x_cat (B, n_cat)`` -> logits ``(B, n_tasks)``.
    """

    def __init__(
        self,
        numeric: NumericEncoding,
        embedding: FusedEmbedding | None,
        interaction: Interaction,
        backbone: Backbone,
        head: nn.Linear,
    ) -> None:
        """
        Args:
            numeric: encodes ``x_num``; one with zero features when a dataset has none.
            embedding: embeds ``x_cat``; ``None`` when a dataset has no categorical feature.
            interaction: ``d_in`` must equal the flat input width.
            backbone: ``d_in`` must equal ``interaction.d_out``.
            head: ``Linear(backbone.d_out, n_tasks)``.
        """
        super().__init__()
        d_input = numeric.n_features * numeric.d_out
        if embedding is not None:
            d_input += embedding.n_features * embedding.dim
        if d_input < 1:
            raise ValueError("the ranker has no input: no numeric and no categorical features")
        if interaction.d_in != d_input:
            raise ValueError(
                f"interaction expects {interaction.d_in=} but numeric and embeddings give "
                f"{d_input=}"
            )
        if backbone.d_in != interaction.d_out:
            raise ValueError(f"{backbone.d_in=} must equal {interaction.d_out=}")
        if head.in_features != backbone.d_out:
            raise ValueError(f"{head.in_features=} must equal {backbone.d_out=}")
        self.numeric = numeric
        self.embedding = embedding
        self.interaction = interaction
        self.backbone = backbone
        self.head = head
        self.d_input = d_input
        self.n_tasks = head.out_features

    def forward(self, x_num: Tensor, x_cat: Tensor) -> Tensor:
        parts = [self.numeric(x_num).flatten(1)]
        if self.embedding is not None:
            parts.append(self.embedding(x_cat).flatten(1))
        x0 = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        logits: Tensor = self.head(self.backbone(self.interaction(x0)))
        return logits
