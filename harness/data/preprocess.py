"""Raw Criteo text -> encoded, cached, memory-mapped splits, in memory bounded by the block size.

Three passes, none of which holds the whole file:

1. **parse**: the reader's typed blocks are written as uncompressed Arrow IPC files (fast to
   write, memory-mapped when read back);
2. **fit** on the training rows only: per-column value counts (merged across blocks) give the
   vocabularies, and exact integer sums the numeric statistics;
3. **encode**: block by block, appended to each split's ``.npy`` files (shape known in advance),
   each split's rows in file order; the arrays are memory-mapped when loaded.

The result does not depend on the block size: the same file gives byte-identical arrays and
statistics whatever ``block_bytes`` is.

Vocabulary ids: 0 missing, 1 rare (training count below ``min_count``, or unseen in training),
then 2.. in order of descending training count, ties by ascending raw value (deterministic).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from harness import __version__
from harness.data.cache import (
    FORMAT_VERSION,
    building,
    cache_key,
    is_complete,
    load_encoded,
    write_json,
)
from harness.data.criteo import (
    CATEGORICAL_COLUMNS,
    DEFAULT_BLOCK_BYTES,
    LABEL_COLUMN,
    NUMERIC_COLUMNS,
    BadRows,
    check_readable,
    iter_criteo_blocks,
)
from harness.data.schema import (
    MISSING_ID,
    RARE_ID,
    SPLIT_NAMES,
    CategoricalFeature,
    EncodedDataset,
    FeatureSchema,
    NumericFeature,
)
from harness.data.splits import SplitProtocol, get_protocol
from harness.errors import HarnessError

__all__ = ["PreprocessConfig", "describe", "load_encoded", "prepare_criteo"]

_MERGE_EVERY = 16  # per-block count tables kept before they are summed into one


@dataclass(frozen=True)
class PreprocessConfig:
    """How a raw file becomes encoded splits.

    Attributes:
        protocol: a name in ``SPLIT_PROTOCOLS`` (``sequential``, ``x1``, ``x4``).
        min_count: training count a categorical value needs to get its own id (else RARE_ID).
        seed: seeds the random split protocols.
        bad_rows: ``"error"`` stops at the first bad row; ``"skip"`` drops and counts them.
        block_bytes: bytes parsed at a time; sets peak memory, never the result.
    """

    protocol: str = "sequential"
    min_count: int = 2
    seed: int = 0
    bad_rows: BadRows = "error"
    block_bytes: int = DEFAULT_BLOCK_BYTES

    def __post_init__(self) -> None:
        get_protocol(self.protocol)  # raises naming the valid protocols
        if self.min_count < 1:
            raise HarnessError(f"min_count must be at least 1, got {self.min_count=}")
        if self.seed < 0:
            raise HarnessError(f"seed must be non-negative, got {self.seed=}")
        if self.bad_rows not in ("error", "skip"):
            raise HarnessError(f"bad_rows must be 'error' or 'skip', got {self.bad_rows=}")
        if self.block_bytes < 1:
            raise HarnessError(f"block_bytes must be at least 1, got {self.block_bytes=}")

    def cache_settings(self) -> dict[str, Any]:
        """What the arrays depend on (block_bytes does not change them)."""
        settings = asdict(self)
        del settings["block_bytes"]
        return settings


def prepare_criteo(
    path: Path,
    config: PreprocessConfig,
    *,
    cache_root: Path,
    progress: bool = True,
    name: str = "criteo",
    synthetic: bool = False,
) -> EncodedDataset:
    """Encode a raw Criteo file into cached splits, or load them if already cached.

    Args:
        path: raw Criteo text (plain or gzip).
        config: split protocol, vocabulary threshold, bad-row policy, block size.
        cache_root: folder holding one sub-folder per prepared (file, config).
        progress: show rich progress bars on stderr.
        name: dataset name (in the cache folder name and the result).
        synthetic: mark the dataset as synthetic (shown in its title).

    Returns:
        The dataset, memory-mapped from its cache folder.

    Raises:
        HarnessError: unreadable input, a bad row (with ``bad_rows="error"``), or too few rows
            for every split to get one.
    """
    path = Path(path)
    check_readable(path)
    settings = {**config.cache_settings(), "name": name, "synthetic": synthetic}
    final = Path(cache_root) / f"{name}-{config.protocol}-{cache_key(path, settings)}"
    if is_complete(final):
        return load_encoded(final)
    with _progress_bars(progress) as bars, building(final) as work:
        _build(path, config, work, bars, name=name, synthetic=synthetic)
    return load_encoded(final)


@dataclass
class _Block:
    file: Path
    first_row: int
    rows: int


@dataclass
class _Timings:
    parse_s: float = 0.0
    fit_s: float = 0.0
    encode_s: float = 0.0


def _build(
    path: Path,
    config: PreprocessConfig,
    work: Path,
    bars: Progress,
    *,
    name: str,
    synthetic: bool,
) -> None:
    protocol = get_protocol(config.protocol)
    timings = _Timings()
    started = time.perf_counter()

    blocks, skipped = _parse_pass(path, config, work / "blocks", bars)
    n_rows = sum(b.rows for b in blocks)
    if n_rows == 0:
        raise HarnessError(f"{path.name}: no rows left after skipping {skipped} bad rows")
    sizes = protocol.sizes(n_rows, seed=config.seed)
    if min(sizes) == 0:
        shown = ", ".join(f"{s} {n}" for s, n in zip(SPLIT_NAMES, sizes, strict=True))
        raise HarnessError(
            f"{path.name}: {n_rows} rows split by {config.protocol} give {shown}; "
            "every split needs at least one row, use a bigger file"
        )
    timings.parse_s = time.perf_counter() - started

    fit_started = time.perf_counter()
    fitted = _fit_pass(blocks, protocol, n_rows, config, bars)
    timings.fit_s = time.perf_counter() - fit_started

    encode_started = time.perf_counter()
    _encode_pass(blocks, protocol, n_rows, sizes, config, fitted, work, bars)
    shutil.rmtree(work / "blocks")
    timings.encode_s = time.perf_counter() - encode_started

    _write_fitted(work, fitted)
    total = time.perf_counter() - started
    meta = {
        "format_version": FORMAT_VERSION,
        "harness_version": __version__,
        "name": name,
        "synthetic": synthetic,
        "source": str(path.resolve()),
        "source_bytes": path.stat().st_size,
        "protocol": config.protocol,
        "protocol_description": protocol.description,
        "config": config.cache_settings(),
        "rows": dict(zip(SPLIT_NAMES, sizes, strict=True)),
        "total_rows": n_rows,
        "skipped_rows": skipped,
        "blocks": len(blocks),
        "timings": {**asdict(timings), "total_s": total, "rows_per_s": n_rows / total},
    }
    (work / "schema.json").write_text(fitted.schema.to_json())
    write_json(work / "meta.json", meta)  # last: its presence marks a finished cache


def _parse_pass(
    path: Path, config: PreprocessConfig, folder: Path, bars: Progress
) -> tuple[list[_Block], int]:
    folder.mkdir()
    task = bars.add_task(f"parse {path.name}", total=path.stat().st_size)
    blocks: list[_Block] = []
    skipped = 0
    for block in iter_criteo_blocks(path, block_bytes=config.block_bytes, bad_rows=config.bad_rows):
        skipped += block.skipped
        if block.frame.height:
            file = folder / f"{block.index:06d}.arrow"
            # One chunk per column: the CSV reader's many small chunks make IPC writes slow.
            block.frame.rechunk().write_ipc(file, compression="uncompressed")
            blocks.append(_Block(file, block.first_row, block.frame.height))
        bars.update(task, completed=block.bytes_read)
    return blocks, skipped


def _split_codes(block: _Block, protocol: SplitProtocol, n_rows: int, seed: int) -> np.ndarray:
    rows = np.arange(block.first_row, block.first_row + block.rows, dtype=np.int64)
    return protocol.assign(rows, n_rows=n_rows, seed=seed)


def _rows_of(frame: pl.DataFrame, codes: np.ndarray, split: int) -> pl.DataFrame:
    if codes.size and codes[0] == split and codes[-1] == split and (codes == split).all():
        return frame
    return frame.filter(pl.Series(codes == split))


@dataclass
class _Moments:
    """Exact running count, sum and sum of squares of one integer column.

    Python integers, so the statistics are exact and do not depend on how the file was cut into
    blocks (a float merge would differ in the last bits from one block size to another).
    """

    count: int = 0
    total: int = 0
    squares: int = 0

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


@dataclass(frozen=True)
class _Fitted:
    schema: FeatureSchema
    vocab_values: dict[str, np.ndarray]  # column -> uint32 raw value of ids 2..
    cat_counts: dict[str, np.ndarray]  # column -> int64 training count per id


@dataclass
class _Counter:
    """Training value counts of one categorical column, merged every few blocks."""

    column: str
    tables: list[pl.DataFrame] = field(default_factory=list)
    missing: int = 0

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


def _fit_pass(
    blocks: list[_Block],
    protocol: SplitProtocol,
    n_rows: int,
    config: PreprocessConfig,
    bars: Progress,
) -> _Fitted:
    task = bars.add_task("fit on train", total=len(blocks))
    counters = {c: _Counter(c) for c in CATEGORICAL_COLUMNS}
    moments = {c: _Moments() for c in NUMERIC_COLUMNS}
    n_train = 0
    for block in blocks:
        codes = _split_codes(block, protocol, n_rows, config.seed)
        if not (codes == 0).any():
            bars.advance(task)
            continue
        train = _rows_of(pl.read_ipc(block.file), codes, 0)
        n_train += train.height
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
            counters[c].missing += int(values[f"{c}_null"])
        for c in NUMERIC_COLUMNS:
            moments[c].count += int(values[f"{c}_n"])
            moments[c].total += int(values[f"{c}_s"] or 0)
            hh, hl, ll = (int(values[f"{c}_{k}"] or 0) for k in ("hh", "hl", "ll"))
            moments[c].squares += (hh << 32) + (hl << 17) + ll
        bars.advance(task)

    numeric = tuple(
        NumericFeature(
            name=c,
            mean=moments[c].mean,
            std=moments[c].std,
            missing_rate=1.0 - moments[c].count / n_train,
        )
        for c in NUMERIC_COLUMNS
    )
    vocab_values: dict[str, np.ndarray] = {}
    cat_counts: dict[str, np.ndarray] = {}
    categorical: list[CategoricalFeature] = []
    for c in CATEGORICAL_COLUMNS:
        counts = counters[c].merged()
        kept = counts.filter(pl.col("count") >= config.min_count).sort(
            ["count", c], descending=[True, False]
        )
        rare = int(counts.filter(pl.col("count") < config.min_count)["count"].sum())
        vocab_values[c] = kept[c].to_numpy().astype(np.uint32)
        cat_counts[c] = np.concatenate(
            [np.array([counters[c].missing, rare], dtype=np.int64), kept["count"].to_numpy()]
        ).astype(np.int64)
        categorical.append(CategoricalFeature(name=c, cardinality=2 + kept.height))
    schema = FeatureSchema(numeric=numeric, categorical=tuple(categorical), labels=(LABEL_COLUMN,))
    return _Fitted(schema=schema, vocab_values=vocab_values, cat_counts=cat_counts)


class _IdTable:
    """Raw value -> id for one column: an open-addressing hash table in numpy, built once.

    Why not polars ``replace_strict`` or a join per block: both rebuild a hash map of the whole
    vocabulary on every call, which for multi-million vocabularies (full Criteo) costs more than
    the block itself. Built once, looked up vectorised: linear probing at load <= 1/2, so each
    round resolves most of the remaining values and the rounds are few.
    """

    def __init__(self, values: np.ndarray) -> None:
        values = values.astype(np.uint32)
        # size >= 2 * len; at most 2^32 slots (a uint32 hash), far above any real vocabulary
        self.bits = min(32, max(3, int(2 * max(len(values), 1) - 1).bit_length()))
        self.mask = (1 << self.bits) - 1
        self.keys = np.zeros(1 << self.bits, dtype=np.uint32)
        self.ids = np.zeros(1 << self.bits, dtype=np.int32)  # 0: empty slot (ids start at 2)
        position = self._slot(values)
        pending = np.arange(len(values))
        while pending.size:
            slots = position[pending]
            free = self.ids[slots] == 0
            # Of several values probing the same free slot, the first one takes it.
            taken, first = np.unique(slots[free], return_index=True)
            winners = pending[free][first]
            self.keys[taken] = values[winners]
            self.ids[taken] = winners.astype(np.int32) + 2
            placed = np.zeros(len(values), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            position[pending] = (position[pending] + 1) & self.mask

    def _slot(self, values: np.ndarray) -> np.ndarray:
        # Fibonacci hashing: the top bits of a 32-bit multiplicative hash (wrapping uint32).
        product = values * np.uint32(0x9E3779B1)
        slots: np.ndarray = (product >> np.uint32(32 - self.bits)).astype(np.intp)
        return slots

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Ids (int32) of uint32 ``values``; RARE_ID for values not in the vocabulary."""
        out = np.full(values.shape, RARE_ID, dtype=np.int32)
        index = np.arange(values.size)
        slots = self._slot(values)
        while index.size:
            ids = self.ids[slots]
            hit = (ids != 0) & (self.keys[slots] == values)
            out[index[hit]] = ids[hit]
            going_on = (ids != 0) & ~hit  # occupied by another value: probe the next slot
            index, values = index[going_on], values[going_on]
            slots = (slots[going_on] + 1) & self.mask
        return out


# Up to this many vocabulary values polars' replace_strict is fastest (its per-call hash map is
# cheap and it runs the columns in parallel); above it the prebuilt `_IdTable` is.
_POLARS_VOCAB_MAX = 1 << 17


class _CategoricalEncoder:
    """Raw uint32 columns -> x_cat [n, 26] int32 (MISSING_ID for null, RARE_ID if absent)."""

    def __init__(self, fitted: _Fitted, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.small: dict[int, pl.Expr] = {}
        large: list[int] = []
        for j, c in enumerate(CATEGORICAL_COLUMNS):
            values = fitted.vocab_values[c]
            if len(values) <= _POLARS_VOCAB_MAX:
                self.small[j] = _replace_expr(c, values)
            else:
                large.append(j)
        built = pool.map(lambda j: _IdTable(fitted.vocab_values[CATEGORICAL_COLUMNS[j]]), large)
        self.tables = dict(zip(large, built, strict=True))

    def __call__(self, frame: pl.DataFrame) -> np.ndarray:
        out = np.empty((frame.height, len(CATEGORICAL_COLUMNS)), dtype=np.int32)
        if self.small:
            encoded = frame.select(list(self.small.values()))
            for j, series in zip(self.small, encoded.iter_columns(), strict=True):
                out[:, j] = series.to_numpy()

        # numpy releases the GIL in the gathers and comparisons: the columns run in threads.
        def encode(j: int) -> None:
            column = frame[CATEGORICAL_COLUMNS[j]]
            ids = self.tables[j].lookup(column.fill_null(0).to_numpy())
            if column.null_count():
                ids[column.is_null().to_numpy()] = MISSING_ID
            out[:, j] = ids

        list(self.pool.map(encode, self.tables))
        return out


def _replace_expr(column: str, values: np.ndarray) -> pl.Expr:
    old = pl.Series(values, dtype=pl.UInt32)
    new = pl.Series(np.arange(2, 2 + len(values), dtype=np.int32), dtype=pl.Int32)
    mapped = pl.col(column).replace_strict(
        old, new, default=pl.lit(RARE_ID, dtype=pl.Int32), return_dtype=pl.Int32
    )
    missing = pl.lit(MISSING_ID, dtype=pl.Int32)
    return pl.when(pl.col(column).is_null()).then(missing).otherwise(mapped).alias(column)


class _NpyAppender:
    """Writes one ``.npy`` file front to back: the header (final shape known), then row blocks.

    Plain appends instead of a memmap: no page faults on a fresh file, and each split's rows
    arrive in file order under every protocol, so appending is all that is needed.
    """

    def __init__(self, path: Path, dtype: type[np.generic], shape: tuple[int, int]) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.shape = shape
        self.rows = 0
        self.file = path.open("wb")
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": shape,
        }
        np.lib.format.write_array_header_1_0(self.file, header)

    def append(self, block: np.ndarray) -> None:
        if block.dtype != self.dtype or block.shape[1:] != self.shape[1:]:  # a bug
            raise RuntimeError(f"{self.path.name}: got {block.dtype} {block.shape}")
        self.file.write(np.ascontiguousarray(block).data)
        self.rows += block.shape[0]

    def close(self) -> None:
        self.file.close()
        if self.rows != self.shape[0]:  # a bug, not a user error
            raise RuntimeError(f"{self.path}: wrote {self.rows} rows, expected {self.shape[0]}")


def _columns_to_rows(frame: pl.DataFrame, dtype: type[np.generic]) -> np.ndarray:
    """A row-major [n, k] array from k null-free columns (column by column: no transposed copy)."""
    out = np.empty((frame.height, frame.width), dtype=dtype)
    for j, series in enumerate(frame.iter_columns()):
        out[:, j] = series.to_numpy()
    return out


def _encode_pass(
    blocks: list[_Block],
    protocol: SplitProtocol,
    n_rows: int,
    sizes: tuple[int, int, int],
    config: PreprocessConfig,
    fitted: _Fitted,
    work: Path,
    bars: Progress,
) -> None:
    task = bars.add_task("encode", total=len(blocks))
    n_num, n_cat = len(NUMERIC_COLUMNS), len(CATEGORICAL_COLUMNS)
    writers: list[dict[str, _NpyAppender]] = []
    for split_name, size in zip(SPLIT_NAMES, sizes, strict=True):
        folder = work / split_name
        folder.mkdir()
        writers.append(
            {
                "x_num": _NpyAppender(folder / "x_num.npy", np.float32, (size, n_num)),
                "x_cat": _NpyAppender(folder / "x_cat.npy", np.int32, (size, n_cat)),
                "y": _NpyAppender(folder / "y.npy", np.float32, (size, 1)),
            }
        )
    pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))
    encode_categorical = _CategoricalEncoder(fitted, pool)
    numeric = [pl.col(c).cast(pl.Float32).fill_null(float("nan")) for c in NUMERIC_COLUMNS]
    try:
        for block in blocks:
            frame = pl.read_ipc(block.file)
            codes = _split_codes(block, protocol, n_rows, config.seed)
            for split, out in enumerate(writers):
                rows = _rows_of(frame, codes, split)
                if not rows.height:
                    continue
                out["x_cat"].append(encode_categorical(rows))
                out["x_num"].append(_columns_to_rows(rows.select(numeric), np.float32))
                label = rows[LABEL_COLUMN].to_numpy().astype(np.float32)
                out["y"].append(label.reshape(-1, 1))
            bars.advance(task)
    finally:
        pool.shutdown()
        for out in writers:
            for writer in out.values():
                writer.file.close()
    for out in writers:
        for writer in out.values():
            writer.close()


def _write_fitted(work: Path, fitted: _Fitted) -> None:
    for folder, arrays in (("cat_counts", fitted.cat_counts), ("vocab", fitted.vocab_values)):
        (work / folder).mkdir()
        for c, array in arrays.items():
            np.save(work / folder / f"{c}.npy", array)


@contextmanager
def _progress_bars(enabled: bool) -> Iterator[Progress]:
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
    with bars:
        yield bars


def describe(dataset: EncodedDataset) -> str:
    """A one-line summary of a prepared dataset (rows per split, cardinality range)."""
    sizes = ", ".join(f"{s} {dataset.split(s).n_rows}" for s in SPLIT_NAMES)
    cards = dataset.schema.cardinalities
    return (
        f"{dataset.title}: {sizes}; {dataset.schema.n_num} numeric, {dataset.schema.n_cat} "
        f"categorical (cardinality {min(cards)}..{max(cards)}), protocol {dataset.protocol}"
    )
