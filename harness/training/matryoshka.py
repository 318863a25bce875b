"""Matryoshka ID embeddings in training (``[train.matryoshka]``, Kusupati et al. 2022).

With ``sizes = [4, 8]`` every training step adds, to the loss of the whole model, the loss of
the same model with its categorical embeddings cut to their first 4 and first 8 dims
(`harness.models.matryoshka.truncated`), each weighted: ``full_weight * L(d) + sum_k w_k *
L(k)``, one backward pass. The tables then learn to put what matters most in their first
columns, so the ranker can be served with ``k`` columns per table. A step costs ``1 +
len(sizes)`` forward passes (and the backward through each). After the fit the validation and
test splits are scored at each size (`MatryoshkaReport`).

# NOTE[PAPER]: the paper trains nested prefixes of one representation with a head per size;
# here the prefixes are of the ID tables, the rest of the ranker is shared across sizes and
# sees the cut dims as zeros, so one network serves every size.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from torch import Tensor, nn

from harness.metrics import Metrics
from harness.models.matryoshka import truncated

__all__ = ["MatryoshkaConfig", "SizeScores", "matryoshka_json", "matryoshka_loss"]


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass(frozen=True)
class MatryoshkaConfig:
    """Nested-prefix losses on the categorical embeddings (off with ``sizes = ()``).

    Attributes:
        sizes: prefix sizes, ascending and distinct, each below ``model.tokenizer.
            embedding_dim`` (the full size always trains); checked against the built model
            (`harness.models.matryoshka.check_prefixes`): ``size = "fixed"`` only, and for
            ``multihash`` multiples of ``hashes``.
        weights: one non-negative weight per size (empty: 1 each).
        full_weight: the weight of the whole model's loss (positive).
    """

    sizes: tuple[int, ...] = ()
    weights: tuple[float, ...] = ()
    full_weight: float = 1.0

    def __post_init__(self) -> None:
        sizes = self.sizes
        ok = isinstance(sizes, tuple) and all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in sizes
        )
        if not ok or list(sizes) != sorted(set(sizes)):
            raise ValueError(
                "train.matryoshka.sizes must be ascending distinct positive integers, "
                f"got {sizes!r}"
            )
        weights = self.weights
        if not isinstance(weights, tuple) or not all(_number(w) and w >= 0 for w in weights):
            raise ValueError(
                f"train.matryoshka.weights must be non-negative numbers, got {weights!r}"
            )
        if weights and len(weights) != len(sizes):
            raise ValueError(
                f"train.matryoshka.weights needs one weight per size: {len(weights)} weights "
                f"for sizes {sizes!r}"
            )
        if not (_number(self.full_weight) and self.full_weight > 0):
            raise ValueError(
                f"train.matryoshka.full_weight must be positive, got {self.full_weight!r}"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.sizes)

    @property
    def size_weights(self) -> tuple[tuple[int, float], ...]:
        """``(size, weight)`` pairs, weights defaulting to 1."""
        weights = self.weights or (1.0,) * len(self.sizes)
        return tuple(zip(self.sizes, (float(w) for w in weights), strict=True))

    def check_dim(self, dim: int) -> None:
        """Raises ValueError unless every size is below the embedding width ``dim``."""
        if self.sizes and self.sizes[-1] >= dim:
            raise ValueError(
                f"train.matryoshka.sizes={list(self.sizes)} must be below "
                f"model.tokenizer.embedding_dim={dim} (the full size always trains)"
            )

    def note(self) -> str:
        return f"matryoshka sizes {list(self.sizes)}" if self.enabled else ""


def matryoshka_loss(
    model: nn.Module,
    cfg: MatryoshkaConfig,
    logits_of: Callable[[], Tensor],
    loss_of: Callable[[Tensor], Tensor],
) -> tuple[Tensor, Tensor]:
    """``(total, full)``: ``full_weight * L(d) + sum_k w_k * L(k)`` to backpropagate, and the
    whole model's loss ``L(d)`` to report (comparable with a plain fit's).

    Args:
        model: the ranker; its categorical embeddings are cut within each prefix's pass.
        cfg: the sizes and weights.
        logits_of: one forward pass of the batch (fp32-able logits).
        loss_of: logits -> loss.
    """
    full = loss_of(logits_of())
    total = cfg.full_weight * full
    for k, w in cfg.size_weights:
        if w == 0.0:
            continue
        with truncated(model, k):
            total = total + w * loss_of(logits_of())
    return total, full


@dataclass(frozen=True)
class SizeScores:
    """The primary task's scores with the embeddings cut to one size, and the tables' bytes."""

    valid: Metrics
    test: Metrics
    table_bytes: int


def _num(v: float) -> float | None:
    return None if v != v else float(v)  # NaN (one-class split) is null in JSON


def matryoshka_json(scores: Mapping[int, SizeScores]) -> str:
    """``{"<size>": {valid_auc, valid_logloss, test_auc, test_logloss, table_bytes}}`` as JSON,
    ascending sizes, the full size last; "" without any."""
    if not scores:
        return ""
    return json.dumps(
        {
            str(k): {
                "valid_auc": _num(s.valid.auc),
                "valid_logloss": _num(s.valid.logloss),
                "test_auc": _num(s.test.auc),
                "test_logloss": _num(s.test.logloss),
                "table_bytes": s.table_bytes,
            }
            for k, s in sorted(scores.items())
        }
    )
