"""Seeded 32-bit id hashing, computed on the fly in torch (and in numpy, as a reference).

``hash_ids(ids, seeds)`` is Chris Wellons' ``lowbias32`` mixer applied to ``ids ^ seeds``: a
bijection of 32-bit words, so distinct ids never share a 32-bit hash and the only collisions
come from the final ``% buckets``. Every step is exact int64 arithmetic on values below
``2**49`` (a 32-bit multiply is split into 16-bit halves where a product could pass ``2**63``),
so nothing overflows, no sign bit is ever set, and CPU and CUDA give identical rows. No
vocabulary-sized buffer is needed: the tables only store the hashed rows.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from harness.data.hashing import splitmix64

__all__ = ["MAX_ID", "feature_seeds", "hash_ids", "hash_ids_numpy"]

_M32 = 0xFFFFFFFF
_C1 = 0x7FEB352D  # lowbias32's multipliers
_C2 = 0x846CA68B
# The largest id the hash takes: ids are 32-bit words.
MAX_ID = _M32


def _mul32(x: Tensor, c: int) -> Tensor:
    """``(x * c) mod 2**32`` for ``0 <= x < 2**32``, exact in int64 (no overflow)."""
    if c < 1 << 31:  # x * c < 2**63
        return (x * c) & _M32
    lo, hi = c & 0xFFFF, c >> 16
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & _M32


def hash_ids(ids: Tensor, seeds: Tensor) -> Tensor:
    """A 32-bit hash in ``[0, 2**32)`` of each id, seeded per position (broadcasting).

    Args:
        ids: non-negative integer ids below ``2**32`` (any integer dtype).
        seeds: 32-bit seeds broadcastable against ``ids`` (one per feature, per hash function).

    Returns:
        int64 hashes of the broadcast shape.
    """
    x = ids.long() ^ seeds
    x = x ^ (x >> 16)
    x = _mul32(x, _C1)
    x = x ^ (x >> 15)
    x = _mul32(x, _C2)
    return x ^ (x >> 16)


def hash_ids_numpy(ids: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """`hash_ids` in numpy (uint64 arithmetic): the reference the tests compare against."""
    m = np.uint64(_M32)
    x = np.asarray(ids).astype(np.uint64) ^ np.asarray(seeds).astype(np.uint64)
    x = x ^ (x >> np.uint64(16))
    x = (x * np.uint64(_C1)) & m
    x = x ^ (x >> np.uint64(15))
    x = (x * np.uint64(_C2)) & m
    result: np.ndarray = (x ^ (x >> np.uint64(16))).astype(np.int64)
    return result


def feature_seeds(n_features: int, hashes: int, seed: int) -> list[list[int]]:
    """``(n_features, hashes)`` 32-bit seeds, distinct per feature and per hash function."""
    if not 0 <= seed < 1 << 31:
        raise ValueError(f"seed must be in [0, 2**31), got {seed=}")
    index = np.arange(n_features * hashes, dtype=np.uint64) ^ (np.uint64(seed) << np.uint64(32))
    words = splitmix64(index) & np.uint64(_M32)
    seeds: list[list[int]] = words.astype(np.int64).reshape(n_features, hashes).tolist()
    return seeds
