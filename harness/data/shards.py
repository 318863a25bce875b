"""The three preprocessing passes over one shard (one raw file), as pure functions.

Both the single-process path (`harness.data.preprocess`, a loop over shards) and the distributed
path (`harness.distributed`, one Ray task per shard and pass) call these, so the two give
byte-identical caches. No function here keeps state between calls or imports Ray; what one pass
hands to the next is a small picklable value (`ShardInfo`, `ShardCounts`, `ShardPlan`, `Fitted`)
plus files in a folder that every worker can reach.

1. `parse_shard`: the reader's typed blocks -> uncompressed Arrow IPC files (fast to write,
   memory-mapped when read back), one folder per shard;
2. `count_shard`: the shard's training rows -> exact value counts and integer moments; the
   shards' counts are summed by `CountMerger` into the vocabularies and statistics (`Fitted`);
3. `encode_shard`: the shard's rows -> its row ranges of the preallocated per-split ``.npy``
   files (`allocate_arrays`), at offsets given by `plan_shards`.

A row's split depends on its global index among the kept rows of all shards in order, so the
shards in order behave exactly like one file holding their concatenation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import polars as pl

from harness.data.criteo import (
    CATEGORICAL_COLUMNS,
    LABEL_COLUMN,
    NUMERIC_COLUMNS,
    BadRows,
    iter_criteo_blocks,
)
from harness.data.schema import (
    SPLIT_NAMES,
    CategoricalFeature,
    FeatureSchema,
    NumericFeature,
)
from harness.data.splits import get_protocol
from harness.data.vocab import CategoricalEncoder, fit_vocabulary

__all__ = [
    "BlockInfo",
    "CountMerger",
    "Fitted",
    "FrameEncoder",
    "RowSplit",
    "ShardCounts",
    "ShardInfo",
    "ShardPlan",
    "allocate_arrays",
    "count_shard",
    "encode_shard",
    "merge_counts",
    "parse_shard",
    "plan_shards",
    "shard_offsets",
    "write_fitted",
]

_MERGE_EVERY = 16  # count tables kept before they are summed into one
_N_SPLITS = len(SPLIT_NAMES)
Splits = tuple[int, int, int]  # one number per split, in SPLIT_NAMES order

# Per-block progress: parse reports the bytes of the file read so far, the others report nothing.
OnBlock = Callable[[int], None]


def _no_progress(_: int) -> None:
    pass


# --- pass 1: parse ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockInfo:
    """One intermediate block file of a shard."""

    file: str  # name inside the shard's folder
    first_row: int  # index of its first row among the shard's kept rows
    rows: int


@dataclass(frozen=True)
class ShardInfo:
    """A parsed shard: where its blocks are and how many rows it kept and skipped."""

    source: str  # the raw file
    folder: str  # its blocks (absolute; on a cluster, the same path on every node)
    blocks: tuple[BlockInfo, ...]
    rows: int
    skipped: int

    def block_path(self, block: BlockInfo) -> Path:
        return Path(self.folder) / block.file


def parse_shard(
    path: Path,
    folder: Path,
    *,
    block_bytes: int,
    bad_rows: BadRows,
    on_block: OnBlock = _no_progress,
) -> ShardInfo:
    """Pass 1: read one raw file into IPC block files under ``folder`` (created here).

    Args:
        path: a raw Criteo file (plain or gzip).
        folder: where the blocks go; must not exist yet.
        block_bytes: bytes parsed at a time (sets memory, never the result).
        bad_rows: ``"error"`` or ``"skip"`` (see `iter_criteo_blocks`).
        on_block: called after each block with the bytes of ``path`` read so far.

    Raises:
        HarnessError: unreadable file or a bad row; the message names the file and its line.
    """
    path, folder = Path(path), Path(folder)
    folder.mkdir(parents=True)
    blocks: list[BlockInfo] = []
    skipped = 0
    for block in iter_criteo_blocks(path, block_bytes=block_bytes, bad_rows=bad_rows):
        skipped += block.skipped
        if block.frame.height:
            name = f"{block.index:06d}.arrow"
            # One chunk per column: the CSV reader's many small chunks make IPC writes slow.
            block.frame.rechunk().write_ipc(folder / name, compression="uncompressed")
            blocks.append(BlockInfo(name, block.first_row, block.frame.height))
        on_block(block.bytes_read)
    rows = sum(b.rows for b in blocks)
    return ShardInfo(str(path), str(folder.resolve()), tuple(blocks), rows, skipped)


# --- pass 2: count ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowSplit:
    """How global row indices map to splits: the protocol, its seed and the total row count."""

    protocol: str
    seed: int
    n_rows: int

    def codes(self, first_row: int, rows: int) -> np.ndarray:
        """Split codes (0 train, 1 valid, 2 test) of global rows ``[first_row, first_row+rows)``."""
        index = np.arange(first_row, first_row + rows, dtype=np.int64)
        return get_protocol(self.protocol).assign(index, n_rows=self.n_rows, seed=self.seed)


@dataclass
class Moments:
    """Exact count, sum and sum of squares of one integer column.

    Python integers, so the statistics are exact and do not depend on how the rows were cut into
    blocks or shards (a float merge would differ in the last bits from one cut to another).
    """

    count: int = 0
    total: int = 0
    squares: int = 0

    def add(self, other: Moments) -> None:
        self.count += other.count
        self.total += other.total
        self.squares += other.squares

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def std(self) -> float:
        """Population standard deviation, from the exact ``(n*S2 - S1^2) / n^2``."""
        if not self.count:
            return 0.0
        return float(np.sqrt((self.count * self.squares - self.total**2) / self.count**2))


def _moment_exprs(column: str) -> list[pl.Expr]:
    """Per-block exact sums. x = hi * 2^16 + lo keeps every product within int64."""
    x = pl.col(column).cast(pl.Int64)
    hi = x // 65536
    lo = x - hi * 65536
    return [
        x.count().alias(f"{column}_n"),
        x.sum().alias(f"{column}_s"),
        (hi * hi).sum().alias(f"{column}_hh"),
        (hi * lo).sum().alias(f"{column}_hl"),
        (lo * lo).sum().alias(f"{column}_ll"),
    ]


@dataclass
class _Counter:
    """Value counts of one categorical column, summed every few tables."""

    column: str
    tables: list[pl.DataFrame] = field(default_factory=list)

    def add(self, table: pl.DataFrame) -> None:
        self.tables.append(table)
        if len(self.tables) >= _MERGE_EVERY:
            self.tables = [self.merged()]

    def merged(self) -> pl.DataFrame:
        if not self.tables:
            return pl.DataFrame(schema={self.column: pl.UInt32, "count": pl.Int64})
        if len(self.tables) == 1:
            return self.tables[0]
        return pl.concat(self.tables).group_by(self.column).agg(pl.col("count").sum())


@dataclass(frozen=True)
class ShardCounts:
    """What pass 2 learns from one shard's training rows (and how many rows each split gets).

    Attributes:
        source: the shard's raw file.
        split_rows: the shard's rows in each split.
        n_train: its training rows (``split_rows[0]``).
        values: column -> one row per distinct training value: the value and its count.
        missing: column -> training rows where it is missing.
        moments: numeric column -> exact moments over its training rows.
    """

    source: str
    split_rows: Splits
    values: dict[str, pl.DataFrame]
    missing: dict[str, int]
    moments: dict[str, Moments]

    @property
    def n_train(self) -> int:
        return self.split_rows[0]


def count_shard(
    shard: ShardInfo, *, offset: int, split: RowSplit, on_block: OnBlock = _no_progress
) -> ShardCounts:
    """Pass 2: the training value counts and numeric moments of one shard.

    Args:
        shard: from `parse_shard`.
        offset: global index of the shard's first row (kept rows of the shards before it).
        split: the protocol and the total row count over all shards.
        on_block: called after each block (with 0).
    """
    counters = {c: _Counter(c) for c in CATEGORICAL_COLUMNS}
    missing = dict.fromkeys(CATEGORICAL_COLUMNS, 0)
    moments = {c: Moments() for c in NUMERIC_COLUMNS}
    split_rows = np.zeros(_N_SPLITS, dtype=np.int64)
    for block in shard.blocks:
        codes = split.codes(offset + block.first_row, block.rows)
        in_splits = np.bincount(codes, minlength=_N_SPLITS)
        split_rows += in_splits
        if not in_splits[0]:
            on_block(0)
            continue
        train = _rows_of(pl.read_ipc(shard.block_path(block)), codes, 0)
        lazy = train.lazy()
        queries = [
            lazy.select(c).drop_nulls().group_by(c).agg(pl.len().cast(pl.Int64).alias("count"))
            for c in CATEGORICAL_COLUMNS
        ]
        stats = lazy.select(
            *(e for c in NUMERIC_COLUMNS for e in _moment_exprs(c)),
            *(pl.col(c).null_count().alias(f"{c}_null") for c in CATEGORICAL_COLUMNS),
        )
        *tables, row = pl.collect_all([*queries, stats])
        values = row.row(0, named=True)
        for c, table in zip(CATEGORICAL_COLUMNS, tables, strict=True):
            counters[c].add(table)
            missing[c] += int(values[f"{c}_null"])
        for c in NUMERIC_COLUMNS:
            hh, hl, ll = (int(values[f"{c}_{k}"] or 0) for k in ("hh", "hl", "ll"))
            moments[c].add(
                Moments(
                    count=int(values[f"{c}_n"]),
                    total=int(values[f"{c}_s"] or 0),
                    squares=(hh << 32) + (hl << 17) + ll,
                )
            )
        on_block(0)
    return ShardCounts(
        source=shard.source,
        split_rows=_splits(split_rows),
        values={c: counters[c].merged() for c in CATEGORICAL_COLUMNS},
        missing=missing,
        moments=moments,
    )


@dataclass(frozen=True)
class Fitted:
    """What is learned from the training rows: schema statistics and vocabularies."""

    schema: FeatureSchema
    vocab_values: dict[str, np.ndarray]  # column -> uint32 raw value of ids 2..
    cat_counts: dict[str, np.ndarray]  # column -> int64 training count per id


class CountMerger:
    """Sums `ShardCounts` as they arrive (in any order), then fits the vocabularies once.

    Merging as results arrive keeps at most a few shards' count tables in memory at a time.
    """

    def __init__(self) -> None:
        self._counters = {c: _Counter(c) for c in CATEGORICAL_COLUMNS}
        self._missing = dict.fromkeys(CATEGORICAL_COLUMNS, 0)
        self._moments = {c: Moments() for c in NUMERIC_COLUMNS}
        self.n_train = 0

    def add(self, counts: ShardCounts) -> None:
        self.n_train += counts.n_train
        for c in CATEGORICAL_COLUMNS:
            self._counters[c].add(counts.values[c])
            self._missing[c] += counts.missing[c]
        for c in NUMERIC_COLUMNS:
            self._moments[c].add(counts.moments[c])

    def fit(self, *, min_count: int) -> Fitted:
        """The vocabularies and statistics of everything added (needs a training row)."""
        if self.n_train < 1:  # callers check the split sizes first
            raise ValueError(f"no training rows to fit on, got {self.n_train=}")
        numeric = tuple(
            NumericFeature(
                name=c,
                mean=self._moments[c].mean,
                std=self._moments[c].std,
                missing_rate=1.0 - self._moments[c].count / self.n_train,
            )
            for c in NUMERIC_COLUMNS
        )
        vocab_values: dict[str, np.ndarray] = {}
        cat_counts: dict[str, np.ndarray] = {}
        categorical: list[CategoricalFeature] = []
        for c in CATEGORICAL_COLUMNS:
            vocab_values[c], cat_counts[c] = fit_vocabulary(
                self._counters[c].merged(), c, missing=self._missing[c], min_count=min_count
            )
            categorical.append(CategoricalFeature(name=c, cardinality=2 + len(vocab_values[c])))
        schema = FeatureSchema(
            numeric=numeric, categorical=tuple(categorical), labels=(LABEL_COLUMN,)
        )
        return Fitted(schema=schema, vocab_values=vocab_values, cat_counts=cat_counts)


def merge_counts(counts: Iterable[ShardCounts], *, min_count: int) -> Fitted:
    """The vocabularies and statistics of all shards' training rows (see `CountMerger`)."""
    merger = CountMerger()
    for shard_counts in counts:
        merger.add(shard_counts)
    return merger.fit(min_count=min_count)


def write_fitted(folder: Path, fitted: Fitted) -> None:
    """``cat_counts/<C>.npy`` and ``vocab/<C>.npy`` (see `harness.data.cache`)."""
    for name, arrays in (("cat_counts", fitted.cat_counts), ("vocab", fitted.vocab_values)):
        (folder / name).mkdir()
        for c, array in arrays.items():
            np.save(folder / name / f"{c}.npy", array)


# --- pass 3: encode --------------------------------------------------------------------------

_ARRAYS: tuple[tuple[str, type[np.generic], int], ...] = (
    ("x_num", np.float32, len(NUMERIC_COLUMNS)),
    ("x_cat", np.int32, len(CATEGORICAL_COLUMNS)),
    ("y", np.float32, 1),
)


@dataclass(frozen=True)
class ShardPlan:
    """Where one shard's rows go: its global row offset and, per split, first row and count."""

    offset: int
    starts: Splits
    rows: Splits


def plan_shards(shards: Sequence[ShardInfo], split_rows: Sequence[Splits]) -> list[ShardPlan]:
    """Each shard's global offset and per-split row ranges, shards in order."""
    plans: list[ShardPlan] = []
    offset, starts = 0, np.zeros(_N_SPLITS, dtype=np.int64)
    for shard, rows in zip(shards, split_rows, strict=True):
        if sum(rows) != shard.rows:  # a bug, not a user error
            raise RuntimeError(f"{shard.source}: {shard.rows} rows but {rows=} in the splits")
        plans.append(ShardPlan(offset, _splits(starts), rows))
        offset += shard.rows
        starts += np.asarray(rows, dtype=np.int64)
    return plans


def shard_offsets(shards: Sequence[ShardInfo]) -> list[int]:
    """Global index of each shard's first row."""
    offsets, total = [], 0
    for shard in shards:
        offsets.append(total)
        total += shard.rows
    return offsets


def allocate_arrays(folder: Path, sizes: Splits) -> None:
    """Creates ``<split>/{x_num,x_cat,y}.npy`` under ``folder`` at their final size.

    The header is written and the file extended to its full length (sparse: no data written),
    so each shard can then write its own row range in place, in any order, from any node.
    """
    for split_name, size in zip(SPLIT_NAMES, sizes, strict=True):
        (folder / split_name).mkdir()
        for array, dtype, width in _ARRAYS:
            header = {
                "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                "fortran_order": False,
                "shape": (size, width),
            }
            with (folder / split_name / f"{array}.npy").open("wb") as f:
                np.lib.format.write_array_header_1_0(f, header)
                f.truncate(f.tell() + size * width * np.dtype(dtype).itemsize)


class _RangeWriter:
    """Writes rows ``[start, start + rows)`` of a preallocated ``.npy`` file, front to back.

    NOTE: positioned writes, not ``np.lib.format.open_memmap(mode="r+")``: a memory map writes
    back whole pages, so on a network filesystem two nodes writing neighbouring row ranges that
    share a page would overwrite each other's rows; a write sends only its own bytes. It is also
    as fast as appending (no page faults on a fresh file).
    """

    def __init__(self, path: Path, start: int, rows: int) -> None:
        self.path = path
        self.rows = rows
        self.written = 0
        self.file: BinaryIO = path.open("r+b")
        try:
            version = np.lib.format.read_magic(self.file)
            if version != (1, 0):  # a bug: allocate_arrays writes version 1.0
                raise RuntimeError(f"{path}: npy format {version}, expected (1, 0)")
            shape, _, self.dtype = np.lib.format.read_array_header_1_0(self.file)
            self.width = int(shape[1])
            if start < 0 or start + rows > shape[0]:  # a bug
                raise RuntimeError(f"{path}: rows {start}..{start + rows} outside {shape}")
            self.file.seek(self.file.tell() + start * self.width * self.dtype.itemsize)
        except BaseException:
            self.file.close()
            raise

    def write(self, block: np.ndarray) -> None:
        if block.dtype != self.dtype or block.shape[1:] != (self.width,):  # a bug
            raise RuntimeError(f"{self.path.name}: got {block.dtype} {block.shape}")
        if self.written + block.shape[0] > self.rows:  # a bug: it would overwrite another shard
            raise RuntimeError(f"{self.path}: more than the planned {self.rows} rows")
        self.file.write(np.ascontiguousarray(block).data)
        self.written += block.shape[0]

    def close(self) -> None:
        self.file.close()

    def check(self) -> None:
        if self.written != self.rows:  # a bug, not a user error
            raise RuntimeError(f"{self.path}: wrote {self.written} rows, planned {self.rows}")


class FrameEncoder:
    """Typed frame -> ``x_num``/``x_cat``/``y`` arrays with a fitted vocabulary.

    Builds the id tables once; a context manager (it owns the lookup threads).
    """

    def __init__(self, fitted: Fitted, *, threads: int | None = None) -> None:
        if threads is None:
            threads = min(4, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads))
        try:
            vocab = {c: fitted.vocab_values[c] for c in CATEGORICAL_COLUMNS}
            self._categorical = CategoricalEncoder(vocab, self._pool)
        except BaseException:
            self._pool.shutdown()
            raise
        self._numeric = [
            pl.col(c).cast(pl.Float32).fill_null(float("nan")) for c in NUMERIC_COLUMNS
        ]

    def __enter__(self) -> FrameEncoder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._pool.shutdown()

    def __call__(self, rows: pl.DataFrame) -> dict[str, np.ndarray]:
        return {
            "x_cat": self._categorical(rows),
            "x_num": _columns_to_rows(rows.select(self._numeric), np.float32),
            "y": rows[LABEL_COLUMN].to_numpy().astype(np.float32).reshape(-1, 1),
        }


def encode_shard(
    shard: ShardInfo,
    plan: ShardPlan,
    encoder: FrameEncoder,
    *,
    split: RowSplit,
    arrays_dir: Path,
    on_block: OnBlock = _no_progress,
) -> None:
    """Pass 3: encode one shard into its row ranges of the arrays made by `allocate_arrays`.

    Args:
        shard: from `parse_shard`.
        plan: its offset and per-split row ranges (`plan_shards`).
        encoder: built from the merged `Fitted` (`FrameEncoder`).
        split: the protocol and the total row count over all shards.
        arrays_dir: the folder holding ``train/ valid/ test/``.
        on_block: called after each block (with 0).
    """
    writers: list[dict[str, _RangeWriter]] = []
    try:
        for split_name, start, rows in zip(SPLIT_NAMES, plan.starts, plan.rows, strict=True):
            folder = Path(arrays_dir) / split_name
            writers.append(
                {name: _RangeWriter(folder / f"{name}.npy", start, rows) for name, _, _ in _ARRAYS}
            )
        for block in shard.blocks:
            frame = pl.read_ipc(shard.block_path(block))
            codes = split.codes(plan.offset + block.first_row, block.rows)
            for code, out in enumerate(writers):
                rows_in = _rows_of(frame, codes, code)
                if not rows_in.height:
                    continue
                for name, array in encoder(rows_in).items():
                    out[name].write(array)
            on_block(0)
    finally:
        for out in writers:
            for writer in out.values():
                writer.close()
    for out in writers:
        for writer in out.values():
            writer.check()


# --- helpers ---------------------------------------------------------------------------------


def _splits(values: np.ndarray) -> Splits:
    return int(values[0]), int(values[1]), int(values[2])


def _rows_of(frame: pl.DataFrame, codes: np.ndarray, split: int) -> pl.DataFrame:
    if codes.size and codes[0] == split and codes[-1] == split and (codes == split).all():
        return frame
    return frame.filter(pl.Series(codes == split))


def _columns_to_rows(frame: pl.DataFrame, dtype: type[np.generic]) -> np.ndarray:
    """A row-major [n, k] array from k null-free columns (column by column: no transposed copy)."""
    out = np.empty((frame.height, frame.width), dtype=dtype)
    for j, series in enumerate(frame.iter_columns()):
        out[:, j] = series.to_numpy()
    return out
