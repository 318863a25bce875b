"""Frequency clipping: ids seen fewer than ``min_count`` times in training become the rare id.

Ids ``2..`` of a feature are its vocabulary in order of descending training count, so the ids
with a count below a threshold are a suffix ``id >= limit``: clipping is one compare per id at
run time, and the feature's table only needs ``limit`` rows (ids 0 missing and 1 rare are
always kept).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["clip_limits"]


def clip_limits(
    cardinalities: Sequence[int], counts: Sequence[np.ndarray], min_count: int
) -> tuple[int, ...]:
    """Per feature, the ids kept by clipping at ``min_count``: ids ``>= limit`` become 1.

    Args:
        cardinalities: ids per feature.
        counts: per feature, the training count of each id (index = id).
        min_count: the least training count an id needs to keep its own row; at most 1 clips
            nothing (and needs no counts).

    Returns:
        ``limit`` per feature, ``2 <= limit <= cardinality`` (the cardinality itself when the
        feature has fewer than 2 ids or no id is clipped).

    Raises:
        ValueError: counts are missing, do not match the cardinalities, or a feature's ids are not
            in order of descending count (then a threshold on the id would be wrong).
    """
    cardinalities = tuple(int(c) for c in cardinalities)
    if min_count <= 1:
        return cardinalities
    if not counts:
        raise ValueError(
            f"min_count={min_count} needs the training count of every id (FeatureInputs.counts), "
            "and these inputs have none; build them with FeatureInputs.of(dataset)"
        )
    if len(counts) != len(cardinalities):
        raise ValueError(f"counts for {len(counts)} features, {len(cardinalities)} cardinalities")
    limits: list[int] = []
    for j, (n, c) in enumerate(zip(cardinalities, counts, strict=True)):
        c = np.asarray(c)
        if c.shape != (n,):
            raise ValueError(f"feature {j}: counts of shape {c.shape}, expected ({n},)")
        kept = c[2:] >= min_count
        limit = 2 + int(kept.sum())
        if not kept[: limit - 2].all():
            raise ValueError(
                f"feature {j}: ids 2.. are not in order of descending training count, so "
                f"min_count={min_count} cannot be a threshold on the id"
            )
        limits.append(min(n, limit))
    return tuple(limits)
