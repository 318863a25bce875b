"""Parquet files in typed blocks of bounded size (pyarrow record batches, converted by polars).

A column's type in the file must fit the card's (an integer column for ``int``, any number for
``float``, text for ``string`` and ``hex``): a mismatch is one error naming the file, column and
both types, before any row is read. Values are then checked as the text reader checks them (hex
digits, allowed label values), and a bad value names its 1-based row.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from harness.data.readers.base import (
    SKIP_HINT,
    BadRows,
    Block,
    ReadColumn,
    check_bad_rows,
    check_readable,
    decode_hashes,
    expected_text,
    show_value,
)
from harness.errors import HarnessError

__all__ = ["iter_parquet_blocks", "parquet_columns"]

# Bytes per value assumed when turning a block size in bytes into rows.
_BYTES_PER_VALUE = 8


def _file(path: Path) -> Any:
    import pyarrow.parquet as pq

    check_readable(path)
    try:
        return pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises ArrowInvalid and friends
        raise HarnessError(f"{path.name}: not a readable parquet file ({error})") from None


def parquet_columns(path: Path) -> dict[str, pl.DataType]:
    """The columns of a parquet file and their polars types."""
    empty = pl.from_arrow(_file(Path(path)).schema_arrow.empty_table())
    assert isinstance(empty, pl.DataFrame)
    return dict(empty.schema)


def _fits(dtype: pl.DataType, wanted: str) -> bool:
    """Whether a file column can be read as the card's type.

    Integers also accept floats holding whole numbers (pandas stores an integer column with
    nulls as float64; a fractional value is then a bad row) and date-times (as Unix seconds).
    """
    if wanted == "vector":
        return isinstance(dtype, pl.List | pl.Array) and dtype.inner.is_numeric()
    if wanted in ("int", "int32", "float"):
        return dtype.is_numeric() or dtype == pl.Boolean or dtype.is_temporal()
    return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum | pl.Categorical)


_CASTS: dict[str, pl.DataType] = {
    "int32": pl.Int32(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "string": pl.String(),
    "hex": pl.String(),
}


def iter_parquet_blocks(
    path: Path,
    columns: tuple[ReadColumn, ...],
    *,
    block_bytes: int,
    bad_rows: BadRows = "error",
    missing_values: tuple[str, ...] = (),
) -> Iterator[Block]:
    """Yield typed blocks of a parquet file in row order.

    Raises:
        HarnessError: unreadable file, a column the file lacks or whose type does not fit the
            card, or a bad value (``bad_rows="error"``; the message names the 1-based row).
    """
    check_bad_rows(bad_rows)
    path = Path(path)
    handle = _file(path)
    schema = parquet_columns(path)
    for column in columns:
        if column.name not in schema:
            raise HarnessError(
                f"{path.name}: no column {column.name!r} (columns: {', '.join(schema)})"
            )
        if not _fits(schema[column.name], column.type):
            raise HarnessError(
                f"{path.name}: column {column.name} is {schema[column.name]} in the file, the "
                f"card reads it as {column.type}; change its type in the card"
            )
    total = max(1, int(handle.metadata.num_rows))
    rows = max(1, block_bytes // (_BYTES_PER_VALUE * max(1, len(columns))))
    size = path.stat().st_size
    first_row = 0
    first_line = 1
    names = [c.name for c in columns]
    # Batches row group by row group: one iter_batches over the whole file keeps growing its
    # buffers with the file (measured: +110 MiB from 2M to 8M rows); per group, memory is set by
    # the batch size whatever the file's size or its row groups' sizes.
    batches = (
        batch
        for group in range(handle.metadata.num_row_groups)
        for batch in handle.iter_batches(batch_size=rows, columns=names, row_groups=[group])
    )
    for index, batch in enumerate(batches):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        frame, bad = _convert(frame, columns, missing_values)
        n = frame.height
        skipped = 0
        if bad.any():
            where = np.flatnonzero(bad.any(axis=1))
            if bad_rows == "error":
                row = int(where[0])
                column = columns[int(np.flatnonzero(bad[row])[0])]
                raw = batch.column(column.name)[row].as_py()
                raise HarnessError(
                    f"{path.name} row {first_line + row}: column {column.name} is "
                    f"{show_value(raw)}, expected {expected_text(column)}; {SKIP_HINT}"
                )
            frame = frame.filter(~pl.Series(bad.any(axis=1)))
            skipped = int(where.size)
        yield Block(
            frame=frame,
            index=index,
            first_row=first_row,
            first_line=first_line,
            n_lines=n,
            skipped=skipped,
            bytes_read=int(size * min(1.0, (first_line - 1 + n) / total)),
        )
        first_row += frame.height
        first_line += n
    if first_line == 1:
        raise HarnessError(f"{path.name}: the parquet file has no rows")


def _convert(
    frame: pl.DataFrame, columns: tuple[ReadColumn, ...], missing_values: tuple[str, ...]
) -> tuple[pl.DataFrame, np.ndarray]:
    """Cast to the card's types, and a row x column mask of bad values."""
    out: list[pl.Series] = []
    flags: list[np.ndarray] = []
    for column in columns:
        series = frame[column.name]
        bad = np.zeros(len(series), dtype=bool)
        if column.type in ("string", "hex") and missing_values:
            series = series.cast(pl.String)
            series = series.set(series.is_in(list(missing_values)).fill_null(False), None)
        if series.dtype.is_temporal():
            series = series.dt.epoch("s")
        if column.type == "vector":
            series = series.cast(pl.List(pl.Float32))
            # A row's own fault, so --bad-rows skip can drop it; a vector of another length is
            # not known here (the width comes from the first vector of the whole dataset).
            finite = series.list.eval(pl.element().is_finite().fill_null(False)).list.all()
            bad |= (~finite).fill_null(False).to_numpy()
        elif column.type == "float":
            series = series.cast(pl.Float64).fill_nan(None)
        elif column.type in ("int", "int32"):
            if series.dtype.is_float():  # whole numbers only (a nullable integer column)
                series = series.fill_nan(None)
                bad |= (
                    (series.is_not_null() & (series != series.floor())).fill_null(False).to_numpy()
                )
            cast = series.cast(_CASTS[column.type], strict=False)
            bad |= (cast.is_null() & series.is_not_null()).to_numpy()  # outside the type's range
            series = cast
        else:
            series = series.cast(pl.String)
        if column.type == "hex":
            hashed, hex_bad = decode_hashes(pl.DataFrame([series.alias(column.name)]))
            bad |= hex_bad
            series = hashed[column.name]
        if column.allowed is not None:
            bad |= (~series.is_in(list(column.allowed)).fill_null(False)).to_numpy()
        elif column.required:
            bad |= series.is_null().to_numpy()
        out.append(series.alias(column.name))
        flags.append(bad)
    return pl.DataFrame(out), np.stack(flags, axis=1)
