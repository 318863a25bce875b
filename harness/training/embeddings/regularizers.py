"""Regularisers of the ID tables that act on the rows a batch used: L2, max-norm, dropout.

A table's gradient is sparse: it holds the rows the batch looked up. The L2 penalty is added to
those rows' gradients only (``l2 * ||w_r||^2`` per row used, once per batch however often the
batch used it), so rows a batch did not use are untouched, as the lazy sparse optimisers leave
them; decaying the whole table each step would make every update dense. Max-norm rescales the
rows a step changed whose norm exceeds the bound (and every row once, before training), so the
bound holds after every step. Dropout zeroes entries of the embeddings' output while training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RowRegularizer", "add_row_l2", "apply_max_norm", "embedding_dropout", "used_rows"]


def used_rows(table: nn.Embedding) -> Tensor | None:
    """The rows of ``table`` the last backward pass reached (None: no gradient)."""
    grad = table.weight.grad
    if grad is None:
        return None
    if grad.is_sparse:
        return grad.coalesce().indices()[0]
    return (grad != 0).any(dim=1).nonzero().squeeze(1)


@torch.no_grad()
def add_row_l2(tables: Sequence[nn.Embedding], l2: float) -> None:
    """Adds the gradient of ``l2 * sum ||w_r||^2`` over the rows each table's gradient holds."""
    if l2 <= 0.0:
        return
    for t in tables:
        grad = t.weight.grad
        if grad is None:
            continue
        if grad.is_sparse:
            grad = grad.coalesce()
            rows = grad.indices()[0]
            values = grad.values() + 2.0 * l2 * t.weight[rows]
            t.weight.grad = torch.sparse_coo_tensor(
                grad.indices(), values, grad.shape, is_coalesced=True, check_invariants=False
            )
        else:
            rows = (grad != 0).any(dim=1)
            grad[rows] += 2.0 * l2 * t.weight[rows]


@torch.no_grad()
def apply_max_norm(
    tables: Sequence[nn.Embedding], max_norm: float, rows: Sequence[Tensor | None] | None = None
) -> None:
    """Rescales rows whose L2 norm exceeds ``max_norm`` to that norm: ``rows[i]`` of table i
    (None entries: every row; ``rows`` None: every row of every table)."""
    if max_norm <= 0.0:
        return
    for i, t in enumerate(tables):
        which = None if rows is None else rows[i]
        w = t.weight if which is None else t.weight[which]
        norms = w.norm(dim=1, keepdim=True)
        scaled = w * (max_norm / norms.clamp_min(max_norm))
        if which is None:
            t.weight.copy_(scaled)
        else:
            t.weight[which] = scaled


def embedding_dropout(module: nn.Module, p: float) -> torch.utils.hooks.RemovableHandle | None:
    """Dropout on ``module``'s output in training mode (a forward hook; None when ``p`` is 0)."""
    if p <= 0.0:
        return None

    def hook(m: nn.Module, _inputs: Any, output: Tensor) -> Tensor:
        return F.dropout(output, p, m.training)

    return module.register_forward_hook(hook)


@dataclass(frozen=True)
class RowRegularizer:
    """The L2 and max-norm of one training step on the ID ``tables``: `before_step` after the
    backward pass, `after_step` after the optimisers' steps."""

    tables: Sequence[nn.Embedding]
    l2: float = 0.0
    max_norm: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.tables) and (self.l2 > 0.0 or self.max_norm > 0.0)

    def before_step(self) -> list[Tensor | None] | None:
        """Adds the L2 gradient; returns the rows each table's step will change (for
        max-norm), or None without max-norm."""
        add_row_l2(self.tables, self.l2)
        if self.max_norm <= 0.0:
            return None
        return [used_rows(t) for t in self.tables]

    def after_step(self, rows: list[Tensor | None] | None) -> None:
        if rows is not None:
            apply_max_norm(
                [t for t, r in zip(self.tables, rows, strict=True) if r is not None],
                self.max_norm,
                [r for r in rows if r is not None],
            )
