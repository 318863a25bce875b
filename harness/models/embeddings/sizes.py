"""Embedding sizes per feature: one size ``d`` for all, or a size that grows with the vocabulary.

- ``fixed``: ``d`` (the tokenizer's ``embedding_dim``);
- ``log2``: ``ceil(scale * log2(n))``;
- ``root4``: ``ceil(6 * scale * n ** (1/4))``, the rule of the DCN-v2 paper (Wang et al. 2021);

``n`` is the feature's vocabulary after frequency clipping (missing and rare ids included);
growing sizes are capped at ``max_dim`` and are at least 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

__all__ = ["SIZE_RULES", "SizeRule", "embedding_dims", "size_groups"]

SizeRule = Literal["fixed", "log2", "root4"]
SIZE_RULES: tuple[SizeRule, ...] = ("fixed", "log2", "root4")

# Float noise must not round an exact size up: 6 * 16 ** 0.25 is 12, not 12.000000000000002.
_EPS = 1e-9


def embedding_dims(
    vocabulary: Sequence[int], rule: SizeRule, *, dim: int, scale: float = 1.0, max_dim: int
) -> tuple[int, ...]:
    """The embedding size of each feature.

    Args:
        vocabulary: ids per feature (after clipping).
        rule: ``fixed``, ``log2`` or ``root4`` (module docstring).
        dim: the fixed size ``d``.
        scale: multiplies the growing rules (1 is the plain rule).
        max_dim: the cap of the growing rules.
    """
    if rule == "fixed":
        return (dim,) * len(vocabulary)
    if rule not in SIZE_RULES:
        raise ValueError(f"size must be one of {', '.join(SIZE_RULES)}, got {rule=}")
    dims: list[int] = []
    for n in vocabulary:
        # NOTE[PAPER]: DCN-v2 gives 6 * n^(1/4) as a real number and no cap; we round it up to
        # an integer and cap it at max_dim (log2 likewise).
        raw = scale * math.log2(max(n, 1)) if rule == "log2" else 6.0 * scale * max(n, 1) ** 0.25
        dims.append(min(max_dim, max(1, math.ceil(raw - _EPS))))
    return tuple(dims)


def size_groups(dims: Sequence[int]) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """``(size, features)`` for each distinct size, by ascending size; features ascending."""
    return tuple((e, tuple(j for j, dj in enumerate(dims) if dj == e)) for e in sorted(set(dims)))
