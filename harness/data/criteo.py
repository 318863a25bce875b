"""Read raw Criteo text (Kaggle ``dac`` and Criteo-1TB day files) into typed polars blocks.

The format: one example per line, 40 tab-separated fields, no header: the 0/1 label, 13 integer
fields ``I1..I13`` (empty when missing, may be negative) and 26 categorical fields ``C1..C26``, each
empty or 8 hex digits (a hashed value). Files are plain text or gzip, told apart by magic bytes.

The file is read in byte blocks of bounded size cut at the last newline, so memory is set by the
block size and not by the file size. Each block is checked vectorised (field counts with numpy on
the raw bytes, values with polars casts) and converted early: hashes become ``UInt32``, because
group-bys and joins on integers are much faster than on strings.
"""

from __future__ import annotations

import gzip
import os
import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import polars as pl

from harness.errors import HarnessError

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
    "iter_criteo_blocks",
    "read_criteo",
]

BadRows = Literal["error", "skip"]

LABEL_COLUMN = "label"
NUMERIC_COLUMNS: tuple[str, ...] = tuple(f"I{i}" for i in range(1, 14))
CATEGORICAL_COLUMNS: tuple[str, ...] = tuple(f"C{i}" for i in range(1, 27))
COLUMNS: tuple[str, ...] = (LABEL_COLUMN, *NUMERIC_COLUMNS, *CATEGORICAL_COLUMNS)
N_TABS = len(COLUMNS) - 1

# What every block is converted to. Int32 holds every integer seen in Criteo (and x_num is float32
# anyway); a value outside it is reported as a bad row rather than silently wrapped.
TYPED_SCHEMA: dict[str, pl.DataType] = {
    LABEL_COLUMN: pl.UInt8(),
    **{c: pl.Int32() for c in NUMERIC_COLUMNS},
    **{c: pl.UInt32() for c in CATEGORICAL_COLUMNS},
}

DEFAULT_BLOCK_BYTES = 32 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_PREFETCH = 1  # chunks read ahead
_NEWLINE = 10
_TAB = 9
_SKIP_HINT = "fix the row or pass --bad-rows skip"

# The fast path reads integers natively; strings only for the hash columns.
_READ_SCHEMA: dict[str, pl.DataType] = {
    LABEL_COLUMN: pl.Int32(),
    **{c: pl.Int32() for c in NUMERIC_COLUMNS},
    **{c: pl.String() for c in CATEGORICAL_COLUMNS},
}
_STRING_SCHEMA: dict[str, pl.DataType] = {c: pl.String() for c in COLUMNS}


@dataclass(frozen=True)
class CriteoBlock:
    """One parsed block: typed rows plus where they sit in the file.

    Attributes:
        frame: the kept rows, typed as ``TYPED_SCHEMA`` (nulls where a field was empty).
        index: 0-based block number.
        first_row: global 0-based index of the block's first kept row (skipped rows not counted);
            split protocols assign rows by this index.
        first_line: 1-based line number in the file of the block's first line.
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


@dataclass(frozen=True)
class CriteoTable:
    """A whole file read into memory (for small files and tests)."""

    frame: pl.DataFrame
    skipped_rows: int


def iter_criteo_blocks(
    path: Path,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    bad_rows: BadRows = "error",
) -> Iterator[CriteoBlock]:
    """Yield typed blocks of a raw Criteo file in file order.

    Args:
        path: a plain or gzip Criteo text file.
        block_bytes: (uncompressed) bytes read per block; a line longer than this still becomes
            one block. Peak memory is a small multiple of it.
        bad_rows: ``"error"`` raises on the first bad row; ``"skip"`` drops and counts bad rows.

    Raises:
        HarnessError: the file is missing, empty, a directory, unreadable gzip, or has a bad row
            (``bad_rows="error"``); the message names the file and the 1-based line number.
    """
    if block_bytes < 1:
        raise HarnessError(f"block_bytes must be at least 1, got {block_bytes=}")
    if bad_rows not in ("error", "skip"):
        raise HarnessError(f"bad_rows must be 'error' or 'skip', got {bad_rows=}")
    path = Path(path)
    raw = _open_checked(path)
    with raw:
        stream: BinaryIO = raw
        if raw.read(2) == _GZIP_MAGIC:
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        else:
            raw.seek(0)
        chunks = _Prefetcher(stream, raw, block_bytes, path.name)
        try:
            yield from _blocks(chunks, path.name, bad_rows)
        finally:
            chunks.close()


def _blocks(chunks: _Prefetcher, file_name: str, bad_rows: BadRows) -> Iterator[CriteoBlock]:
    """Cut the byte chunks at newlines and parse them into blocks."""
    index = 0
    first_row = 0
    first_line = 1
    carry = b""
    saw_data = False
    while True:
        chunk, position = chunks.get()
        if chunk:
            saw_data = True
            cut = chunk.rfind(b"\n")
            if cut < 0:  # a line longer than the block: keep reading
                carry += chunk
                continue
            # One copy per block: the carried partial line joins the chunk up to its last
            # newline; the chunk's own partial last line is carried on.
            body = carry + chunk[: cut + 1] if carry else chunk[: cut + 1]
            carry = chunk[cut + 1 :]
        elif carry:
            body, carry = carry + b"\n", b""
        else:
            break
        block = _parse_block(body, file_name, first_line, bad_rows)
        yield CriteoBlock(
            frame=block.frame,
            index=index,
            first_row=first_row,
            first_line=first_line,
            n_lines=block.n_lines,
            skipped=block.skipped,
            bytes_read=position,
        )
        index += 1
        first_row += block.frame.height
        first_line += block.n_lines
    if not saw_data:
        raise HarnessError(f"{file_name}: the file has no rows (decompressed it is empty)")


class _Prefetcher:
    """Reads (and for gzip, decompresses) the next chunk in a thread while this one is parsed.

    File reads and zlib release the GIL, so this overlaps decompression with parsing. At most
    ``_PREFETCH`` chunks wait in the queue, which bounds the extra memory.
    """

    def __init__(self, stream: BinaryIO, raw: BinaryIO, block_bytes: int, file_name: str) -> None:
        self._stream = stream
        self._raw = raw
        self._block_bytes = block_bytes
        self._file_name = file_name
        self._queue: queue.Queue[tuple[bytes, int, BaseException | None]] = queue.Queue(
            maxsize=_PREFETCH
        )
        self._stop = threading.Event()
        self._end: int | None = None  # the file size once the end was read
        self._thread = threading.Thread(target=self._run, name="criteo-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._stream.read(self._block_bytes)
                self._put((chunk, self._raw.tell(), None))
                if not chunk:
                    return
        except BaseException as error:  # handed to the consumer, which re-raises it
            self._put((b"", 0, error))

    def _put(self, item: tuple[bytes, int, BaseException | None]) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self) -> tuple[bytes, int]:
        """The next chunk (empty at the end, and on every call after) and the file position."""
        if self._end is not None:
            return b"", self._end
        chunk, position, error = self._queue.get()
        if isinstance(error, (OSError, EOFError, zlib.error)):
            raise HarnessError(
                f"{self._file_name}: cannot read the file ({error}); is the gzip file truncated?"
            ) from error
        if error is not None:
            raise error
        if not chunk:
            self._end = position
        return chunk, position

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def read_criteo(
    path: Path, *, block_bytes: int = DEFAULT_BLOCK_BYTES, bad_rows: BadRows = "error"
) -> CriteoTable:
    """Read a whole Criteo file into one typed frame (see `iter_criteo_blocks`)."""
    frames: list[pl.DataFrame] = []
    skipped = 0
    for block in iter_criteo_blocks(path, block_bytes=block_bytes, bad_rows=bad_rows):
        frames.append(block.frame)
        skipped += block.skipped
    return CriteoTable(frame=pl.concat(frames, how="vertical", rechunk=True), skipped_rows=skipped)


def check_readable(path: Path) -> os.stat_result:
    """The file's stat, or a one-line HarnessError when it is missing, a directory or empty."""
    if path.is_dir():
        raise HarnessError(f"{path}: is a directory, expected a Criteo text file (plain or gzip)")
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise HarnessError(
            f"{path}: file not found; check the path to the Criteo text file"
        ) from None
    except OSError as error:
        raise HarnessError(f"{path}: cannot read ({error.strerror})") from error
    if stat.st_size == 0:
        raise HarnessError(f"{path.name}: the file is empty, expected Criteo rows")
    return stat


def _open_checked(path: Path) -> BinaryIO:
    check_readable(path)
    try:
        return path.open("rb")
    except OSError as error:
        raise HarnessError(f"{path}: cannot open ({error.strerror})") from error


@dataclass(frozen=True)
class _Parsed:
    frame: pl.DataFrame
    n_lines: int
    skipped: int


def _parse_block(body: bytes, file_name: str, first_line: int, bad_rows: BadRows) -> _Parsed:
    """Parse newline-terminated lines; check them; drop or report the bad ones."""
    n_lines = body.count(b"\n")
    # polars raises on a line with too many fields; with that excluded, 39 tabs per line on
    # average means exactly 39 on every line, without locating a single tab. (bytes.count
    # allocates nothing, unlike a numpy comparison over the block.)
    if body.count(b"\t") == N_TABS * n_lines:
        frame = _parse_fast(body, n_lines)
        if frame is not None:
            return _Parsed(frame, n_lines, 0)
    arr = np.frombuffer(body, dtype=np.uint8)
    return _parse_slow(arr, body, n_lines, file_name, first_line, bad_rows)


def _parse_slow(
    arr: np.ndarray, body: bytes, n_lines: int, file_name: str, first_line: int, bad_rows: BadRows
) -> _Parsed:
    """Locate every bad line of a block (field counts, then values), then raise or drop them."""
    ends = np.flatnonzero(arr == _NEWLINE)
    tab_positions = np.flatnonzero(arr == _TAB)
    tabs = np.diff(np.searchsorted(tab_positions, ends), prepend=0)
    ragged = np.flatnonzero(tabs != N_TABS)
    good_lines = np.flatnonzero(tabs == N_TABS)
    pieces: list[bytes] = []
    begin = 0
    for line in ragged.tolist():
        pieces.append(body[begin : (int(ends[line - 1]) + 1 if line else 0)])
        begin = int(ends[line]) + 1
    pieces.append(body[begin:])
    good_body = b"".join(pieces)

    strings = _read(good_body, _STRING_SCHEMA)
    # Integers through the same CSV parser as the fast path (bad values become null), so a value
    # is judged the same whichever path its block takes.
    typed = _read(good_body, _READ_SCHEMA, ignore_errors=True)
    flags: dict[str, np.ndarray] = {}
    label = typed[LABEL_COLUMN]
    flags[LABEL_COLUMN] = (~label.is_in([0, 1]).fill_null(False)).to_numpy()
    for c in NUMERIC_COLUMNS:
        flags[c] = (strings[c].is_not_null() & typed[c].is_null()).to_numpy()
    hashes: dict[str, pl.Series] = {}
    for c in CATEGORICAL_COLUMNS:
        hashed, flags[c] = _decode_hashes(strings.select(c))
        hashes[c] = hashed[c]
    bad_matrix = np.stack([flags[c] for c in COLUMNS], axis=1)
    bad_value = bad_matrix.any(axis=1)
    bad_value_lines = good_lines[bad_value]
    if bad_rows == "error":
        first_ragged = int(ragged[0]) if ragged.size else n_lines
        first_value = int(bad_value_lines[0]) if bad_value_lines.size else n_lines
        if first_ragged < first_value:
            raise HarnessError(
                f"{file_name} line {first_line + first_ragged}: expected {len(COLUMNS)} "
                f"tab-separated fields, found {int(tabs[first_ragged]) + 1}; {_SKIP_HINT}"
            )
        if first_value < n_lines:
            row = int(np.flatnonzero(bad_value)[0])
            column = COLUMNS[int(np.flatnonzero(bad_matrix[row])[0])]
            raise HarnessError(
                _value_message(column, strings[row, column], file_name, first_line + first_value)
            )
    frame = pl.DataFrame(
        [
            label.cast(pl.UInt8, strict=False),
            *(typed[c] for c in NUMERIC_COLUMNS),
            *(hashes[c] for c in CATEGORICAL_COLUMNS),
        ]
    ).filter(~pl.Series(bad_value))
    return _Parsed(frame, n_lines, int(ragged.size) + int(bad_value.sum()))


def _read(
    body: bytes, schema: dict[str, pl.DataType], *, ignore_errors: bool = False
) -> pl.DataFrame:
    if not body:
        return pl.DataFrame(schema=schema)
    return pl.read_csv(
        body,
        has_header=False,
        separator="\t",
        quote_char=None,
        schema=schema,
        encoding="utf8-lossy",
        raise_if_empty=False,
        ignore_errors=ignore_errors,
    )


def _parse_fast(body: bytes, n_lines: int) -> pl.DataFrame | None:
    """Typed parse of a block whose lines all have 40 fields; None when anything is off."""
    try:
        raw = _read(body, _READ_SCHEMA)
    except pl.exceptions.PolarsError:
        return None
    if raw.height != n_lines:
        return None
    label = raw[LABEL_COLUMN]
    if label.null_count() or not bool(label.is_in([0, 1]).all()):
        return None
    hashed, bad = _decode_hashes(raw.select(CATEGORICAL_COLUMNS))
    if bad.any():
        return None
    return pl.concat([raw.select(label.cast(pl.UInt8), *NUMERIC_COLUMNS), hashed], how="horizontal")


def _decode_hashes(strings: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
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
        for chunk in raw.get_chunks():  # the CSV reader's chunks, read in place (no rechunk)
            array = chunk.to_arrow(compat_level=pl.CompatLevel.newest())
            views = np.frombuffer(array.buffers()[1], dtype=np.uint32).reshape(-1, 4)
            views = views[array.offset : array.offset + len(array)]
            lengths = views[:, 0]
            first_bytes = views[:, 1] & np.uint32(0xFF)
            stop = start + len(array)
            bad[start:stop] |= ((lengths != 8) & (lengths != 0)) | (first_bytes == ord("+"))
            start = stop
    return hashed, bad


def _value_message(column: str, value: str | None, file_name: str, line: int) -> str:
    shown = "empty" if value is None else repr(value)
    if column == LABEL_COLUMN:
        expected = "0 or 1"
    elif column in NUMERIC_COLUMNS:
        expected = "a 32-bit integer or empty"
    else:
        expected = "8 hex digits or empty"
    return f"{file_name} line {line}: column {column} is {shown}, expected {expected}; {_SKIP_HINT}"
