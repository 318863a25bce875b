"""Criteo's raw text (Kaggle ``dac`` and Criteo-1TB day files), read through its card.

The format: one example per line, 40 tab-separated fields, no header: the 0/1 label, 13 integer
fields ``I1..I13`` (empty when missing, may be negative, within 32 bits) and 26 categorical fields
``C1..C26``, each empty or 8 hex digits (a hashed value). ``datasets/criteo.toml`` says exactly
this; the generic delimited reader (`harness.data.readers.delimited`) reads it. This module keeps
Criteo's column names for the synthetic generator and a whole-file reader for small files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from harness.data.card import load_card
from harness.data.readers.base import (
    DEFAULT_BLOCK_BYTES,
    BadRows,
    Block,
    ReadColumn,
    check_readable,
)
from harness.data.readers.delimited import TextLayout, iter_text_blocks, read_whole

__all__ = [
    "CATEGORICAL_COLUMNS",
    "COLUMNS",
    "DEFAULT_BLOCK_BYTES",
    "LABEL_COLUMN",
    "NUMERIC_COLUMNS",
    "TYPED_SCHEMA",
    "BadRows",
    "CriteoBlock",
    "CriteoTable",
    "check_readable",
    "criteo_layout",
    "iter_criteo_blocks",
    "read_criteo",
]

LABEL_COLUMN = "label"
NUMERIC_COLUMNS: tuple[str, ...] = tuple(f"I{i}" for i in range(1, 14))
CATEGORICAL_COLUMNS: tuple[str, ...] = tuple(f"C{i}" for i in range(1, 27))
COLUMNS: tuple[str, ...] = (LABEL_COLUMN, *NUMERIC_COLUMNS, *CATEGORICAL_COLUMNS)

# What a read block holds. Int32 holds every integer seen in Criteo (and x_num is float32
# anyway); a value outside it is reported as a bad row rather than silently wrapped.
TYPED_SCHEMA: dict[str, pl.DataType] = {
    LABEL_COLUMN: pl.UInt8(),
    **{c: pl.Int32() for c in NUMERIC_COLUMNS},
    **{c: pl.UInt32() for c in CATEGORICAL_COLUMNS},
}

CriteoBlock = Block


@dataclass(frozen=True)
class CriteoTable:
    """A whole file read into memory (for small files and tests)."""

    frame: pl.DataFrame
    skipped_rows: int


def criteo_layout() -> TextLayout:
    """The Criteo card's columns as a delimited-text layout (all 40 columns read)."""
    card = load_card("criteo")
    task = card.tasks[0]
    read = [ReadColumn(task.column, "int", allowed=task.values)]
    read += [ReadColumn(c.name, c.type) for c in card.features]
    return TextLayout(names=card.columns, read=tuple(read), separator=card.delimiter)


def iter_criteo_blocks(
    path: Path, *, block_bytes: int = DEFAULT_BLOCK_BYTES, bad_rows: BadRows = "error"
) -> Iterator[Block]:
    """Typed blocks of a raw Criteo file in file order, as ``TYPED_SCHEMA``.

    Raises:
        HarnessError: the file is missing, empty, a directory, unreadable gzip, or has a bad row
            (``bad_rows="error"``); the message names the file and the 1-based line number.
    """
    for block in iter_text_blocks(
        Path(path), criteo_layout(), block_bytes=block_bytes, bad_rows=bad_rows
    ):
        yield dataclasses.replace(block, frame=_typed(block.frame))


def read_criteo(
    path: Path, *, block_bytes: int = DEFAULT_BLOCK_BYTES, bad_rows: BadRows = "error"
) -> CriteoTable:
    """Read a whole Criteo file into one typed frame (see `iter_criteo_blocks`)."""
    frame, skipped = read_whole(
        Path(path), criteo_layout(), block_bytes=block_bytes, bad_rows=bad_rows
    )
    return CriteoTable(frame=_typed(frame), skipped_rows=skipped)


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    """``TYPED_SCHEMA``: the label as UInt8, the columns in file order."""
    return frame.with_columns(pl.col(LABEL_COLUMN).cast(pl.UInt8)).select(COLUMNS)
