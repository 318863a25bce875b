"""Split protocols: which rows are train, valid and test.

Each protocol sees what it needs. After the parse pass it *plans* the split from a
`SplitContext` (row counts, a seed, and the canonical columns of every row when it asks for
them); the plan then assigns every block's rows by their global index and, where the protocol
needs them, their time or group values. A plan is a small picklable value, so Ray tasks on other
nodes assign rows exactly as the driver would.

- ``sequential``: file order 80/10/10 (Criteo is chronological);
- ``x1``, ``x4``: the BARS protocols, seeded random 72:18:10 (Criteo_x1: 10% test, then 8:2 of the
  rest, as BARS's split sizes show) and 8:1:1 over rows: a row's split is a
  seeded counter-based hash (SplitMix64) of its global index, as good as a shuffle, no state;
- ``time``: by the card's time column, the earliest 80% of rows train, the next 10% valid, the
  latest 10% test (rows at a cut's timestamp stay with the earlier split);
- ``group``: whole groups (the card's group column: queries, users) to one split, 8:1:1 of the
  groups by a seeded hash of the group key;
- ``last``: leave-last-one-out per user (the group column, ordered by time): each user's last
  row is test, the one before valid, the rest train; users with fewer than 3 rows train only;
  ``last<N>`` (``last3``) leaves the last N rows to test and the N before to valid (users with
  fewer than 2N + 1 rows train only);
- ``files``: pre-split files (``--valid``/``--test``): each file's rows go to its split.

Codes are the positions in ``SPLIT_NAMES``: 0 train, 1 valid, 2 test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Protocol

import numpy as np
import polars as pl

from harness.data.columns import GROUP, TIME
from harness.data.hashing import splitmix64
from harness.data.schema import SPLIT_NAMES
from harness.errors import HarnessError

__all__ = [
    "SPLIT_PROTOCOLS",
    "GroupSplit",
    "LastSplit",
    "PreSplit",
    "RandomSplit",
    "SequentialSplit",
    "SplitContext",
    "SplitPlan",
    "SplitProtocol",
    "TimeSplit",
    "get_protocol",
]

TRAIN, VALID, TEST = 0, 1, 2
_CHUNK = 1 << 22  # rows hashed at a time when counting split sizes
_MASK64 = (1 << 64) - 1
_GROUP_KEY = 0x243F6A8885A308D3  # mixed into group hashes so they differ from row-index hashes


@dataclass(frozen=True)
class SplitContext:
    """What a protocol may look at when it plans a dataset's split (after the parse pass).

    Attributes:
        n_rows: rows of all shards together.
        seed: the run's split seed.
        shard_splits: each shard's split for pre-split files, else None per shard.
        columns: ``columns(names)`` -> those canonical columns of every row, in row order
            (reads the parsed blocks; only protocols that need values call it).
        work: the cache's build folder, for a plan's per-row codes.
    """

    n_rows: int
    seed: int
    shard_splits: tuple[int | None, ...]
    columns: Callable[[Sequence[str]], pl.DataFrame]
    work: Path


class SplitPlan(Protocol):
    """Assigns a block's rows: ``codes(frame, first_row, shard)`` -> uint8 codes per row.

    ``first_row`` is the global index of the block's first row; ``needs_frame`` says whether
    the codes depend on the rows' values (else ``frame`` may be None, and a block with no
    training rows need not even be read).
    """

    needs_frame: ClassVar[bool]

    def codes(
        self, frame: pl.DataFrame | None, first_row: int, rows: int, shard: int
    ) -> np.ndarray: ...


class SplitProtocol(Protocol):
    """A registered way to split a dataset (see the module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def needs(self) -> tuple[str, ...]:
        """Card columns the protocol needs: ``"time"``, ``"group"``."""
        ...

    def plan(self, context: SplitContext) -> SplitPlan: ...


def _check_parts(name: str, parts: tuple[int, int, int]) -> None:
    if len(parts) != len(SPLIT_NAMES) or any(p < 1 for p in parts):
        raise ValueError(f"{name}: parts must be three positive integers, got {parts=}")


def _shares(parts: tuple[int, int, int]) -> str:
    total = sum(parts)
    return "/".join(f"{100 * p / total:g}" for p in parts)


# --- by row index ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _IndexPlan:
    """Codes from the global row index alone (sequential and random protocols)."""

    protocol: SequentialSplit | RandomSplit
    n_rows: int
    seed: int

    needs_frame: ClassVar[bool] = False

    def codes(
        self, frame: pl.DataFrame | None, first_row: int, rows: int, shard: int
    ) -> np.ndarray:
        index = np.arange(first_row, first_row + rows, dtype=np.int64)
        return self.protocol.assign(index, n_rows=self.n_rows, seed=self.seed)


@dataclass(frozen=True)
class SequentialSplit:
    """File order: the first ``parts[0]/sum(parts)`` rows train, then valid, then test.

    Integer arithmetic, so 10 000 rows with parts (8, 1, 1) give exactly 8000/1000/1000.
    """

    name: str = "sequential"
    parts: tuple[int, int, int] = (8, 1, 1)
    needs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_parts(self.name, self.parts)

    @property
    def description(self) -> str:
        return f"file order {_shares(self.parts)} (train first, then valid, then test)"

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

    def plan(self, context: SplitContext) -> SplitPlan:
        return _IndexPlan(self, context.n_rows, context.seed)


def _buckets(keys: np.ndarray, seed: int, parts: tuple[int, int, int]) -> np.ndarray:
    """Split codes of uint64 ``keys`` hashed with ``seed``, in proportions ``parts``."""
    key = splitmix64(np.array([seed & _MASK64], dtype=np.uint64))
    bucket = splitmix64(keys.astype(np.uint64) ^ key) % np.uint64(sum(parts))
    cuts = np.array([parts[0], parts[0] + parts[1]], dtype=np.uint64)
    return np.searchsorted(cuts, bucket, side="right").astype(np.uint8)


@dataclass(frozen=True)
class RandomSplit:
    """Seeded random split in proportions ``parts`` (e.g. BARS x1 72:18:10, x4 8:1:1).

    Each row is hashed independently, so the split sizes match the proportions only up to
    binomial noise (±0.05% at 10M rows). NOTE[PAPER]: BARS ships fixed partitions made with its own
    shuffle; these protocols reproduce the proportions, not BARS's exact row assignment (read
    BARS's own files with ``--valid``/``--test`` for that).
    """

    name: str
    parts: tuple[int, int, int]
    needs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_parts(self.name, self.parts)

    @property
    def description(self) -> str:
        return f"random {_shares(self.parts)} (seeded hash of the row index)"

    def assign(self, rows: np.ndarray, *, n_rows: int, seed: int) -> np.ndarray:
        return _buckets(rows, seed, self.parts)

    def sizes(self, n_rows: int, *, seed: int) -> tuple[int, int, int]:
        counts = np.zeros(len(SPLIT_NAMES), dtype=np.int64)
        for start in range(0, n_rows, _CHUNK):
            rows = np.arange(start, min(start + _CHUNK, n_rows), dtype=np.int64)
            counts += np.bincount(
                self.assign(rows, n_rows=n_rows, seed=seed), minlength=len(SPLIT_NAMES)
            )
        return int(counts[0]), int(counts[1]), int(counts[2])

    def plan(self, context: SplitContext) -> SplitPlan:
        return _IndexPlan(self, context.n_rows, context.seed)


# --- by values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TimePlan:
    cuts: tuple[float, float]

    needs_frame: ClassVar[bool] = True

    def codes(
        self, frame: pl.DataFrame | None, first_row: int, rows: int, shard: int
    ) -> np.ndarray:
        assert frame is not None
        times = frame[TIME].to_numpy()
        return np.searchsorted(np.array(self.cuts), times, side="left").astype(np.uint8)


@dataclass(frozen=True)
class TimeSplit:
    """By the time column: cuts at the ``parts`` quantiles of every row's time."""

    name: str = "time"
    parts: tuple[int, int, int] = (8, 1, 1)
    needs: tuple[str, ...] = ("time",)

    @property
    def description(self) -> str:
        return f"by time {_shares(self.parts)} (earliest rows train, latest test)"

    def plan(self, context: SplitContext) -> SplitPlan:
        times = context.columns([TIME])[TIME]
        total = sum(self.parts)
        q1, q2 = self.parts[0] / total, (self.parts[0] + self.parts[1]) / total
        cuts = times.quantile(q1, "lower"), times.quantile(q2, "lower")
        assert cuts[0] is not None and cuts[1] is not None  # the reader requires times
        return _TimePlan((float(cuts[0]), float(cuts[1])))


@dataclass(frozen=True)
class _GroupPlan:
    """Each group's split: the group keys in order and their codes (looked up per row)."""

    keys: np.ndarray  # sorted uint64 group keys
    split: np.ndarray  # uint8 code of each key

    needs_frame: ClassVar[bool] = True

    def codes(
        self, frame: pl.DataFrame | None, first_row: int, rows: int, shard: int
    ) -> np.ndarray:
        assert frame is not None
        keys = frame[GROUP].to_numpy().astype(np.uint64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        if not (self.keys[at] == keys).all():  # a bug: every key was seen when planning
            raise RuntimeError("a group key the split plan never saw")
        codes: np.ndarray = self.split[at]
        return codes


@dataclass(frozen=True)
class GroupSplit:
    """Whole groups to one split, in exact shares of the groups.

    The distinct groups are ordered by a seeded hash of their key and cut at the ``parts``
    shares (122 groups at 8:1:1 give 97/12/13), so the shares hold even with few groups, where
    hashing each group on its own would scatter them (105/12/5 on KDD Cup 2004, seed 0).
    """

    name: str = "group"
    parts: tuple[int, int, int] = (8, 1, 1)
    needs: tuple[str, ...] = ("group",)

    @property
    def description(self) -> str:
        shares = ":".join(map(str, self.parts))
        return f"by group {shares} of the groups (whole groups to one split, seeded)"

    def plan(self, context: SplitContext) -> SplitPlan:
        keys = np.sort(context.columns([GROUP])[GROUP].unique().to_numpy().astype(np.uint64))
        key = splitmix64(np.array([context.seed & _MASK64], dtype=np.uint64))
        order = np.argsort(splitmix64(keys ^ np.uint64(_GROUP_KEY) ^ key), kind="stable")
        total = sum(self.parts)
        n = len(keys)
        cuts = (n * self.parts[0] // total, n * (self.parts[0] + self.parts[1]) // total)
        split = np.empty(n, dtype=np.uint8)
        split[order] = np.searchsorted(np.array(cuts), np.arange(n), side="right")
        return _GroupPlan(keys, split)


@dataclass(frozen=True)
class _CodesPlan:
    """Codes computed for every row up front, stored as a uint8 ``.npy`` in the build folder."""

    path: str

    needs_frame: ClassVar[bool] = False

    def codes(
        self, frame: pl.DataFrame | None, first_row: int, rows: int, shard: int
    ) -> np.ndarray:
        every: np.ndarray = np.load(self.path, mmap_mode="r")
        return np.asarray(every[first_row : first_row + rows])


@dataclass(frozen=True)
class LastSplit:
    """Leave-last-N-out per user (group), by time; see the module docstring."""

    name: str = "last"
    n: int = 1
    needs: tuple[str, ...] = ("group", "time")

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"{self.name}: n must be at least 1, got {self.n=}")

    @property
    def description(self) -> str:
        if self.n == 1:
            return (
                "leave-last-one-out per user: last row test, the one before valid, the rest train"
            )
        return f"leave-last-{self.n}-out per user: last {self.n} rows test, {self.n} before valid"

    def plan(self, context: SplitContext) -> SplitPlan:
        rows = context.columns([GROUP, TIME]).with_row_index("row")
        ranked = rows.sort([GROUP, TIME, "row"]).with_columns(
            from_end=(pl.len() - 1 - pl.int_range(pl.len())).over(GROUP),
            size=pl.len().over(GROUP),
        )
        enough = pl.col("size") >= 2 * self.n + 1
        code = (
            pl.when(enough & (pl.col("from_end") < self.n))
            .then(TEST)
            .when(enough & (pl.col("from_end") < 2 * self.n))
            .then(VALID)
            .otherwise(TRAIN)
        )
        ranked = ranked.with_columns(code=code).sort("row")
        path = context.work / "split_codes.npy"
        np.save(path, ranked["code"].to_numpy().astype(np.uint8))
        return _CodesPlan(str(path))


@dataclass(frozen=True)
class _FilesPlan:
    splits: tuple[int | None, ...]

    needs_frame: ClassVar[bool] = False

    def codes(
        self, frame: pl.DataFrame | None, first_row: int, rows: int, shard: int
    ) -> np.ndarray:
        split = self.splits[shard]
        assert split is not None
        return np.full(rows, split, dtype=np.uint8)


@dataclass(frozen=True)
class PreSplit:
    """Pre-split files: each file's rows go to the split it was given for."""

    name: str = "files"
    needs: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return "pre-split files (--data train, --valid, --test), rows in file order"

    def plan(self, context: SplitContext) -> SplitPlan:
        if any(s is None for s in context.shard_splits):
            raise HarnessError(
                "protocol 'files' needs --valid and --test files next to --data (pre-split data)"
            )
        return _FilesPlan(context.shard_splits)


SPLIT_PROTOCOLS: Mapping[str, SplitProtocol] = MappingProxyType(
    {
        "sequential": SequentialSplit(),
        "x1": RandomSplit("x1", (36, 9, 5)),
        "x4": RandomSplit("x4", (8, 1, 1)),
        "time": TimeSplit(),
        "group": GroupSplit(),
        "last": LastSplit(),
        "files": PreSplit(),
    }
)


def get_protocol(name: str) -> SplitProtocol:
    """The registered protocol called ``name`` (``last<N>``: leave-last-N-out per user).

    Raises:
        HarnessError: no such protocol; the message lists the valid names.
    """
    if name in SPLIT_PROTOCOLS:
        return SPLIT_PROTOCOLS[name]
    if name.startswith("last") and name[4:].isdigit() and int(name[4:]) >= 1:
        return LastSplit(name=name, n=int(name[4:]))
    valid = ", ".join(SPLIT_PROTOCOLS)
    raise HarnessError(
        f"unknown split protocol {name!r}; valid: {valid} (and last<N>, e.g. last3)"
    ) from None
