"""Split protocols: which rows are train, valid and test.

A row's split is a pure function of its global 0-based row index (the total row count and a seed),
so a file can be split while streaming it, with no row permutation held in memory: ``sequential``
cuts the file order (Criteo is chronological); the random protocols hash the row index with a
seeded counter-based mixer (SplitMix64), which is as good as a shuffle and needs no state.

Codes are the positions in ``SPLIT_NAMES``: 0 train, 1 valid, 2 test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import numpy as np

from harness.data.schema import SPLIT_NAMES
from harness.errors import HarnessError

__all__ = [
    "SPLIT_PROTOCOLS",
    "RandomSplit",
    "SequentialSplit",
    "SplitProtocol",
    "get_protocol",
]

TRAIN, VALID, TEST = 0, 1, 2
_CHUNK = 1 << 22  # rows hashed at a time when counting split sizes
_MASK64 = (1 << 64) - 1


class SplitProtocol(Protocol):
    """Assigns each row (by global index) to a split code 0 train, 1 valid, 2 test."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def assign(self, rows: np.ndarray, *, n_rows: int, seed: int) -> np.ndarray:
        """Split codes (uint8) for the given global row indices of an ``n_rows`` file."""
        ...

    def sizes(self, n_rows: int, *, seed: int) -> tuple[int, int, int]:
        """How many rows each split gets in an ``n_rows`` file."""
        ...


def _check_parts(name: str, parts: tuple[int, int, int]) -> None:
    if len(parts) != len(SPLIT_NAMES) or any(p < 1 for p in parts):
        raise ValueError(f"{name}: parts must be three positive integers, got {parts=}")


@dataclass(frozen=True)
class SequentialSplit:
    """File order: the first ``parts[0]/sum(parts)`` rows train, then valid, then test.

    Integer arithmetic, so 10 000 rows with parts (8, 1, 1) give exactly 8000/1000/1000.
    """

    name: str = "sequential"
    parts: tuple[int, int, int] = (8, 1, 1)

    def __post_init__(self) -> None:
        _check_parts(self.name, self.parts)

    @property
    def description(self) -> str:
        total = sum(self.parts)
        shares = "/".join(f"{100 * p / total:g}" for p in self.parts)
        return f"file order {shares} (train first, then valid, then test)"

    def _bounds(self, n_rows: int) -> tuple[int, int]:
        total = sum(self.parts)
        return n_rows * self.parts[0] // total, n_rows * (self.parts[0] + self.parts[1]) // total

    def assign(self, rows: np.ndarray, *, n_rows: int, seed: int) -> np.ndarray:
        train_end, valid_end = self._bounds(n_rows)
        return np.searchsorted(np.array([train_end, valid_end]), rows, side="right").astype(
            np.uint8
        )

    def sizes(self, n_rows: int, *, seed: int) -> tuple[int, int, int]:
        train_end, valid_end = self._bounds(n_rows)
        return train_end, valid_end - train_end, n_rows - valid_end


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class RandomSplit:
    """Seeded random split in proportions ``parts`` (e.g. BARS x1 7:2:1, x4 8:1:1).

    Each row is hashed independently, so the split sizes match the proportions only up to
    binomial noise (±0.05% at 10M rows). NOTE[PAPER]: BARS ships fixed partitions made with its own
    shuffle; these protocols reproduce the proportions, not BARS's exact row assignment.
    """

    name: str
    parts: tuple[int, int, int]

    def __post_init__(self) -> None:
        _check_parts(self.name, self.parts)

    @property
    def description(self) -> str:
        return f"random {':'.join(str(p) for p in self.parts)} (seeded hash of the row index)"

    def assign(self, rows: np.ndarray, *, n_rows: int, seed: int) -> np.ndarray:
        key = _splitmix64(np.array([seed & _MASK64], dtype=np.uint64))
        hashed = _splitmix64(rows.astype(np.uint64) ^ key)
        bucket = hashed % np.uint64(sum(self.parts))
        cuts = np.array([self.parts[0], self.parts[0] + self.parts[1]], dtype=np.uint64)
        return np.searchsorted(cuts, bucket, side="right").astype(np.uint8)

    def sizes(self, n_rows: int, *, seed: int) -> tuple[int, int, int]:
        counts = np.zeros(len(SPLIT_NAMES), dtype=np.int64)
        for start in range(0, n_rows, _CHUNK):
            rows = np.arange(start, min(start + _CHUNK, n_rows), dtype=np.int64)
            counts += np.bincount(
                self.assign(rows, n_rows=n_rows, seed=seed), minlength=len(SPLIT_NAMES)
            )
        return int(counts[0]), int(counts[1]), int(counts[2])


SPLIT_PROTOCOLS: Mapping[str, SplitProtocol] = MappingProxyType(
    {
        "sequential": SequentialSplit(),
        "x1": RandomSplit("x1", (7, 2, 1)),
        "x4": RandomSplit("x4", (8, 1, 1)),
    }
)


def get_protocol(name: str) -> SplitProtocol:
    """The registered protocol called ``name``.

    Raises:
        HarnessError: no such protocol; the message lists the valid names.
    """
    try:
        return SPLIT_PROTOCOLS[name]
    except KeyError:
        valid = ", ".join(SPLIT_PROTOCOLS)
        raise HarnessError(f"unknown split protocol {name!r}; valid: {valid}") from None
