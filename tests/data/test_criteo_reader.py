"""The raw Criteo reader: exact values, gzip, block boundaries, every bad-input case."""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Callable, Generator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from harness.data.criteo import (
    CATEGORICAL_COLUMNS,
    COLUMNS,
    NUMERIC_COLUMNS,
    TYPED_SCHEMA,
    iter_criteo_blocks,
    read_criteo,
)
from harness.errors import HarnessError

LineBuilder = Callable[..., str]  # the conftest fixtures' types
FileWriter = Callable[..., Path]


@pytest.fixture
def six_lines(criteo_line: LineBuilder) -> list[str]:
    return [
        criteo_line("0", {1: "1", 2: "-3"}, {1: "0000000a", 26: "ffffffff"}),
        criteo_line("1", {1: "", 5: "2147483647"}, {1: "ABCDEF12", 2: "00000000"}),
        criteo_line("0", {13: "-2147483648"}, {}, cat_default="deadbeef"),
        criteo_line("1", {}, {25: "", 26: ""}, cat_default="0000ffff"),  # ends in empty fields
        criteo_line("0", {}, {}, int_default=""),  # all integers missing
        criteo_line("1", {3: "42"}, {3: "12345678"}),
    ]


def test_reads_exact_values(six_lines: list[str], write_criteo: FileWriter) -> None:
    table = read_criteo(write_criteo(six_lines))
    frame = table.frame
    assert table.skipped_rows == 0
    assert frame.columns == list(COLUMNS)
    assert dict(frame.schema) == TYPED_SCHEMA
    assert frame["label"].to_list() == [0, 1, 0, 1, 0, 1]
    assert frame["I1"].to_list() == [1, None, 0, 0, None, 0]
    assert frame["I2"].to_list() == [-3, 0, 0, 0, None, 0]
    assert frame["I5"][1] == 2**31 - 1
    assert frame["I13"][2] == -(2**31)
    assert frame["C1"].to_list() == [10, 0xABCDEF12, 0xDEADBEEF, 0xFFFF, None, None]
    assert frame["C2"].to_list() == [None, 0, 0xDEADBEEF, 0xFFFF, None, None]
    assert frame["C25"].to_list() == [None, None, 0xDEADBEEF, None, None, None]
    assert frame["C26"].to_list() == [0xFFFFFFFF, None, 0xDEADBEEF, None, None, None]
    assert frame["C3"][5] == 0x12345678
    assert frame.select(NUMERIC_COLUMNS).row(4) == (None,) * 13


def test_gzip_is_detected_by_magic_bytes_not_name(
    six_lines: list[str], write_criteo: FileWriter
) -> None:
    plain = read_criteo(write_criteo(six_lines, name="a.txt")).frame
    # A gzip file named .txt and a plain file named .gz: content decides.
    gz = read_criteo(write_criteo(six_lines, name="b.txt", gz=True)).frame
    fake = read_criteo(write_criteo(six_lines, name="c.gz")).frame
    assert plain.equals(gz)
    assert plain.equals(fake)


def test_last_line_without_newline(six_lines: list[str], write_criteo: FileWriter) -> None:
    lines = [*six_lines[:-1], six_lines[-1].rstrip("\n")]
    assert read_criteo(write_criteo(lines)).frame.equals(read_criteo(write_criteo(six_lines)).frame)


@pytest.mark.parametrize("block_bytes", [1, 37, 200, 1000, 1 << 20])
def test_block_size_never_changes_the_result(
    six_lines: list[str], write_criteo: FileWriter, block_bytes: int
) -> None:
    path = write_criteo(six_lines * 7)
    whole = read_criteo(path).frame
    blocks = list(iter_criteo_blocks(path, block_bytes=block_bytes))
    assert pl.concat([b.frame for b in blocks]).equals(whole)
    # Row and line bookkeeping adds up across blocks.
    assert [b.index for b in blocks] == list(range(len(blocks)))
    assert blocks[0].first_row == 0 and blocks[0].first_line == 1
    for before, after in itertools.pairwise(blocks):
        assert after.first_row == before.first_row + before.frame.height
        assert after.first_line == before.first_line + before.n_lines
    assert blocks[-1].bytes_read == path.stat().st_size


def _bad(criteo_line: LineBuilder) -> dict[str, tuple[str, str]]:
    """Bad line -> (text of the line, what the message must say about it)."""
    good = criteo_line("0", {1: "1"}, {1: "0000000a"})
    return {
        "too few fields": (good.replace("\t", "", 1), "expected 40 tab-separated fields, found 39"),
        "too many fields": (
            good.replace("\n", "\t\n"),
            "expected 40 tab-separated fields, found 41",
        ),
        "empty line": ("\n", "found 1"),
        "non-integer": (
            criteo_line("0", {5: "abc"}),
            "column I5 is 'abc', expected a 32-bit integer",
        ),
        "float": (criteo_line("0", {2: "1.5"}), "column I2 is '1.5'"),
        "int overflow": (criteo_line("0", {3: "2147483648"}), "column I3 is '2147483648'"),
        "7-digit hash": (
            criteo_line("0", cats={4: "abcdef1"}),
            "column C4 is 'abcdef1', expected 8",
        ),
        "9-digit hash": (criteo_line("0", cats={4: "abcdef123"}), "column C4 is 'abcdef123'"),
        "non-hex hash": (criteo_line("0", cats={26: "zzzzzzzz"}), "column C26 is 'zzzzzzzz'"),
        "signed hash": (criteo_line("0", cats={7: "+1234567"}), "column C7 is '+1234567'"),
        "negative hash": (criteo_line("0", cats={7: "-1234567"}), "column C7 is '-1234567'"),
        "label 2": (criteo_line("2"), "column label is '2', expected 0 or 1"),
        "empty label": (criteo_line(""), "column label is empty, expected 0 or 1"),
    }


BAD_CASES = [
    "too few fields",
    "too many fields",
    "empty line",
    "non-integer",
    "float",
    "int overflow",
    "7-digit hash",
    "9-digit hash",
    "non-hex hash",
    "signed hash",
    "negative hash",
    "label 2",
    "empty label",
]


@pytest.mark.parametrize("case", BAD_CASES)
@pytest.mark.parametrize("block_bytes", [1 << 20, 150])
def test_bad_row_names_file_line_and_column(
    criteo_line: LineBuilder,
    write_criteo: FileWriter,
    case: str,
    block_bytes: int,
) -> None:
    bad_line, expected = _bad(criteo_line)[case]
    good = [criteo_line("1", {1: str(i)}, {1: f"{i:08x}"}) for i in range(9)]
    path = write_criteo([*good[:6], bad_line, *good[6:]], name="day_7.txt")
    with pytest.raises(HarnessError) as caught:
        read_criteo(path, block_bytes=block_bytes)
    message = str(caught.value)
    assert message.startswith("day_7.txt line 7: "), message
    assert expected in message
    assert "--bad-rows skip" in message
    assert "\n" not in message


@pytest.mark.parametrize("case", BAD_CASES)
def test_skip_drops_and_counts_bad_rows(
    criteo_line: LineBuilder, write_criteo: FileWriter, case: str
) -> None:
    bad_line, _ = _bad(criteo_line)[case]
    good = [criteo_line("1", {1: str(i)}, {1: f"{i:08x}"}) for i in range(9)]
    mixed = [good[0], bad_line, *good[1:5], bad_line, bad_line, *good[5:]]
    clean = read_criteo(write_criteo(good, name="clean.txt")).frame
    for block_bytes in (1 << 20, 100):
        table = read_criteo(
            write_criteo(mixed, name="mixed.txt"), block_bytes=block_bytes, bad_rows="skip"
        )
        assert table.skipped_rows == 3
        assert table.frame.equals(clean)


def test_fast_and_slow_paths_judge_values_alike(
    criteo_line: LineBuilder, write_criteo: FileWriter
) -> None:
    """A block with a bad row takes the slow path; its other rows must parse as in a clean block."""
    lines = [
        criteo_line("1", {5: " 5"}),  # leading space, '+' sign, leading zero: accepted integers
        criteo_line("0", {5: "+2"}),
        criteo_line("01", {5: "07"}),
        criteo_line("1", {5: "abc"}),  # the bad row
    ] * 4
    path = write_criteo(lines)
    whole = read_criteo(path, bad_rows="skip")  # one block, slow path
    small = read_criteo(path, bad_rows="skip", block_bytes=150)  # mostly clean blocks, fast path
    assert whole.skipped_rows == small.skipped_rows == 4
    assert whole.frame.equals(small.frame)
    assert whole.frame["I5"].to_list() == [5, 2, 7] * 4
    assert whole.frame["label"].to_list() == [1, 0, 1] * 4


def test_first_bad_row_wins_when_a_block_has_several(
    criteo_line: LineBuilder, write_criteo: FileWriter
) -> None:
    lines = [criteo_line("0")] * 3
    lines += [criteo_line("0", {5: "x"}), "0\t1\n", criteo_line("5")]
    with pytest.raises(HarnessError, match=r"^train.txt line 4: column I5 is 'x'"):
        read_criteo(write_criteo(lines))
    lines[3] = criteo_line("0")
    with pytest.raises(HarnessError, match=r"^train.txt line 5: expected 40 .* found 2;"):
        read_criteo(write_criteo(lines))


def test_missing_file_directory_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"nope\.txt: file not found"):
        read_criteo(tmp_path / "nope.txt")
    with pytest.raises(HarnessError, match="is a directory"):
        read_criteo(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(HarnessError, match=r"empty\.txt: the file is empty"):
        read_criteo(empty)
    empty_gz = tmp_path / "empty.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    with pytest.raises(HarnessError, match=r"empty\.gz: the file has no rows"):
        read_criteo(empty_gz)


def test_truncated_gzip(six_lines: list[str], tmp_path: Path) -> None:
    data = gzip.compress("".join(six_lines * 50).encode())
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(HarnessError, match=r"cut\.txt\.gz: cannot read the file"):
        read_criteo(path)


def test_invalid_arguments(six_lines: list[str], write_criteo: FileWriter) -> None:
    path = write_criteo(six_lines)
    with pytest.raises(HarnessError, match="block_bytes"):
        read_criteo(path, block_bytes=0)
    with pytest.raises(HarnessError, match="bad_rows"):
        read_criteo(path, bad_rows="ignore")  # type: ignore[arg-type]


def test_stopping_early_releases_the_file(six_lines: list[str], write_criteo: FileWriter) -> None:
    blocks = iter_criteo_blocks(write_criteo(six_lines * 20), block_bytes=100)
    assert isinstance(blocks, Generator)
    first = next(blocks)
    blocks.close()  # the read-ahead thread must stop and the file close
    assert first.frame.height >= 1


@pytest.mark.slow
def test_real_criteo_head(shared_file: Callable[[str], Path]) -> None:
    """10k real rows of the Criteo Kaggle train file (never copied into the repository)."""
    table = read_criteo(shared_file("criteo/train_head10k.txt.gz"))
    frame = table.frame
    assert frame.height == 10_000
    assert table.skipped_rows == 0
    assert frame["label"].value_counts().sort("label")["count"].to_list() == [7818, 2182]
    assert len(NUMERIC_COLUMNS) == 13 and len(CATEGORICAL_COLUMNS) == 26
    assert frame.width == 1 + 13 + 26
    # Real files have missing values in both kinds of fields and negative integers in I2.
    assert frame.select(NUMERIC_COLUMNS).null_count().sum_horizontal().item() > 0
    assert frame.select(CATEGORICAL_COLUMNS).null_count().sum_horizontal().item() > 0
    assert int(np.asarray(frame["I2"].min())) < 0


@pytest.mark.slow
def test_real_criteo_misc_sample(shared_file: Callable[[str], Path]) -> None:
    """179 public sample rows converted back to the raw format (another writer, same format)."""
    frame = read_criteo(shared_file("criteo/misc_public_179.txt.gz")).frame
    assert frame.height == 179
    assert frame["label"].value_counts().sort("label")["count"].to_list() == [137, 42]


@pytest.mark.slow
def test_unlabelled_test_file_is_rejected_with_its_line(
    shared_file: Callable[[str], Path],
) -> None:
    with pytest.raises(HarnessError, match=r"line 1: expected 40 tab-separated fields, found 39"):
        read_criteo(shared_file("criteo/test_head10k_unlabeled.txt.gz"))
