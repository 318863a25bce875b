"""The retrieval view of a compression: do the nearest neighbours survive it?

``recall_at_k(full, compressed)``: for each query vector, the share of its ``k`` nearest
neighbours by cosine similarity in the full-size space that are also among its ``k`` nearest in
the compressed space (the query itself excluded), averaged over the queries. 1.0: the
compression keeps every neighbourhood; a random projection to very few dimensions tends to 0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["RETRIEVAL_ROWS", "neighbours", "recall_at_k"]

# Vectors a retrieval view compares at most (queries and corpus alike): all pairs are scored.
RETRIEVAL_ROWS = 2000


def neighbours(x: npt.ArrayLike, k: int) -> npt.NDArray[np.int64]:
    """Each row's ``k`` nearest other rows by cosine similarity, ``(n, k)`` (unordered).

    A zero vector (a missing text) has similarity 0 to every row.
    """
    arr = np.asarray(x, dtype=np.float64)
    n = arr.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must lie in [1, {n - 1}] for {n} vectors, got {k=}")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    unit = arr / np.where(norms > 0.0, norms, 1.0)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argpartition(-similarity, k - 1, axis=1)[:, :k].astype(np.int64)


def recall_at_k(full: npt.ArrayLike, compressed: npt.ArrayLike, k: int = 10) -> float:
    """The mean share of each row's ``k`` full-size neighbours kept among its compressed ones.

    Args:
        full: the vectors at full size, ``(n, d)``.
        compressed: the same rows compressed, ``(n, size)``.
        k: neighbours per query.

    Raises:
        ValueError: the row counts differ or ``k`` does not fit them.
    """
    a, b = np.asarray(full), np.asarray(compressed)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"rows differ: full {a.shape}, compressed {b.shape}")
    truth, found = neighbours(a, k), neighbours(b, k)
    hits = sum(
        len(np.intersect1d(t, f, assume_unique=True)) for t, f in zip(truth, found, strict=True)
    )
    return float(hits / (k * a.shape[0]))
