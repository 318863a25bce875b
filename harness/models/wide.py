"""``Wide``: first-order terms, a weight per categorical id and per numeric channel.

This is logistic regression on the raw features: the "wide" half of Wide & Deep, and the linear
part of a factorization machine (FM and DeepFM set ``wide = true`` on the ranker). Its per-id
weights are a fused sparse table of width ``tasks``, so they train with SparseAdam like the
embeddings. With frequency clipping (``clip_to``, the tokenizer's `Tokenizer.clip_to`) it sees
the same ids as the embeddings: a rare id's own weight would be fitted on the few rows that
clipping judged too few for a vector.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from harness.models.embeddings.fused import FusedEmbedding

__all__ = ["Wide"]


class Wide(nn.Module):
    """``sum_j w_j[x_cat_j] + W_num · encoded_num``, one logit term per task.

    **Shape**: ids ``(B, n_cat)`` and encoded numeric values ``(B, n_num * c)`` ->
    ``(B, tasks)``. The bias is the head's.
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        numeric_width: int,
        tasks: int,
        *,
        clip_to: Sequence[int] | None = None,
    ) -> None:
        """
        Args:
            cardinalities: ids per categorical feature.
            numeric_width: the width of the numeric encodings ``n_num * c``.
            tasks: logits per row.
            clip_to: frequency clipping limits per feature (ids at or above become the rare
                id 1), or None.
        """
        super().__init__()
        if tasks < 1:
            raise ValueError(f"tasks must be at least 1, got {tasks=}")
        # The tokenizer's own table has checked the same ids already: no second pass here.
        self.table = (
            FusedEmbedding(cardinalities, tasks, init_std=1e-4, check_ids=False, clip_to=clip_to)
            if cardinalities
            else None
        )
        self.numeric = nn.Linear(numeric_width, tasks, bias=False) if numeric_width else None
        self.tasks = tasks

    def forward(self, encoded: Tensor | None, x_cat: Tensor) -> Tensor:
        out: Tensor | None = None
        if self.table is not None:
            out = self.table(x_cat).sum(dim=1)
        if self.numeric is not None and encoded is not None:
            linear = self.numeric(encoded)
            out = linear if out is None else out + linear
        if out is None:  # a bug: the ranker checks there is some input
            raise RuntimeError("wide part with no input")
        return out
