"""``fused``: every categorical feature's table in one ``nn.Embedding`` (the fast default)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from harness.models.embeddings.base import CategoricalEmbedding, EmbeddingConfig, output_for
from harness.models.embeddings.grouped import GroupedEmbedding
from harness.models.inputs import FeatureInputs
from harness.models.spec import TensorKind

__all__ = ["FusedConfig", "FusedEmbedding"]


class FusedEmbedding(CategoricalEmbedding):
    """Embeds ``n_cat`` categorical features with one table and per-feature row offsets.

    Feature ``j``'s id ``k`` is row ``offsets[j] + k`` of a single ``(sum(rows), dim)`` table.
    One table means one lookup kernel and, with ``sparse=True``, one sparse gradient per
    step that ``torch.optim.SparseAdam`` updates row by row: per-field tables with dense Adam are
    about 1.7x slower on a 2-core CPU because Adam touches every row of every table each step.

    **Shape**

    - Input: ``(B, n_cat)`` integer ids, feature ``j`` in ``[0, cardinalities[j])``.
    - Output: ``(B, n_cat, dim)``.

    **Examples**

    >>> m = FusedEmbedding([10, 5], 4)
    >>> m(torch.tensor([[3, 4], [0, 1]])).shape
    torch.Size([2, 2, 4])
    """

    offsets: Tensor

    def __init__(
        self,
        cardinalities: Sequence[int],
        dim: int,
        *,
        sparse: bool = True,
        init_std: float = 0.01,
        check_ids: bool = True,
        clip_to: Sequence[int] | None = None,
    ) -> None:
        """
        Args:
            cardinalities: ids per feature (missing and rare ids included).
            dim: the embedding size shared by all features.
            sparse: whether the table's gradient is a sparse tensor (then optimise it with
                ``torch.optim.SparseAdam``, which a dense optimiser rejects).
            init_std: standard deviation of the normal initialisation.
            check_ids: reject ids outside ``[0, cardinality)`` of their feature on CPU inputs
                (an out-of-range id would silently read the next feature's rows). GPU inputs
                are not checked: the check would make the host wait for the device each step.
            clip_to: per feature, ids ``>= clip_to[j]`` become the rare id 1 and the feature
                has ``clip_to[j]`` rows (frequency clipping); None clips nothing.
        """
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim=}")
        if not init_std > 0.0:
            raise ValueError(f"init_std must be positive, got {init_std=}")
        super().__init__(
            cardinalities,
            dims=(dim,) * len(cardinalities),
            dim=dim,
            clip_to=clip_to,
            check_ids=check_ids,
        )
        rows = self.vocabulary
        starts = torch.tensor((0, *rows[:-1]), dtype=torch.int64).cumsum(0)
        self.register_buffer("offsets", starts, persistent=False)
        self.table = nn.Embedding(sum(rows), dim, sparse=sparse)
        nn.init.normal_(self.table.weight, std=init_std)

    @property
    def sparse(self) -> bool:
        return bool(self.table.sparse)

    def forward(self, x_cat: Tensor) -> Tensor:
        x_cat = self._prepare(x_cat)
        # int32 ids + int64 offsets promote to the int64 indices the lookup wants.
        out: Tensor = self.table(x_cat + self.offsets)
        return out


@dataclass(frozen=True)
class FusedConfig(EmbeddingConfig):
    """``fused``: one sparse table for every feature, rows found by per-feature offsets.

    With ``size = "fixed"`` this is `FusedEmbedding` (the DCN-v2 hot path); with growing sizes,
    one fused table per distinct size (`GroupedEmbedding`). No options beyond the shared ones.
    """

    def build(
        self, inputs: FeatureInputs, *, dim: int, takes: TensorKind, init_std: float = 0.01
    ) -> CategoricalEmbedding:
        vocabulary = self.vocabulary(inputs)
        clip_to = vocabulary if vocabulary != inputs.cardinalities else None
        if self.size == "fixed":
            return FusedEmbedding(inputs.cardinalities, dim, init_std=init_std, clip_to=clip_to)
        dims = self.dims(vocabulary, dim)
        return GroupedEmbedding(
            inputs.cardinalities,
            dims=dims,
            dim=dim,
            output=output_for(dims, dim, takes),
            clip_to=clip_to,
            init_std=init_std,
        )
