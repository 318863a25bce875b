"""Delimited text (Criteo's headerless TSV, CSV with a header), plain or gzip, in typed blocks.

The file is read in byte blocks of bounded size cut at the last record end, so memory is set by
the block size and not by the file size. Each block is checked vectorised: field counts on the
raw bytes (numpy; aware of quoted fields when the block has quote characters), values with
polars casts, hex hashes on polars' string views, label values with ``is_in``. A clean block
takes one typed parse (the fast path); a block with a bad row is parsed again as strings to find
the first bad row, or every bad row with ``bad_rows="skip"`` (the slow path). Both paths judge a
value alike.

Column types (the card's): ``int32``/``int`` (Int32/Int64), ``float`` (Float64), ``string``,
``hex`` (exactly 8 hex digits, decoded to UInt32: group-bys on integers are much faster than on
strings). Empty fields (and the card's ``missing_values``) are missing.
"""

from __future__ import annotations

import csv
import gzip
import io
import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from harness.data.readers.base import (
    SKIP_HINT,
    BadRows,
    Block,
    ReadColumn,
    check_bad_rows,
    decode_hashes,
    expected_text,
    open_checked,
    show_value,
)
from harness.errors import HarnessError

__all__ = ["TextLayout", "iter_text_blocks", "text_columns"]

_GZIP_MAGIC = b"\x1f\x8b"
_PREFETCH = 1  # chunks read ahead
_NEWLINE = 10
_RETURN = 13
# A record may span this many blocks, and at least this many bytes (a quoted field with
# newlines), before an unclosed quote is reported instead of reading the rest of the file into
# one record.
_OPEN_QUOTE_BLOCKS = 4
_OPEN_QUOTE_FLOOR = 16 << 20

_DTYPES: dict[str, pl.DataType] = {
    "int32": pl.Int32(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "string": pl.String(),
    "hex": pl.String(),
}


@dataclass(frozen=True)
class TextLayout:
    """How to read one delimited file.

    Attributes:
        names: every column of the file, in file order.
        read: the columns to parse and their types (others are skipped unparsed).
        separator: one character (tab, comma, ...).
        quote: the quote character, or None (every byte is literal, as in Criteo's TSV).
        header: the first line names the columns (and is skipped).
        missing_values: field texts that mean missing, besides the empty field.
    """

    names: tuple[str, ...]
    read: tuple[ReadColumn, ...]
    separator: str = "\t"
    quote: str | None = None
    header: bool = False
    missing_values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        missing = [c.name for c in self.read if c.name not in self.names]
        if missing:  # a bug: callers check columns against the file first
            raise ValueError(f"columns {missing} not among {self.names}")

    @property
    def described(self) -> str:
        return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(
            self.separator, repr(self.separator)
        )


def _open_text(path: Path) -> tuple[BinaryIO, BinaryIO]:
    raw = open_checked(path)
    if raw.read(2) == _GZIP_MAGIC:
        raw.seek(0)
        return raw, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


def text_columns(path: Path, separator: str, quote: str | None) -> tuple[str, ...]:
    """The column names on a delimited file's first line.

    Raises:
        HarnessError: unreadable or empty file, or a name given twice.
    """
    raw, stream = _open_text(Path(path))
    with raw:
        try:
            line = stream.readline()
        except (OSError, EOFError, zlib.error) as error:
            raise HarnessError(f"{Path(path).name}: cannot read the file ({error})") from error
    # A byte-order mark (Excel's "CSV UTF-8") is not part of the first name.
    text = line.decode("utf-8", errors="replace").removeprefix("\ufeff").rstrip("\r\n")
    if not text:
        raise HarnessError(f"{Path(path).name}: the first line is empty, expected column names")
    row = next(csv.reader(io.StringIO(text), delimiter=separator, quotechar=quote or "\0"))
    twice = sorted({name for name in row if row.count(name) > 1})
    if twice:
        raise HarnessError(
            f"{Path(path).name}: the header names {', '.join(map(repr, twice))} more than once; "
            "rename the repeats so each column has its own name"
        )
    return tuple(row)


def iter_text_blocks(
    path: Path,
    layout: TextLayout,
    *,
    block_bytes: int,
    bad_rows: BadRows = "error",
) -> Iterator[Block]:
    """Yield typed blocks of a delimited file in file order (see the module docstring).

    Raises:
        HarnessError: the file is missing, empty, a directory, unreadable gzip, or has a bad row
            (``bad_rows="error"``); the message names the file and the 1-based line number.
    """
    if block_bytes < 1:
        raise HarnessError(f"block_bytes must be at least 1, got {block_bytes=}")
    check_bad_rows(bad_rows)
    path = Path(path)
    raw, stream = _open_text(path)
    with raw:
        chunks = _Prefetcher(stream, raw, block_bytes, path.name)
        try:
            yield from _blocks(chunks, path.name, layout, bad_rows)
        finally:
            chunks.close()


def _cut(text: bytes, quote: int | None, separator: int) -> int:
    """Index of the last record end (a newline outside quoted fields) in ``text``, or -1."""
    if quote is None or text.find(bytes([quote])) < 0:
        return text.rfind(b"\n")
    ends, _, _ = _record_ends(np.frombuffer(text, dtype=np.uint8), quote, separator)
    return int(ends[-1]) if ends.size else -1


def _split_chunk(
    carry: bytes, chunk: bytes, quote: int | None, separator: int
) -> tuple[bytes, bytes] | None:
    """The complete records of ``carry + chunk`` and the partial last one; None: no record ends.

    One copy per block: without quotes a record ends at every newline, so the chunk is cut
    alone and joined to the carried partial record; with quotes the quote state runs on from the
    carried bytes, so the two are joined first.
    """
    if quote is None:
        cut = chunk.rfind(b"\n")
        if cut < 0:
            return None
        return b"".join((carry, memoryview(chunk)[: cut + 1])), chunk[cut + 1 :]
    pending = carry + chunk if carry else chunk
    cut = _cut(pending, quote, separator)
    if cut < 0:
        return None
    return pending[: cut + 1], pending[cut + 1 :]


def _blocks(
    chunks: _Prefetcher, file_name: str, layout: TextLayout, bad_rows: BadRows
) -> Iterator[Block]:
    """Cut the byte chunks at record ends and parse them into blocks."""
    quote = None if layout.quote is None else ord(layout.quote)
    separator = ord(layout.separator)
    index = 0
    first_row = 0
    first_line = 2 if layout.header else 1
    carry = b""
    saw_data = False
    skip_header = layout.header
    while True:
        chunk, position = chunks.get()
        if chunk:
            if skip_header:
                end = chunk.find(b"\n")
                if end < 0:  # a header longer than the block: keep reading
                    carry += chunk
                    continue
                chunk, skip_header = (carry + chunk)[len(carry) + end + 1 :], False
                carry = b""
                if not chunk:
                    continue
            saw_data = True
            split = _split_chunk(carry, chunk, quote, separator)
            if split is None:  # a record longer than the block: keep reading
                carry += chunk
                limit = max(_OPEN_QUOTE_BLOCKS * chunks.block_bytes, _OPEN_QUOTE_FLOOR)
                if quote is not None and len(carry) > limit:
                    raise HarnessError(
                        f"{file_name} line {first_line}: a quoted field is never closed (no "
                        f"record ends in {max(len(carry) >> 20, 1)} MiB); close the quote or "
                        "remove it"
                    )
                continue
            body, carry = split
        elif carry:
            body, carry = carry + b"\n", b""
            saw_data = True
        else:
            break
        block = _parse_block(body, file_name, first_line, layout, bad_rows)
        yield Block(
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
        what = "no rows after its header" if layout.header else "no rows"
        raise HarnessError(f"{file_name}: the file has {what} (decompressed it is empty)")


class _Prefetcher:
    """Reads (and for gzip, decompresses) the next chunk in a thread while this one is parsed.

    File reads and zlib release the GIL, so this overlaps decompression with parsing. At most
    ``_PREFETCH`` chunks wait in the queue, which bounds the extra memory.
    """

    def __init__(self, stream: BinaryIO, raw: BinaryIO, block_bytes: int, file_name: str) -> None:
        self._stream = stream
        self._raw = raw
        self.block_bytes = block_bytes
        self._file_name = file_name
        self._queue: queue.Queue[tuple[bytes, int, BaseException | None]] = queue.Queue(
            maxsize=_PREFETCH
        )
        self._stop = threading.Event()
        self._end: int | None = None  # the file size once the end was read
        self._thread = threading.Thread(target=self._run, name="text-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._stream.read(self.block_bytes)
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


@dataclass(frozen=True)
class _Parsed:
    frame: pl.DataFrame
    n_lines: int
    skipped: int


def _parse_block(
    body: bytes, file_name: str, first_line: int, layout: TextLayout, bad_rows: BadRows
) -> _Parsed:
    """Parse record-terminated text; check it; drop or report the bad records."""
    n_lines = body.count(b"\n")
    width = len(layout.names)
    quoted = layout.quote is not None and body.find(layout.quote.encode()) >= 0
    if not quoted:
        # polars raises on a record with too many fields; with that excluded, width - 1
        # separators per line on average means exactly that many on every line, without
        # locating a single one. (bytes.count allocates nothing, unlike a numpy comparison.)
        if body.count(layout.separator.encode()) == (width - 1) * n_lines:
            frame = _parse_fast(body, n_lines, layout)
            if frame is not None:
                return _Parsed(frame, n_lines, 0)
    else:
        assert layout.quote is not None
        arr = np.frombuffer(body, dtype=np.uint8)
        ends, outside, stray = _record_ends(arr, ord(layout.quote), ord(layout.separator))
        separators = np.flatnonzero((arr == ord(layout.separator)) & outside)
        fields = np.diff(np.searchsorted(separators, ends), prepend=0) + 1
        if not stray.any() and (fields == width).all():
            frame = _parse_fast(body, len(ends), layout)
            if frame is not None:
                return _Parsed(frame, n_lines, 0)
    return _parse_slow(body, n_lines, file_name, first_line, layout, bad_rows)


def _read(
    body: bytes, layout: TextLayout, types: dict[str, pl.DataType], *, ignore_errors: bool = False
) -> pl.DataFrame:
    schema = {name: types.get(name, pl.String()) for name in layout.names}
    wanted = [c.name for c in layout.read]
    if not body:
        return pl.DataFrame(schema={n: schema[n] for n in wanted})
    # A projection only when some columns are skipped: reading every column is faster without.
    projection = (
        None if len(wanted) == len(layout.names) else [layout.names.index(n) for n in wanted]
    )
    frame = pl.read_csv(
        body,
        has_header=False,
        separator=layout.separator,
        quote_char=layout.quote,
        schema=schema,
        columns=projection,
        null_values=list(layout.missing_values) or None,
        encoding="utf8-lossy",
        raise_if_empty=False,
        ignore_errors=ignore_errors,
    )
    return (
        frame if projection is not None or list(wanted) == frame.columns else frame.select(wanted)
    )


def _typed(layout: TextLayout) -> dict[str, pl.DataType]:
    return {c.name: _DTYPES[c.type] for c in layout.read}


def _parse_fast(body: bytes, n_records: int, layout: TextLayout) -> pl.DataFrame | None:
    """Typed parse of a block whose records all have the right field count; None if anything
    is off."""
    try:
        raw = _read(body, layout, _typed(layout))
    except pl.exceptions.PolarsError:
        return None
    if raw.height != n_records:
        return None
    for column in layout.read:
        series = raw[column.name]
        if (column.required or column.allowed is not None) and series.null_count():
            return None
        if column.allowed is not None and not bool(series.is_in(list(column.allowed)).all()):
            return None
    hex_columns = [c.name for c in layout.read if c.type == "hex"]
    if not hex_columns:
        return raw
    hashed, bad = decode_hashes(raw.select(hex_columns))
    if bad.any():
        return None
    return raw.with_columns(hashed)


def _record_ends(
    arr: np.ndarray, quote: int | None, separator: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Record ends (newlines outside quoted fields), a mask of bytes outside quoted fields, and a
    mask of stray quotes (a quote inside an unquoted field, ``27" monitor``).

    A quote opens a quoted field only at a field's start and closes it only before a
    separator or a line end (a doubled quote "" inside the field does neither); the depth of
    opens minus closes is clipped at 0, so a closing quote without an opening one cannot turn
    the rest of the block inside out.
    """
    if quote is None or not (arr == quote).any():
        none = np.zeros(arr.shape, dtype=bool)
        return np.flatnonzero(arr == _NEWLINE), ~none, none
    q = arr == quote
    before = np.r_[np.uint8(_NEWLINE), arr[:-1]]
    after = np.r_[arr[1:], np.uint8(_NEWLINE)]
    field_start = (before == separator) | (before == _NEWLINE)
    field_end = (after == separator) | (after == _NEWLINE) | (after == _RETURN)
    opening = q & field_start
    closing = q & field_end & ~opening
    walk = np.cumsum(opening.astype(np.int64) - closing.astype(np.int64))
    depth = walk - np.minimum(np.minimum.accumulate(walk), 0)
    outside = depth == 0
    stray = q & ~opening & ~closing & (before != quote) & (after != quote) & outside
    return np.flatnonzero((arr == _NEWLINE) & outside), outside, stray


def _parse_slow(
    body: bytes,
    n_lines: int,
    file_name: str,
    first_line: int,
    layout: TextLayout,
    bad_rows: BadRows,
) -> _Parsed:
    """Locate every bad record of a block (field counts, then values), then raise or drop them."""
    arr = np.frombuffer(body, dtype=np.uint8)
    quote = None if layout.quote is None else ord(layout.quote)
    ends, outside, stray = _record_ends(arr, quote, ord(layout.separator))
    separators = np.flatnonzero((arr == ord(layout.separator)) & outside)
    fields = np.diff(np.searchsorted(separators, ends), prepend=0) + 1
    # An empty line is one empty field: report it as such, never as a record.
    starts = np.concatenate([[0], ends[:-1] + 1]) if ends.size else ends
    fields[ends == starts] = 1
    width = len(layout.names)
    # A record holding a stray quote cannot be parsed: it is bad, like a ragged one.
    quoted_badly = np.zeros(len(ends), dtype=bool)
    if stray.any():
        quoted_badly[np.unique(np.searchsorted(ends, np.flatnonzero(stray)))] = True
    ragged = np.flatnonzero((fields != width) | quoted_badly)
    good_records = np.flatnonzero((fields == width) & ~quoted_badly)
    # The physical line of each record (quoted fields may hold newlines).
    newlines = np.flatnonzero(arr == _NEWLINE)
    record_line = first_line + np.searchsorted(newlines, starts)
    pieces: list[bytes] = []
    begin = 0
    for record in ragged.tolist():
        pieces.append(body[begin : int(starts[record])])
        begin = int(ends[record]) + 1
    pieces.append(body[begin:])
    good_body = b"".join(pieces)

    if bad_rows == "error" and ragged.size and quoted_badly[ragged[0]]:
        raise HarnessError(
            f"{file_name} line {int(record_line[ragged[0]])}: a quote inside an unquoted field; "
            f'quote the whole field (27"" inside "...") or remove the quote; {SKIP_HINT}'
        )
    try:
        strings = _read(good_body, layout, {})
        # Typed columns through the same CSV parser as the fast path (bad values become null),
        # so a value is judged the same whichever path its block takes.
        typed = _read(good_body, layout, _typed(layout), ignore_errors=True)
    except pl.exceptions.PolarsError as error:
        last = first_line + n_lines - 1
        raise HarnessError(
            f"{file_name} lines {first_line}..{last}: cannot parse the block "
            f"({' '.join(str(error).split())[:160]}); check its quoting"
        ) from None
    flags: list[np.ndarray] = []
    columns: list[pl.Series] = []
    for column in layout.read:
        text, value = strings[column.name], typed[column.name]
        if column.type == "hex":
            hashed, bad = decode_hashes(strings.select(column.name))
            value = hashed[column.name]
        elif column.type == "string":
            bad = np.zeros(len(text), dtype=bool)
        else:
            bad = (text.is_not_null() & value.is_null()).to_numpy()
        if column.allowed is not None:
            bad = bad | (~value.is_in(list(column.allowed)).fill_null(False)).to_numpy()
        elif column.required:
            bad = bad | value.is_null().to_numpy()
        flags.append(bad)
        columns.append(value)
    bad_matrix = np.stack(flags, axis=1) if flags else np.zeros((strings.height, 0), dtype=bool)
    bad_value = bad_matrix.any(axis=1)
    bad_value_records = good_records[bad_value]
    if bad_rows == "error":
        first_ragged = int(ragged[0]) if ragged.size else len(ends)
        first_value = int(bad_value_records[0]) if bad_value_records.size else len(ends)
        if first_ragged < first_value:
            raise HarnessError(
                f"{file_name} line {int(record_line[first_ragged])}: expected {width} "
                f"{layout.described}-separated fields, found {int(fields[first_ragged])}; "
                f"{SKIP_HINT}"
            )
        if first_value < len(ends):
            row = int(np.flatnonzero(bad_value)[0])
            column = layout.read[int(np.flatnonzero(bad_matrix[row])[0])]
            shown = show_value(strings[row, column.name])
            raise HarnessError(
                f"{file_name} line {int(record_line[first_value])}: column {column.name} is "
                f"{shown}, expected {expected_text(column)}; {SKIP_HINT}"
            )
    frame = pl.DataFrame(columns).filter(~pl.Series(bad_value))
    return _Parsed(frame, n_lines, int(ragged.size) + int(bad_value.sum()))


def read_whole(
    path: Path, layout: TextLayout, *, block_bytes: int, bad_rows: BadRows = "error"
) -> tuple[pl.DataFrame, int]:
    """A whole (small) file as one frame, and the rows skipped."""
    frames: list[pl.DataFrame] = []
    skipped = 0
    for block in iter_text_blocks(path, layout, block_bytes=block_bytes, bad_rows=bad_rows):
        frames.append(block.frame)
        skipped += block.skipped
    return pl.concat(frames, how="vertical", rechunk=True), skipped
