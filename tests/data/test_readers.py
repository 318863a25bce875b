"""The delimited-text and parquet readers, through the card's `TableReader` and
`prepare_dataset`: values, missing values, bad rows and their messages, block-size invariance."""

from __future__ import annotations

import gzip
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from harness.data.card import DatasetCard, parse_card
from harness.data.preprocess import DataFiles, PreprocessConfig, prepare_dataset
from harness.data.readers import delimited
from harness.data.readers.base import ReadColumn
from harness.data.readers.delimited import TextLayout, read_whole
from harness.data.table import TableReader
from harness.errors import HarnessError

MIB = 1 << 20
HINT = "fix the row or pass --bad-rows skip"


def _card(fmt: str = "csv", **changes: Any) -> DatasetCard:
    raw: dict[str, Any] = {
        "name": "t",
        "format": fmt,
        "files": [f"t.{fmt}"],
        "tasks": {"y": {"column": "y"}},
        "numeric": {"int": ["n"]},
        "categorical": {"string": ["s"]},
    }
    raw.update(changes)
    return parse_card(raw, path="t.toml")


def _read(
    card: DatasetCard, path: Path, *, block_bytes: int = MIB, bad_rows: str = "error"
) -> tuple[pl.DataFrame, int]:
    """Every canonical row of ``path`` as one frame, and the rows skipped."""
    blocks = list(
        TableReader(card, path).blocks(block_bytes=block_bytes, bad_rows=bad_rows)  # type: ignore[arg-type]
    )
    return pl.concat([b.frame for b in blocks], rechunk=True), sum(b.skipped for b in blocks)


def _write(path: Path, text: str, *, gz: bool = False) -> Path:
    data = text.encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def _hashes(*values: str | None) -> list[int | None]:
    """The canonical keys of string values (a polars hash; null stays null)."""
    series = pl.Series(list(values), dtype=pl.String)
    return (
        pl.select(
            pl.when(pl.lit(series).is_null()).then(None).otherwise(pl.lit(series).hash(seed=0))
        )
        .to_series()
        .to_list()
    )


def _raise(card: DatasetCard, path: Path, **kw: Any) -> str:
    with pytest.raises(HarnessError) as info:
        _read(card, path, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- CSV: quotes, line numbers, messages -------------------------------------------------------

QUOTED = 'n,s,y\n1,"a, b",0\n2,"line1\nline2",1\n3,"say ""hi""",0\n4,plain,1\n'


@pytest.mark.parametrize("block_bytes", [1, 7, 64, MIB])
def test_quoted_commas_newlines_and_doubled_quotes(tmp_path: Path, block_bytes: int) -> None:
    path = _write(tmp_path / "t.csv", QUOTED)
    layout = TextLayout(
        names=("n", "s", "y"),
        read=(ReadColumn("n", "int"), ReadColumn("s", "string"), ReadColumn("y", "int")),
        separator=",",
        quote='"',
        header=True,
    )
    frame, skipped = read_whole(path, layout, block_bytes=block_bytes)
    assert skipped == 0
    assert frame["n"].to_list() == [1, 2, 3, 4]
    assert frame["s"].to_list() == ["a, b", "line1\nline2", 'say "hi"', "plain"]
    assert frame["y"].to_list() == [0, 1, 0, 1]
    # Through the card: the same strings become their keys.
    canonical, _ = _read(_card(), path, block_bytes=block_bytes)
    assert canonical["s"].to_list() == _hashes("a, b", "line1\nline2", 'say "hi"', "plain")
    assert canonical["__task:y"].to_list() == [0, 1, 0, 1]


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf" + QUOTED.encode())  # Excel's "CSV UTF-8"
    frame, skipped = _read(_card(), path)
    assert skipped == 0
    assert frame["n"].to_list() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "n,s,n,y\n1,a,2,0\n",
            "t.csv: the header names 'n' more than once; rename the repeats so each column has "
            "its own name",
        ),
        (  # an unclosed quote: one error, not the rest of the file read into one record
            'n,s,y\n1,"never closed,0\n' + "2,x,1\n" * 400_000,
            "t.csv line 2: a quoted field is never closed (no record ends in 1 MiB); close the "
            "quote or remove it",
        ),
    ],
)
def test_a_malformed_file_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.setattr(delimited, "_OPEN_QUOTE_FLOOR", 1 << 20)
    path = _write(tmp_path / "t.csv", text)
    assert _raise(_card(), path, block_bytes=1 << 16) == message


@pytest.mark.parametrize("block_bytes", [1, 7, 64, MIB])
def test_a_stray_quote_is_a_bad_row(tmp_path: Path, block_bytes: int) -> None:
    text = 'n,s,y\n1,a,0\n2,27" monitor,1\n3,"b, c",0\n'
    path = _write(tmp_path / "t.csv", text)
    message = _raise(_card(), path, block_bytes=block_bytes)
    assert message == (
        't.csv line 3: a quote inside an unquoted field; quote the whole field (27"" inside '
        f'"...") or remove the quote; {HINT}'
    )
    frame, skipped = _read(_card(), path, block_bytes=block_bytes, bad_rows="skip")
    assert skipped == 1
    assert frame["n"].to_list() == [1, 3]
    assert frame["s"].to_list() == _hashes("a", "b, c")


@pytest.mark.parametrize("block_bytes", [1, 7, 64, MIB])
def test_line_numbers_count_the_newlines_inside_quotes(tmp_path: Path, block_bytes: int) -> None:
    # header = line 1; row 1 = line 2; row 2 = lines 3-4; row 3 = lines 5-7; row 4 = line 8.
    text = 'n,s,y\n1,"a, b",0\n2,"x\ny",1\n3,"p\nq\nr",0\n4,z,zz\n'
    path = _write(tmp_path / "t.csv", text)
    message = _raise(_card(), path, block_bytes=block_bytes)
    assert message == f"t.csv line 8: column y is 'zz', expected 0 or 1; {HINT}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n,s,y\n1,a,0\nx,b,1\n", "t.csv line 3: column n is 'x', expected an integer or empty"),
        ("n,s,y\n1,a,0\n2.5,b,1\n", "t.csv line 3: column n is '2.5', expected an integer or"),
        ("n,s,y\n1,a,0\n1,b,2\n", "t.csv line 3: column y is '2', expected 0 or 1"),
        ("n,s,y\n1,a,0\n1,b,\n", "t.csv line 3: column y is empty, expected 0 or 1"),
        ("n,s,y\n1,a,0\n2,b\n", "t.csv line 3: expected 3 comma-separated fields, found 2"),
        ("n,s,y\n1,a,0\n2,b,1,9\n", "t.csv line 3: expected 3 comma-separated fields, found 4"),
        # One line short and one long: the separator total is right, the rows are not.
        ("n,s,y\n1,a\n2,b,1,9\n", "t.csv line 2: expected 3 comma-separated fields, found 2"),
        ("n,s,y\n1,a,0\n\n2,b,1\n", "t.csv line 3: expected 3 comma-separated fields, found 1"),
    ],
)
@pytest.mark.parametrize("block_bytes", [8, MIB])
def test_a_bad_row_names_file_line_and_column(
    tmp_path: Path, text: str, message: str, block_bytes: int
) -> None:
    path = _write(tmp_path / "t.csv", text)
    got = _raise(_card(), path, block_bytes=block_bytes)
    assert got.startswith(message), got
    assert got.endswith(HINT)


@pytest.mark.parametrize(
    ("changes", "value", "expected"),
    [
        ({"numeric": {"int32": ["n"]}}, "3000000000", "a 32-bit integer or empty"),
        ({"numeric": {"float": ["n"]}}, "abc", "a number or empty"),
        ({"numeric": {"int": ["n"]}}, "9223372036854775808", "an integer or empty"),
    ],
)
def test_a_value_that_does_not_fit_its_type_is_a_bad_row(
    tmp_path: Path, changes: dict[str, Any], value: str, expected: str
) -> None:
    path = _write(tmp_path / "t.csv", f"n,s,y\n1,a,0\n{value},b,1\n")
    got = _raise(_card(**changes), path)
    assert got == f"t.csv line 3: column n is '{value}', expected {expected}; {HINT}"


def test_hex_values_are_exactly_8_hex_digits(tmp_path: Path) -> None:
    card = _card(categorical={"hex": ["s"]})
    good = _write(tmp_path / "t.csv", "n,s,y\n1,0000000a,0\n2,FFFFFFFF,1\n3,,0\n")
    frame, _ = _read(card, good)
    assert frame["s"].to_list() == [10, 0xFFFFFFFF, None]
    assert frame["s"].dtype == pl.UInt32
    for bad in ("0000000", "000000000", "+000000a", "0000000g"):
        path = _write(tmp_path / "t.csv", f"n,s,y\n1,0000000a,0\n2,{bad},1\n")
        assert _raise(card, path) == (
            f"t.csv line 3: column s is '{bad}', expected 8 hex digits or empty; {HINT}"
        )


BAD_ROWS = (
    "n,s,y\n"
    "1,a,0\n"  # kept
    "x,b,1\n"  # bad value
    "2,c\n"  # too few fields
    '3,"d\ne",1\n'  # kept (quoted newline)
    "4,f,1,9\n"  # too many fields
    "5,g,7\n"  # label outside values
    "6,h,1\n"  # kept
)


@pytest.mark.parametrize("block_bytes", [5, 16, MIB])
def test_bad_rows_skip_drops_and_counts_them(tmp_path: Path, block_bytes: int) -> None:
    path = _write(tmp_path / "t.csv", BAD_ROWS)
    frame, skipped = _read(_card(), path, block_bytes=block_bytes, bad_rows="skip")
    assert skipped == 4
    assert frame["n"].to_list() == [1, 3, 6]
    assert frame["s"].to_list() == _hashes("a", "d\ne", "h")
    assert frame["__task:y"].to_list() == [0, 1, 1]


def test_bad_rows_skip_through_prepare_dataset(tmp_path: Path) -> None:
    good = "".join(f"{i},v{i % 3},{i % 2}\n" for i in range(20))
    path = _write(tmp_path / "t.csv", "n,s,y\n" + good + "x,b,1\n2,c\n" + good)
    config = PreprocessConfig(bad_rows="skip", min_count=1)
    dataset = prepare_dataset(_card(), path, config, cache_root=tmp_path / "c", progress=False)
    assert dataset.skipped_rows == 2
    assert sum(dataset.split(s).n_rows for s in ("train", "valid", "test")) == 40
    with pytest.raises(HarnessError, match=r"t\.csv line 22: column n is 'x'"):
        prepare_dataset(_card(), path, PreprocessConfig(), cache_root=tmp_path / "c2")


def _messy_csv(rows: int, seed: int) -> str:
    """Rows with quoted commas, quoted newlines, doubled quotes and missing values."""
    rng = np.random.default_rng(seed)
    lines = ["n,s,y"]
    pieces = ["a", "b, c", "line\nbreak", 'q ""x""', "", "long text " * 5]
    for i in range(rows):
        n = "" if rng.random() < 0.1 else str(int(rng.integers(-1000, 1000)))
        piece = pieces[int(rng.integers(len(pieces)))]
        s = f'"{piece}"' if any(c in piece for c in ',\n"') else piece
        lines.append(f"{n},{s},{i % 2}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("gz", [False, True])
def test_block_size_never_changes_the_result(tmp_path: Path, gz: bool) -> None:
    path = _write(tmp_path / "t.csv", _messy_csv(150, seed=1), gz=gz)
    frames = [_read(_card(), path, block_bytes=b)[0] for b in (1, 64, 999, MIB)]
    assert frames[0].height == 150
    for frame in frames[1:]:
        assert frame.equals(frames[0])


def test_block_size_never_changes_the_skipped_rows(tmp_path: Path) -> None:
    text = _messy_csv(200, seed=2) + "x,b,1\n1,\n" + _messy_csv(50, seed=3).split("\n", 1)[1]
    path = _write(tmp_path / "t.csv", text)
    results = [_read(_card(), path, block_bytes=b, bad_rows="skip") for b in (3, 64, MIB)]
    for frame, skipped in results:
        assert skipped == 2 and frame.height == 250
        assert frame.equals(results[0][0])


def test_gzip_csv_reads_as_the_plain_file(tmp_path: Path) -> None:
    text = _messy_csv(120, seed=4)
    plain = _write(tmp_path / "t.csv", text)
    packed = _write(tmp_path / "t.csv.gz", text, gz=True)
    assert _read(_card(), packed, block_bytes=50)[0].equals(_read(_card(), plain)[0])


def test_a_truncated_gzip_file_is_one_line(tmp_path: Path) -> None:
    data = gzip.compress((_messy_csv(400, seed=5)).encode(), mtime=0)
    path = tmp_path / "t.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    assert "t.csv.gz: cannot read the file" in _raise(_card(), path)


def test_missing_values_are_missing(tmp_path: Path) -> None:
    card = _card(missing_values=["NA", "?"])
    path = _write(tmp_path / "t.csv", "n,s,y\nNA,?,0\n?,NA,1\n,,0\n5,ok,1\n")
    frame, _ = _read(card, path)
    assert frame["n"].to_list() == [None, None, None, 5]
    assert frame["s"].to_list() == [None, None, None, *_hashes("ok")]
    # Without the card's missing_values, "NA" is a bad integer.
    assert _raise(_card(), path).startswith("t.csv line 2: column n is 'NA'")
    # A missing label is a bad row, whatever marks it missing.
    labels = _write(tmp_path / "t.csv", "n,s,y\n1,a,0\n2,b,NA\n")
    assert _raise(card, labels) == f"t.csv line 3: column y is empty, expected 0 or 1; {HINT}"


def test_a_label_value_outside_values_is_a_bad_row(tmp_path: Path) -> None:
    card = _card(tasks={"y": {"column": "y", "positive": [">50K"], "values": ["<=50K", ">50K"]}})
    path = _write(tmp_path / "t.csv", "n,s,y\n1,a,<=50K\n2,b,>50K.\n3,c,>50K\n")
    assert _raise(card, path) == (
        f"t.csv line 3: column y is '>50K.', expected '<=50K' or '>50K'; {HINT}"
    )
    frame, skipped = _read(card, path, bad_rows="skip")
    assert (skipped, frame["__task:y"].to_list()) == (1, [0, 1])


@pytest.mark.parametrize(
    ("row", "column", "expected"),
    [
        ("1,a,,u,10", "r", "a number"),  # a threshold task's column
        ("1,a,4,,10", "g", "text"),  # the group
        ("1,a,4,u,", "ts", "a number"),  # the time
    ],
)
def test_a_required_value_left_empty_is_a_bad_row(
    tmp_path: Path, row: str, column: str, expected: str
) -> None:
    card = _card(tasks={"y": {"column": "r", "positive": {"ge": 4}}}, group="g", time="ts")
    path = _write(tmp_path / "t.csv", f"n,s,r,g,ts\n1,a,5,u,9\n{row}\n")
    assert _raise(card, path) == (
        f"t.csv line 3: column {column} is empty, expected {expected}; {HINT}"
    )
    frame, skipped = _read(card, path, bad_rows="skip")
    assert (skipped, frame.height) == (1, 1)


def test_headerless_tsv_reads_by_the_cards_columns(tmp_path: Path) -> None:
    card = _card("tsv", header=False, columns=["y", "n", "s"])
    path = _write(tmp_path / "t.tsv", '1\t5\t"q"\n0\t\tb,c\n')
    frame, _ = _read(card, path)
    assert frame["n"].to_list() == [5, None]
    assert frame["s"].to_list() == _hashes('"q"', "b,c")  # no quoting in TSV
    assert frame["__task:y"].to_list() == [1, 0]


def test_an_empty_file_and_a_header_only_file_are_one_line(tmp_path: Path) -> None:
    empty = _write(tmp_path / "t.csv", "")
    assert _raise(_card(), empty) == "t.csv: the file is empty, expected rows"
    header = _write(tmp_path / "h.csv", "n,s,y\n")
    assert "h.csv: the file has no rows after its header" in _raise(_card(), header)


# --- parquet -------------------------------------------------------------------------------


def _parquet(path: Path, **columns: Any) -> Path:
    pl.DataFrame(columns).write_parquet(path)
    return path


def _pcard(**changes: Any) -> DatasetCard:
    defaults: dict[str, Any] = {
        "numeric": {"int": ["n"], "float": ["f"]},
        "categorical": {"hex": ["h"], "string": ["s"]},
    }
    return _card("parquet", **{**defaults, **changes})


def _pframe(**changes: Any) -> dict[str, Any]:
    columns: dict[str, Any] = {
        "n": [1, None, 3, 4],
        "f": [1.5, float("nan"), None, 2.0],
        "h": ["0000000a", "ffffffff", None, "00C0FFEE"],
        "s": ["x", None, "y", "x"],
        "y": [0, 1, 0, 1],
    }
    columns.update(changes)
    return columns


@pytest.mark.parametrize("block_bytes", [1, 40, MIB])
def test_parquet_values_nulls_nan_and_hex(tmp_path: Path, block_bytes: int) -> None:
    path = _parquet(tmp_path / "t.parquet", **_pframe())
    frame, skipped = _read(_pcard(), path, block_bytes=block_bytes)
    assert skipped == 0
    assert frame["n"].to_list() == [1, None, 3, 4]
    assert frame["f"].to_list() == [1.5, None, None, 2.0]  # NaN is missing
    assert frame["h"].to_list() == [10, 0xFFFFFFFF, None, 0x00C0FFEE]
    assert frame["s"].to_list() == _hashes("x", None, "y", "x")
    assert frame["__task:y"].to_list() == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("changes", "column", "file_type", "card_type"),
    [
        ({"n": ["1", "2", "3", "4"]}, "n", "String", "int"),
        ({"f": ["1", "2", "3", "4"]}, "f", "String", "float"),
        ({"s": [1, 2, 3, 4]}, "s", "Int64", "string"),
        ({"h": [1, 2, 3, 4]}, "h", "Int64", "hex"),
    ],
)
def test_parquet_type_mismatch_is_one_error_before_any_row(
    tmp_path: Path, changes: dict[str, Any], column: str, file_type: str, card_type: str
) -> None:
    path = _parquet(tmp_path / "t.parquet", **_pframe(**changes))
    blocks = TableReader(_pcard(), path).blocks(block_bytes=1)
    with pytest.raises(HarnessError) as info:
        next(blocks)  # before the first block
    assert str(info.value) == (
        f"t.parquet: column {column} is {file_type} in the file, the card reads it as "
        f"{card_type}; change its type in the card"
    )


def test_parquet_whole_floats_read_as_integers_and_fractions_are_bad_rows(tmp_path: Path) -> None:
    # pandas writes an integer column with nulls as float64: whole values are the integers.
    path = _parquet(tmp_path / "t.parquet", **_pframe(n=[1.0, None, 3.0, float("nan")]))
    frame, skipped = _read(_pcard(), path, block_bytes=MIB)
    assert skipped == 0
    assert frame["n"].to_list() == [1, None, 3, None]
    path = _parquet(tmp_path / "u.parquet", **_pframe(n=[1.0, 2.5, 3.0, 4.0]))
    message = _raise(_pcard(), path, block_bytes=MIB)
    assert message == f"u.parquet row 2: column n is 2.5, expected an integer or empty; {HINT}"
    frame, skipped = _read(_pcard(), path, block_bytes=MIB, bad_rows="skip")
    assert skipped == 1
    assert frame["n"].to_list() == [1, 3, 4]


def test_parquet_date_times_read_as_unix_seconds(tmp_path: Path) -> None:
    moments = [datetime(1970, 1, 1, 0, 0, 1), datetime(2001, 9, 9, 1, 46, 40), None, None]
    days = [date(1970, 1, 2), None, None, None]
    path = _parquet(tmp_path / "t.parquet", **_pframe(n=moments, f=days))
    frame, skipped = _read(_pcard(), path, block_bytes=MIB)
    assert skipped == 0
    assert frame["n"].to_list() == [1, 1_000_000_000, None, None]
    assert frame["f"].to_list() == [86_400.0, None, None, None]


@pytest.mark.parametrize("block_bytes", [1, 80, MIB])
def test_parquet_bad_label_names_its_row(tmp_path: Path, block_bytes: int) -> None:
    y = [0, 1, 0, 1, 0, 1, 2, 0]
    columns = {"n": list(range(8)), "y": y}
    path = _parquet(tmp_path / "t.parquet", **columns)
    card = _card("parquet", numeric={"int": ["n"]}, categorical={})
    got = _raise(card, path, block_bytes=block_bytes)
    assert got == f"t.parquet row 7: column y is 2, expected 0 or 1; {HINT}"
    frame, skipped = _read(card, path, block_bytes=block_bytes, bad_rows="skip")
    assert skipped == 1
    assert frame["n"].to_list() == [0, 1, 2, 3, 4, 5, 7]


def test_parquet_bad_hex_and_null_label_name_their_rows(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "t.parquet", **_pframe(h=["0000000a", "xyz", None, "1"]))
    assert _raise(_pcard(), path, block_bytes=40) == (
        f"t.parquet row 2: column h is 'xyz', expected 8 hex digits or empty; {HINT}"
    )
    path = _parquet(tmp_path / "t.parquet", **_pframe(y=[0, 1, None, 1]))
    assert _raise(_pcard(), path) == (
        f"t.parquet row 3: column y is empty, expected 0 or 1; {HINT}"
    )


def test_parquet_int32_out_of_range_is_a_bad_row(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "t.parquet", n=[1, 2**31], y=[0, 1])
    card = _card("parquet", numeric={"int32": ["n"]}, categorical={})
    assert _raise(card, path) == (
        f"t.parquet row 2: column n is 2147483648, expected a 32-bit integer or empty; {HINT}"
    )


def test_parquet_missing_values_and_string_labels(tmp_path: Path) -> None:
    card = _card(
        "parquet",
        missing_values=["?"],
        numeric={"int": ["n"]},
        tasks={"y": {"column": "y", "positive": [">50K"], "values": ["<=50K", ">50K"]}},
    )
    path = _parquet(
        tmp_path / "t.parquet", n=[1, 2, 3], s=["?", "a", None], y=["<=50K", ">50K", "<=50K"]
    )
    frame, _ = _read(card, path)
    assert frame["s"].to_list() == _hashes(None, "a", None)
    assert frame["__task:y"].to_list() == [0, 1, 0]


def test_parquet_categorical_and_narrow_types_fit(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "n": pl.Series([1, 2], dtype=pl.Int8),
            "f": pl.Series([1, 2], dtype=pl.Int16),  # any number reads as float
            "h": pl.Series(["0000000a", "0000000b"], dtype=pl.Categorical),
            "s": pl.Series(["p", "q"], dtype=pl.Categorical),
            "y": pl.Series([True, False]),
        }
    )
    path = tmp_path / "t.parquet"
    frame.write_parquet(path)
    got, _ = _read(_pcard(), path)
    assert got["n"].to_list() == [1, 2] and got["f"].to_list() == [1.0, 2.0]
    assert got["h"].to_list() == [10, 11]
    assert got["s"].to_list() == _hashes("p", "q")
    assert got["__task:y"].to_list() == [1, 0]


def test_parquet_through_prepare_dataset(tmp_path: Path) -> None:
    n = 50
    path = _parquet(
        tmp_path / "t.parquet",
        n=list(range(n)),
        f=[float(i) / 2 for i in range(n)],
        h=[f"{i % 5:08x}" for i in range(n)],
        s=[f"v{i % 3}" for i in range(n)],
        y=[i % 2 for i in range(n)],
    )
    dataset = prepare_dataset(
        _pcard(), DataFiles((path,)), PreprocessConfig(), cache_root=tmp_path, progress=False
    )
    assert (dataset.train.n_rows, dataset.valid.n_rows, dataset.test.n_rows) == (40, 5, 5)
    np.testing.assert_array_equal(dataset.train.x_num[:, 0], np.arange(40, dtype=np.float32))
    np.testing.assert_array_equal(dataset.test.y[:, 0], [1, 0, 1, 0, 1])
    assert dataset.schema.cardinalities == (7, 5)  # 5 hashes, 3 strings, + missing and rare
