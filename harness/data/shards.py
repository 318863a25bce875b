"""The three preprocessing passes over one shard (one main file), as pure functions of a card.

Both the single-process path (`harness.data.preprocess`, a loop over shards) and the distributed
path (`harness.distributed`, one Ray task per shard and pass) call these, so the two give
byte-identical caches. No function here keeps state between calls or imports Ray; what one pass
hands to the next is a small picklable value (`ShardInfo`, `ShardCounts`, `ShardPlan`, `Fitted`)
plus files in a folder that every worker can reach.

1. `parse_shard`: the card's reader (`harness.data.table.TableReader`) -> canonical blocks as
   uncompressed Arrow IPC files (fast to write, memory-mapped when read back), one folder per
   shard;
2. `count_shard`: the shard's training rows -> exact value counts of every categorical column and
   the numeric statistics (`harness.data.stats`); the shards' counts are summed by `CountMerger`
   into the vocabularies and the schema (`Fitted`);
3. `encode_shard`: the shard's rows -> its row ranges of the preallocated per-split ``.npy``
   files (`allocate_arrays`), at offsets given by `plan_shards`;
4. (cards with ``text`` or ``vectors`` columns) `write_vector_shard`: the shard's texts and
   vector columns -> its row ranges of ``x_vec.npy`` (`allocate_vectors`), each text's vector
   looked up in a `TextTable` of the distinct texts (`distinct_texts`) and their embeddings,
   each vector column's lists copied (their width and values checked first by
   `vector_widths`). It splits rows exactly as `encode_shard` does (the same plan, shard
   offsets and per-split row ranges), so ``x_vec``'s rows line up with the other arrays' by
   construction.

A row's split is assigned by the split plan (`harness.data.splits`) from its global index among
the kept rows of all shards in order (and its time or group where the protocol needs them), so
the shards in order behave exactly like one file holding their concatenation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import polars as pl

from harness.data.card import DatasetCard
from harness.data.columns import GROUP, task_column
from harness.data.readers.base import BadRows
from harness.data.schema import SPLIT_NAMES, CategoricalFeature, FeatureSchema, NumericFeature
from harness.data.splits import SplitPlan
from harness.data.stats import BlockMoments, NumericSketch, sample_mask
from harness.data.table import CanonicalColumns, TableReader, text_column, vector_column
from harness.data.vocab import CategoricalEncoder, fit_vocabulary
from harness.errors import HarnessError

__all__ = [
    "BlockInfo",
    "CountMerger",
    "Fitted",
    "FrameEncoder",
    "ShardCounts",
    "ShardInfo",
    "ShardPlan",
    "TextTable",
    "allocate_arrays",
    "allocate_vectors",
    "count_shard",
    "distinct_texts",
    "encode_shard",
    "merge_counts",
    "parse_shard",
    "plan_shards",
    "shard_offsets",
    "vector_widths",
    "write_fitted",
    "write_vector_shard",
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

    source: str  # the main file
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
    card: DatasetCard,
    side_files: Sequence[Path] = (),
    block_bytes: int,
    bad_rows: BadRows,
    on_block: OnBlock = _no_progress,
) -> ShardInfo:
    """Pass 1: read one main file into canonical IPC block files under ``folder`` (created here).

    Args:
        path: a main file of the card (plain or gzip text, or parquet).
        folder: where the blocks go; must not exist yet.
        card: the dataset card (columns, types, tasks, joins).
        side_files: the card's join files, one per ``card.joins`` entry.
        block_bytes: bytes parsed at a time (sets memory, never the result).
        bad_rows: ``"error"`` or ``"skip"``.
        on_block: called after each block with the bytes of ``path`` read so far.

    Raises:
        HarnessError: unreadable file or a bad row; the message names the file and its line.
    """
    path, folder = Path(path), Path(folder)
    reader = TableReader(card, path, side_files)
    folder.mkdir(parents=True)
    blocks: list[BlockInfo] = []
    skipped = 0
    for block in reader.blocks(block_bytes=block_bytes, bad_rows=bad_rows):
        skipped += block.skipped
        if block.frame.height:
            name = f"{block.index:06d}.arrow"
            # One chunk per column: the CSV reader's many small chunks make IPC writes slow.
            block.frame.rechunk().write_ipc(folder / name, compression="uncompressed")
            blocks.append(BlockInfo(name, block.first_row, block.frame.height))
        on_block(block.bytes_read)
    rows = sum(b.rows for b in blocks)
    return ShardInfo(str(path), str(folder.resolve()), tuple(blocks), rows, skipped)


def read_columns(shards: Sequence[ShardInfo], names: Sequence[str]) -> pl.DataFrame:
    """These canonical columns of every parsed row, shards and blocks in order."""
    files = [str(s.block_path(b)) for s in shards for b in s.blocks]
    if not files:
        return pl.DataFrame()
    return pl.scan_ipc(files).select(list(names)).collect()


# --- pass 2: count ---------------------------------------------------------------------------


@dataclass
class _Counter:
    """Value counts of one categorical column, summed every few tables."""

    column: str
    dtype: pl.DataType
    tables: list[pl.DataFrame] = field(default_factory=list)

    def add(self, table: pl.DataFrame) -> None:
        self.tables.append(table)
        if len(self.tables) >= _MERGE_EVERY:
            self.tables = [self.merged()]

    def merged(self) -> pl.DataFrame:
        if not self.tables:
            return pl.DataFrame(schema={self.column: self.dtype, "count": pl.Int64})
        if len(self.tables) == 1:
            return self.tables[0]
        return pl.concat(self.tables).group_by(self.column).agg(pl.col("count").sum())


@dataclass(frozen=True)
class ShardCounts:
    """What pass 2 learns from one shard's training rows (and how many rows each split gets).

    Attributes:
        source: the shard's main file.
        split_rows: the shard's rows in each split.
        values: column -> one row per distinct training value: the key and its count.
        missing: column -> training rows where it is missing.
        numeric: moments and the quantile sample of the numeric columns.
    """

    source: str
    split_rows: Splits
    values: dict[str, pl.DataFrame]
    missing: dict[str, int]
    numeric: NumericSketch

    @property
    def n_train(self) -> int:
        return self.split_rows[0]


def count_shard(
    shard: ShardInfo,
    *,
    index: int,
    offset: int,
    plan: SplitPlan,
    columns: CanonicalColumns,
    n_rows: int,
    on_block: OnBlock = _no_progress,
) -> ShardCounts:
    """Pass 2: the training value counts and numeric statistics of one shard.

    Args:
        shard: from `parse_shard`.
        index: the shard's position among all shards (pre-split files are told apart by it).
        offset: global index of the shard's first row (kept rows of the shards before it).
        plan: the split plan of all shards.
        columns: the card's canonical columns.
        n_rows: rows of all shards (sets the quantile sample's rate).
        on_block: called after each block (with 0).
    """
    counters = {c: _Counter(c, columns.key_dtype(c)) for c in columns.categorical}
    missing = dict.fromkeys(columns.categorical, 0)
    sketch = NumericSketch(columns.numeric)
    moments = BlockMoments(columns.numeric, columns.numeric_kinds)
    split_rows = np.zeros(_N_SPLITS, dtype=np.int64)
    for block in shard.blocks:
        first = offset + block.first_row
        frame = pl.read_ipc(shard.block_path(block)) if plan.needs_frame else None
        codes = plan.codes(frame, first, block.rows, index)
        in_splits = np.bincount(codes, minlength=_N_SPLITS)
        split_rows += in_splits
        if not in_splits[0]:
            on_block(0)
            continue
        frame = pl.read_ipc(shard.block_path(block)) if frame is None else frame
        is_train = codes == 0
        train = _rows_of(frame, codes, 0)
        lazy = train.lazy()
        queries = [
            lazy.select(c).drop_nulls().group_by(c).agg(pl.len().cast(pl.Int64).alias("count"))
            for c in columns.categorical
        ]
        stats = lazy.select(
            *moments.exprs,
            *(pl.col(c).null_count().alias(f"{c}_null") for c in columns.categorical),
        )
        *tables, row = pl.collect_all([*queries, stats])
        values = row.row(0, named=True)
        for c, table in zip(columns.categorical, tables, strict=True):
            counters[c].add(table)
            missing[c] += int(values[f"{c}_null"])
        if columns.numeric:
            sketch.add_moments(moments.read(values, train))
            sampled = sample_mask(first, block.rows, n_rows)[is_train]
            if sampled.any():
                chosen = train.filter(pl.Series(sampled)).select(columns.numeric)
                sketch.add_sample(
                    _columns_to_rows(chosen, np.float64, rows=chosen.height, nan=True)
                )
        on_block(0)
    return ShardCounts(
        source=shard.source,
        split_rows=_splits(split_rows),
        values={c: counters[c].merged() for c in columns.categorical},
        missing=missing,
        numeric=sketch,
    )


@dataclass(frozen=True)
class Fitted:
    """What is learned from the training rows: schema statistics and vocabularies."""

    schema: FeatureSchema
    vocab_values: dict[str, np.ndarray]  # column -> raw key of ids 2..
    cat_counts: dict[str, np.ndarray]  # column -> int64 training count per id


class CountMerger:
    """Sums `ShardCounts` as they arrive (in any order), then fits the vocabularies once.

    Merging as results arrive keeps at most a few shards' count tables in memory at a time.
    """

    def __init__(self, columns: CanonicalColumns, card: DatasetCard) -> None:
        self.columns = columns
        self.card = card
        self._counters = {c: _Counter(c, columns.key_dtype(c)) for c in columns.categorical}
        self._missing = dict.fromkeys(columns.categorical, 0)
        self._numeric = NumericSketch(columns.numeric)
        self.n_train = 0

    def add(self, counts: ShardCounts) -> None:
        self.n_train += counts.n_train
        for c in self.columns.categorical:
            self._counters[c].add(counts.values[c])
            self._missing[c] += counts.missing[c]
        self._numeric.add(counts.numeric)

    def fit(self, *, min_count: int) -> Fitted:
        """The vocabularies and statistics of everything added (needs a training row)."""
        if self.n_train < 1:  # callers check the split sizes first
            raise ValueError(f"no training rows to fit on, got {self.n_train=}")
        quantiles = self._numeric.quantiles()
        numeric = tuple(
            NumericFeature(
                name=c,
                mean=m.mean,
                std=m.std,
                missing_rate=1.0 - m.count / self.n_train,
                kind=kind,
                low=None if m.low is None else float(m.low),
                high=None if m.high is None else float(m.high),
                quantiles=q,
            )
            for c, kind, m, q in zip(
                self.columns.numeric,
                self.columns.numeric_kinds,
                self._numeric.moments,
                quantiles,
                strict=True,
            )
        )
        vocab_values: dict[str, np.ndarray] = {}
        cat_counts: dict[str, np.ndarray] = {}
        categorical: list[CategoricalFeature] = []
        for c, kind in zip(self.columns.categorical, self.columns.categorical_kinds, strict=True):
            vocab_values[c], cat_counts[c] = fit_vocabulary(
                self._counters[c].merged(), c, missing=self._missing[c], min_count=min_count
            )
            categorical.append(
                CategoricalFeature(name=c, cardinality=2 + len(vocab_values[c]), kind=kind)
            )
        schema = FeatureSchema(
            numeric=numeric,
            categorical=tuple(categorical),
            labels=self.columns.tasks,
            query_group=self.card.group,
        )
        return Fitted(schema=schema, vocab_values=vocab_values, cat_counts=cat_counts)


def merge_counts(
    counts: Iterable[ShardCounts], columns: CanonicalColumns, card: DatasetCard, *, min_count: int
) -> Fitted:
    """The vocabularies and statistics of all shards' training rows (see `CountMerger`)."""
    merger = CountMerger(columns, card)
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


def array_layout(columns: CanonicalColumns) -> tuple[tuple[str, type[np.generic], int], ...]:
    """``(array, dtype, width)`` of each per-split array: x_num, x_cat, y (and group)."""
    arrays: list[tuple[str, type[np.generic], int]] = [
        ("x_num", np.float32, len(columns.numeric)),
        ("x_cat", np.int32, len(columns.categorical)),
        ("y", np.float32, len(columns.tasks)),
    ]
    if columns.group:
        arrays.append(("group", np.uint64, 1))
    return tuple(arrays)


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


def allocate_arrays(folder: Path, sizes: Splits, columns: CanonicalColumns) -> None:
    """Creates ``<split>/<array>.npy`` under ``folder`` at their final size.

    The header is written and the file extended to its full length (sparse: no data written),
    so each shard can then write its own row range in place, in any order, from any node.
    """
    for split_name, size in zip(SPLIT_NAMES, sizes, strict=True):
        (folder / split_name).mkdir()
        for array, dtype, width in array_layout(columns):
            shape: tuple[int, ...] = (size,) if array == "group" else (size, width)
            _allocate(folder / split_name / f"{array}.npy", dtype, shape)


def allocate_vectors(folder: Path, sizes: Splits, width: int) -> None:
    """Creates ``<split>/x_vec.npy`` float32 ``[rows, width]`` under ``folder`` (whose split
    folders `allocate_arrays` made), like `allocate_arrays` does."""
    for split_name, size in zip(SPLIT_NAMES, sizes, strict=True):
        _allocate(folder / split_name / "x_vec.npy", np.float32, (size, width))


def _allocate(path: Path, dtype: type[np.generic], shape: tuple[int, ...]) -> None:
    """An ``.npy`` file of its final size: the header, then a sparse extension."""
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": shape,
    }
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.truncate(f.tell() + int(np.prod(shape)) * np.dtype(dtype).itemsize)


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
            self.width = int(shape[1]) if len(shape) > 1 else 1
            self.shape_tail = tuple(int(s) for s in shape[1:])
            if start < 0 or start + rows > shape[0]:  # a bug
                raise RuntimeError(f"{path}: rows {start}..{start + rows} outside {shape}")
            self.file.seek(self.file.tell() + start * self.width * self.dtype.itemsize)
        except BaseException:
            self.file.close()
            raise

    def write(self, block: np.ndarray) -> None:
        if block.dtype != self.dtype or block.shape[1:] != self.shape_tail:  # a bug
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
    """Canonical frame -> ``x_num``/``x_cat``/``y`` (and ``group``) arrays, with a fitted
    vocabulary.

    Builds the id tables once; a context manager (it owns the lookup threads).
    """

    def __init__(
        self, fitted: Fitted, columns: CanonicalColumns, *, threads: int | None = None
    ) -> None:
        if threads is None:
            threads = min(4, os.cpu_count() or 1)
        self.columns = columns
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads))
        try:
            vocab = {c: fitted.vocab_values[c] for c in columns.categorical}
            self._categorical = CategoricalEncoder(vocab, self._pool)
        except BaseException:
            self._pool.shutdown()
            raise
        self._numeric = [
            pl.col(c).cast(pl.Float32).fill_null(float("nan")) for c in columns.numeric
        ]
        self._tasks = [pl.col(task_column(t)).cast(pl.Float32) for t in columns.tasks]

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
        n = rows.height
        out = {
            "x_cat": self._categorical(rows),
            "x_num": _columns_to_rows(rows.select(self._numeric), np.float32, rows=n),
            "y": _columns_to_rows(rows.select(self._tasks), np.float32, rows=n),
        }
        if self.columns.group:
            out["group"] = rows[GROUP].to_numpy().astype(np.uint64)
        return out


def encode_shard(
    shard: ShardInfo,
    shard_plan: ShardPlan,
    encoder: FrameEncoder,
    *,
    index: int,
    plan: SplitPlan,
    arrays_dir: Path,
    on_block: OnBlock = _no_progress,
) -> None:
    """Pass 3: encode one shard into its row ranges of the arrays made by `allocate_arrays`.

    Args:
        shard: from `parse_shard`.
        shard_plan: its offset and per-split row ranges (`plan_shards`).
        encoder: built from the merged `Fitted` (`FrameEncoder`).
        index: the shard's position among all shards.
        plan: the split plan of all shards.
        arrays_dir: the folder holding ``train/ valid/ test/``.
        on_block: called after each block (with 0).
    """
    names = [name for name, _, _ in array_layout(encoder.columns)]
    writers: list[dict[str, _RangeWriter]] = []
    try:
        for split_name, start, rows in zip(
            SPLIT_NAMES, shard_plan.starts, shard_plan.rows, strict=True
        ):
            folder = Path(arrays_dir) / split_name
            writers.append(
                {name: _RangeWriter(folder / f"{name}.npy", start, rows) for name in names}
            )
        for code, rows_in in _rows_by_split(shard, shard_plan, plan, index, on_block):
            for name, array in encoder(rows_in).items():
                writers[code][name].write(array)
    finally:
        for out in writers:
            for writer in out.values():
                writer.close()
    for out in writers:
        for writer in out.values():
            writer.check()


# --- pass 4: dense vectors (cards with text or vector columns) ------------------------------


def distinct_texts(shards: Sequence[ShardInfo], columns: CanonicalColumns) -> list[str]:
    """Every distinct non-null text of the text columns, in order of first appearance."""
    files = [str(s.block_path(b)) for s in shards for b in s.blocks]
    if not files or not columns.text:
        return []
    scan = pl.scan_ipc(files)
    parts = [
        scan.select(pl.col(text_column(c)).alias("text")).drop_nulls().unique(maintain_order=True)
        for c in columns.text
    ]
    texts = pl.concat(parts).unique(maintain_order=True).collect()
    return texts["text"].to_list()


@dataclass(frozen=True)
class TextTable:
    """Distinct texts and their vectors: looks up each row's text (null -> a zero vector).

    Attributes:
        texts: the distinct texts.
        vectors: float32 ``[len(texts), width]``, row for row.
    """

    texts: tuple[str, ...]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.texts):  # a bug
            raise ValueError(f"{len(self.texts)} texts but vectors {self.vectors.shape}")

    @property
    def width(self) -> int:
        return int(self.vectors.shape[1])

    def lookup(self, texts: pl.Series) -> np.ndarray:
        """float32 ``[len(texts), width]``: each text's vector, zeros where null.

        Raises:
            KeyError: a text not in the table (a bug: the table holds every distinct text).
        """
        rows = texts.replace_strict(
            pl.Series(self.texts, dtype=pl.String),
            pl.Series(np.arange(len(self.texts), dtype=np.int64)),
            default=None,
            return_dtype=pl.Int64,
        )
        unknown = rows.is_null() & texts.is_not_null()
        if unknown.any():  # a bug
            raise KeyError(f"text not in the table: {texts.filter(unknown)[0]!r}")
        out = np.zeros((texts.len(), self.width), dtype=np.float32)
        present = rows.is_not_null().to_numpy()
        out[present] = self.vectors[rows.drop_nulls().to_numpy()]
        return out


def vector_widths(shards: Sequence[ShardInfo], columns: CanonicalColumns) -> tuple[int, ...]:
    """Each vector column's width (its first non-null row's length), every row checked.

    Reads only the vector columns of the blocks, in row order.

    Raises:
        HarnessError: a row whose vector has another length, or a missing or non-finite value
            inside a vector, or a column with no vector at all; the message names file and row
            (1-based among the file's kept rows: its row in the file unless rows were skipped).
    """
    widths: dict[str, int] = {}
    for shard in shards:
        for block in shard.blocks:
            names = [vector_column(c) for c in columns.vectors]
            frame = pl.read_ipc(shard.block_path(block), columns=names)
            for column, name in zip(columns.vectors, names, strict=True):
                series = frame[name]
                lengths = series.list.len()
                present = lengths.drop_nulls()
                if not present.len():
                    continue
                width = widths.setdefault(column, int(present[0]))
                if width == 0:
                    raise HarnessError(
                        f"{Path(shard.source).name}: vector column {column}: the first vector "
                        "is empty; a vector needs at least one value"
                    )
                finite = series.list.eval(pl.element().is_finite().fill_null(False)).list.all()
                wrong = (lengths != width).fill_null(False) | (~finite).fill_null(False)
                if wrong.any():
                    i = int(wrong.arg_max() or 0)
                    got = int(lengths[i])
                    what = (
                        f"has {got} values, the first vector has {width}; give every row one length"
                        if got != width
                        else "holds a missing or non-finite value; fix the row"
                    )
                    raise HarnessError(
                        f"{Path(shard.source).name} row {block.first_row + i + 1}: vector column "
                        f"{column} {what}"
                    )
    for column in columns.vectors:
        if column not in widths:
            raise HarnessError(
                f"vector column {column}: every row is missing, so its width is unknown; "
                "give at least one row a vector"
            )
    return tuple(widths[c] for c in columns.vectors)


def write_vector_shard(
    shard: ShardInfo,
    shard_plan: ShardPlan,
    table: TextTable | None,
    *,
    index: int,
    plan: SplitPlan,
    columns: CanonicalColumns,
    widths: Sequence[int] = (),
    arrays_dir: Path,
    on_block: OnBlock = _no_progress,
) -> None:
    """Pass 4: one shard's text and vector columns into its row ranges of ``x_vec.npy``
    (`allocate_vectors`).

    Splits the rows exactly as `encode_shard` (same codes, same row ranges), so each split's
    ``x_vec`` rows are its other arrays' rows; the features sit side by side: the text columns
    in ``columns.text`` order, ``table.width`` columns each, then the vector columns in
    ``columns.vectors`` order, ``widths`` columns each (a missing vector is zeros).

    Args:
        shard: from `parse_shard`.
        shard_plan: its offset and per-split row ranges (`plan_shards`).
        table: every distinct text of the dataset and its vector (None: no text columns).
        index: the shard's position among all shards.
        plan: the split plan of all shards.
        columns: the card's canonical columns (``text`` or ``vectors`` non-empty).
        widths: each vector column's width (`vector_widths`, which checked every row).
        arrays_dir: the folder holding ``train/ valid/ test/``.
        on_block: called after each block (with 0).
    """
    if len(widths) != len(columns.vectors) or (table is None) != (not columns.text):  # a bug
        raise RuntimeError(f"{widths=} for {columns.vectors}, table for {columns.text}")
    writers: list[_RangeWriter] = []
    try:
        for split_name, start, rows in zip(
            SPLIT_NAMES, shard_plan.starts, shard_plan.rows, strict=True
        ):
            writers.append(_RangeWriter(Path(arrays_dir) / split_name / "x_vec.npy", start, rows))
        texts = [text_column(c) for c in columns.text]
        vectors = [vector_column(c) for c in columns.vectors]
        for code, rows_in in _rows_by_split(shard, shard_plan, plan, index, on_block):
            parts = [table.lookup(rows_in[name]) for name in texts] if table is not None else []
            parts += [
                _vectors_to_rows(rows_in[name], width)
                for name, width in zip(vectors, widths, strict=True)
            ]
            writers[code].write(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))
    finally:
        for writer in writers:
            writer.close()
    for writer in writers:
        writer.check()


def _vectors_to_rows(series: pl.Series, width: int) -> np.ndarray:
    """float32 ``[len(series), width]`` from a List(Float32) column of ``width``-long lists
    (`vector_widths` checked them), zeros where null."""
    out = np.zeros((series.len(), width), dtype=np.float32)
    present = series.is_not_null()
    values = series.filter(present).explode().to_numpy().astype(np.float32, copy=False)
    out[present.to_numpy()] = values.reshape(-1, width)
    return out


# --- helpers ---------------------------------------------------------------------------------


def _splits(values: np.ndarray) -> Splits:
    return int(values[0]), int(values[1]), int(values[2])


def _rows_by_split(
    shard: ShardInfo, shard_plan: ShardPlan, plan: SplitPlan, index: int, on_block: OnBlock
) -> Iterator[tuple[int, pl.DataFrame]]:
    """A shard's rows, block by block, as ``(split code, that split's rows of the block)`` in row
    order (only non-empty ones); ``on_block(0)`` after each block. What every pass that writes
    the split arrays reads."""
    for block in shard.blocks:
        frame = pl.read_ipc(shard.block_path(block))
        codes = plan.codes(frame, shard_plan.offset + block.first_row, block.rows, index)
        for code in range(_N_SPLITS):
            rows_in = _rows_of(frame, codes, code)
            if rows_in.height:
                yield code, rows_in
        on_block(0)


def _rows_of(frame: pl.DataFrame, codes: np.ndarray, split: int) -> pl.DataFrame:
    if codes.size and codes[0] == split and codes[-1] == split and (codes == split).all():
        return frame
    return frame.filter(pl.Series(codes == split))


def _columns_to_rows(
    frame: pl.DataFrame, dtype: type[np.generic], *, rows: int, nan: bool = False
) -> np.ndarray:
    """A row-major [rows, k] array from k columns (column by column: no transposed copy).

    ``rows`` is explicit: a frame of no columns has height 0. Columns must be null-free, unless
    ``nan``: then nulls become NaN.
    """
    out = np.empty((rows, frame.width), dtype=dtype)
    for j, series in enumerate(frame.iter_columns()):
        if nan:
            series = series.cast(pl.Float64).fill_null(float("nan"))
        out[:, j] = series.to_numpy()
    return out
