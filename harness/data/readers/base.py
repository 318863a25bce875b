"""What every reader yields (`Block`), how it is told what to read (`ReadColumn`), and the
checks and messages the readers share."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import polars as pl

from harness.errors import HarnessError

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "SKIP_HINT",
    "BadRows",
    "Block",
    "ReadColumn",
    "check_bad_rows",
    "check_readable",
    "decode_hashes",
    "expected_text",
    "open_checked",
    "show_value",
]

BadRows = Literal["error", "skip"]
# Bytes parsed at a time: sets peak memory (a small multiple of it), never the result.
DEFAULT_BLOCK_BYTES = 32 * 1024 * 1024
SKIP_HINT = "fix the row or pass --bad-rows skip"
READ_TYPES = ("int32", "int", "float", "string", "hex", "vector")


@dataclass(frozen=True)
class ReadColumn:
    """A column to read: its type, the values it may hold, and whether it may be missing.

    Types: ``int32`` (Int32: Criteo's counts), ``int`` (Int64), ``float`` (Float64), ``string``,
    ``hex`` (exactly 8 hex digits, decoded to UInt32), ``vector`` (parquet only: a list of
    numbers, read as List(Float32); its length is checked after the parse, across all shards).
    ``allowed`` (labels) implies required.
    """

    name: str
    type: str
    allowed: tuple[int | float | str, ...] | None = None
    required: bool = False

    def __post_init__(self) -> None:
        if self.type not in READ_TYPES:
            raise ValueError(f"{self.name}: type must be one of {READ_TYPES}, got {self.type=}")


@dataclass(frozen=True)
class Block:
    """One parsed block: typed rows plus where they sit in the file.

    Attributes:
        frame: the kept rows, one column per `ReadColumn` (nulls where a value is missing).
        index: 0-based block number.
        first_row: 0-based index of the block's first kept row in the file (skipped rows not
            counted); split protocols assign rows by their global index.
        first_line: 1-based line (text) or row (parquet) of the block's first line in the file.
        n_lines: lines the block covers, kept and skipped.
        skipped: bad rows dropped from this block (only with ``bad_rows="skip"``).
        bytes_read: bytes of the file consumed so far (compressed bytes for gzip), for progress.
    """

    frame: pl.DataFrame
    index: int
    first_row: int
    first_line: int
    n_lines: int
    skipped: int
    bytes_read: int


def check_bad_rows(bad_rows: str) -> None:
    if bad_rows not in ("error", "skip"):
        raise HarnessError(f"bad_rows must be 'error' or 'skip', got {bad_rows=}")


def check_readable(path: Path) -> os.stat_result:
    """The file's stat, or a one-line HarnessError when it is missing, a directory or empty."""
    if path.is_dir():
        raise HarnessError(f"{path}: is a directory, expected a data file")
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise HarnessError(f"{path}: file not found; check the path to the data file") from None
    except OSError as error:
        raise HarnessError(f"{path}: cannot read ({error.strerror})") from error
    if stat.st_size == 0:
        raise HarnessError(f"{path.name}: the file is empty, expected rows")
    return stat


def open_checked(path: Path) -> BinaryIO:
    check_readable(path)
    try:
        return path.open("rb")
    except OSError as error:
        raise HarnessError(f"{path}: cannot open ({error.strerror})") from error


def decode_hashes(strings: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """Hex hash columns -> UInt32 (null where empty) and a row mask of malformed values.

    polars parses the digits; what it accepts beyond 8 hex digits (other lengths, a leading '+')
    is caught on the string-view buffer: polars stores strings of at most 12 bytes inline in each
    16-byte view (4 bytes length, then the bytes), so the checks are numpy reads, no per-value call.
    A missing value is null, so its view is all zeros (length 0).
    """
    hashed = strings.select(
        pl.col(c).str.to_integer(base=16, strict=False).cast(pl.UInt32, strict=False)
        for c in strings.columns
    )
    bad = np.zeros(strings.height, dtype=bool)
    for name in strings.columns:
        raw = strings[name]
        if hashed[name].null_count() != raw.null_count():
            bad |= (hashed[name].is_null() & raw.is_not_null()).to_numpy()
        start = 0
        for chunk in raw.get_chunks():  # the reader's chunks, read in place (no rechunk)
            array = chunk.to_arrow(compat_level=pl.CompatLevel.newest())
            views = np.frombuffer(array.buffers()[1], dtype=np.uint32).reshape(-1, 4)
            views = views[array.offset : array.offset + len(array)]
            lengths = views[:, 0]
            first_bytes = views[:, 1] & np.uint32(0xFF)
            stop = start + len(array)
            bad[start:stop] |= ((lengths != 8) & (lengths != 0)) | (first_bytes == ord("+"))
            start = stop
    return hashed, bad


def expected_text(column: ReadColumn) -> str:
    """What a valid value of ``column`` looks like, for messages."""
    if column.allowed is not None:
        shown = [repr(v) if isinstance(v, str) else str(v) for v in column.allowed]
        return " or ".join(shown) if len(shown) == 2 else "one of " + ", ".join(shown)
    what = {
        "int32": "a 32-bit integer",
        "int": "an integer",
        "float": "a number",
        "string": "text",
        "hex": "8 hex digits",
        "vector": "a list of numbers, none missing or infinite",
    }[column.type]
    return what if column.required else f"{what} or empty"


def show_value(value: object) -> str:
    return "empty" if value is None else repr(value)
