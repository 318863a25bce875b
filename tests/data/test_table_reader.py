"""`TableReader`: side tables joined on a key, derived features, task labels, categorical keys,
and the errors for columns and keys that do not fit."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from harness.data.card import DatasetCard, parse_card
from harness.data.columns import GROUP, TIME
from harness.data.preprocess import DataFiles, PreprocessConfig, prepare_dataset
from harness.data.schema import MISSING_ID
from harness.data.table import TableReader
from harness.errors import HarnessError

MIB = 1 << 20


def _card(fmt: str = "parquet", **changes: Any) -> DatasetCard:
    raw: dict[str, Any] = {
        "name": "t",
        "format": fmt,
        "files": [f"m.{fmt}"],
        "tasks": {"y": {"column": "y"}},
        "numeric": {"int": ["n"]},
    }
    raw.update(changes)
    return parse_card(raw, path="t.toml")


def _parquet(path: Path, **columns: Any) -> Path:
    pl.DataFrame(columns).write_parquet(path)
    return path


def _read(
    card: DatasetCard, path: Path, sides: Sequence[Path] = (), *, block_bytes: int = MIB
) -> pl.DataFrame:
    blocks = TableReader(card, path, sides).blocks(block_bytes=block_bytes)
    return pl.concat([b.frame for b in blocks], rechunk=True)


def _hash(*values: str) -> list[int]:
    return pl.Series(list(values)).hash(seed=0).to_list()


# --- joins ------------------------------------------------------------------------------------

JOINED: dict[str, Any] = {
    "join": [{"file": ["u.parquet"], "on": "uid"}],
    "numeric": {"int": ["n", "age"]},
    "categorical": {"string": ["gender"], "int": ["uid"]},
}


@pytest.mark.parametrize("block_bytes", [1, MIB])
def test_side_table_features_land_on_their_rows_in_main_order(
    tmp_path: Path, block_bytes: int
) -> None:
    main = _parquet(
        tmp_path / "m.parquet",
        uid=[3, 1, 9, 3, 2, 1],  # 9 is not in the side table
        n=[10, 11, 12, 13, 14, 15],
        y=[0, 1, 0, 1, 1, 0],
    )
    side = tmp_path / "u.parquet"
    pl.DataFrame(
        {
            "gender": ["F", "M", "F"],  # columns in another order than the card's
            "uid": pl.Series([2, 1, 3], dtype=pl.Int32),  # a narrower key type
            "age": [40, 30, 50],
            "unused": ["a", "b", "c"],
        }
    ).write_parquet(side)
    frame = _read(_card(**JOINED), main, [side], block_bytes=block_bytes)
    assert frame.columns == ["n", "age", "gender", "uid", "__task:y"]
    assert frame["n"].to_list() == [10, 11, 12, 13, 14, 15]  # main order kept
    assert frame["uid"].to_list() == [3, 1, 9, 3, 2, 1]
    assert frame["age"].to_list() == [50, 30, None, 50, 40, 30]
    f, m = _hash("F", "M")
    assert frame["gender"].to_list() == [f, m, None, f, f, m]
    assert frame["__task:y"].to_list() == [0, 1, 0, 1, 1, 0]


def test_joined_features_through_prepare_dataset(tmp_path: Path) -> None:
    uid = [i % 7 + 1 for i in range(40)]  # users 1..7; 7 is missing from the side table
    main = _parquet(tmp_path / "m.parquet", uid=uid, n=list(range(40)), y=[i % 2 for i in uid])
    side = _parquet(
        tmp_path / "u.parquet",
        uid=[1, 2, 3, 4, 5, 6],
        age=[10, 20, 30, 40, 50, 60],
        gender=["F", "M", "F", "M", "F", "M"],
    )
    dataset = prepare_dataset(
        _card(**JOINED),
        DataFiles((main,), sides=(side,)),
        PreprocessConfig(min_count=1),
        cache_root=tmp_path / "c",
        progress=False,
    )
    train = dataset.train
    assert train.n_rows == 32
    ages = train.x_num[:, 1]
    expected = np.array([10.0 * u if u != 7 else np.nan for u in uid[:32]], dtype=np.float32)
    np.testing.assert_array_equal(ages, expected)
    gender = train.x_cat[:, 0]
    users = np.array(uid[:32])
    assert (gender[users == 7] == MISSING_ID).all()
    odd, even = gender[(users % 2 == 1) & (users != 7)], gender[users % 2 == 0]
    assert len(set(odd.tolist())) == 1 and len(set(even.tolist())) == 1
    assert odd[0] != even[0] and MISSING_ID not in (odd[0], even[0])
    assert dataset.schema.categorical[0].cardinality == 4  # F, M + missing and rare


def test_a_repeated_key_in_a_side_table_is_one_line(tmp_path: Path) -> None:
    main = _parquet(tmp_path / "m.parquet", uid=[1, 2], n=[1, 2], y=[0, 1])
    side = _parquet(
        tmp_path / "u.parquet",
        uid=[1, 2, 2, 3, 3, 3],
        age=[1, 2, 3, 4, 5, 6],
        gender=["F"] * 6,
    )
    with pytest.raises(HarnessError) as info:
        TableReader(_card(**JOINED), main, [side])
    assert str(info.value) == (
        "u.parquet: uid 2 appears 2 times; a joined table needs one row per key"
    )


def test_a_join_key_missing_from_a_file_is_an_error(tmp_path: Path) -> None:
    main = _parquet(tmp_path / "m.parquet", uid=[1, 2], n=[1, 2], y=[0, 1])
    side = _parquet(tmp_path / "u.parquet", user=[1, 2], age=[1, 2], gender=["F", "M"])
    with pytest.raises(HarnessError) as info:
        TableReader(_card(**JOINED), main, [side])
    assert str(info.value) == "t.toml: join[0].on: u.parquet has no column 'uid'"
    with pytest.raises(HarnessError, match=r"t\.toml: join: the card joins 1 side table\(s\)"):
        TableReader(_card(**JOINED), main, [])


def test_a_csv_side_table_joins_on_an_int_key(tmp_path: Path) -> None:
    main = tmp_path / "m.csv"
    main.write_text("uid,n,y\n2,1,0\n1,2,1\n5,3,0\n")
    side = tmp_path / "u.csv"
    side.write_text('uid,age,gender\n1,30,"F"\n2,40,M\n')
    frame = _read(_card("csv", **JOINED), main, [side])
    assert frame["age"].to_list() == [40, 30, None]
    assert frame["gender"].to_list() == [*_hash("M", "F"), None]


def test_a_parquet_side_table_reads_missing_values_like_the_main_file(tmp_path: Path) -> None:
    main = _parquet(tmp_path / "m.parquet", uid=[1, 2], n=[1, 2], y=[0, 1])
    side = _parquet(tmp_path / "u.parquet", uid=[1, 2], age=[30, 40], gender=["?", "F"])
    frame = _read(_card(missing_values=["?"], **JOINED), main, [side])
    assert frame["gender"].to_list() == [None, *_hash("F")]


def test_a_join_key_of_another_type_in_the_side_table_is_one_error(tmp_path: Path) -> None:
    # The key is no feature: each file keeps its own type, and "u1" is no integer.
    main = _parquet(tmp_path / "m.parquet", uid=[1, 2], n=[1, 2], y=[0, 1])
    side = _parquet(tmp_path / "u.parquet", uid=["u1", "u2"], age=[30, 40])
    card = _card(join=[{"file": ["u.parquet"], "on": "uid"}], numeric={"int": ["n", "age"]})
    with pytest.raises(HarnessError) as info:
        _read(card, main, [side])
    assert str(info.value) == (
        "u.parquet: its uid values do not read as Int64, the type the main file's uid has; give "
        "the key one type in both files"
    )


# --- derived features ----------------------------------------------------------------------

DERIVED: dict[str, Any] = {
    "categorical": {},
    "derived": {
        "hour": {"from": "hr", "op": "yymmddhh_hour"},
        "wd": {"from": "hr", "op": "yymmddhh_weekday"},
        "uhour": {"from": "ts", "op": "unix_hour"},
        "uwd": {"from": "ts", "op": "unix_weekday"},
        "hour_num": {"from": "hr", "op": "yymmddhh_hour", "role": "numeric"},
    },
}


def test_derived_features_have_exact_values(tmp_path: Path) -> None:
    # YYMMDDHH: 2014-10-21 was a Tuesday (polars weekday: Monday 1 .. Sunday 7).
    hr = [14102100, 14102123, 14102600, 14102705, 14110308, None]
    seconds = [0, 86_399, 874_724_710, 90_000, 1_700_000_000]
    ts: list[int | None] = [*seconds, None]
    path = _parquet(tmp_path / "m.parquet", n=list(range(6)), hr=hr, ts=ts, y=[0, 1] * 3)
    card = _card(**DERIVED)
    assert card.numeric == ("n", "hour_num")
    assert card.categorical == ("hour", "wd", "uhour", "uwd")
    frame = _read(card, path)
    assert frame["hour"].to_list() == [0, 23, 0, 5, 8, None]
    assert frame["wd"].to_list() == [2, 2, 7, 1, 1, None]
    assert frame["hour_num"].to_list() == [0.0, 23.0, 0.0, 5.0, 8.0, None]
    assert frame["hour_num"].dtype == pl.Float64
    # Unix seconds, UTC (unix_weekday: Monday 1 .. Sunday 7, as yymmddhh_weekday).
    assert frame["uhour"].to_list() == [0, 23, 3, 1, 22, None]
    assert frame["uwd"].to_list() == [4, 4, 6, 5, 2, None]
    for value, hour, weekday in zip(seconds, frame["uhour"][:-1], frame["uwd"][:-1], strict=True):
        moment = datetime.datetime.fromtimestamp(value, datetime.UTC)
        assert (moment.hour, moment.isoweekday()) == (hour, weekday)


def test_yymmddhh_weekday_is_the_calendars_for_a_century_and_null_when_no_date() -> None:
    from harness.data.derive import DERIVATIONS

    days = [datetime.date(2000, 1, 1) + datetime.timedelta(days=k) for k in range(36_525)]
    values = [(d.year - 2000) * 1_000_000 + d.month * 10_000 + d.day * 100 + 7 for d in days]
    weekday = DERIVATIONS["yymmddhh_weekday"].expr(pl.col("v"))
    got = pl.DataFrame({"v": values}).select(weekday).to_series().to_list()
    assert got == [d.isoweekday() for d in days]
    # Not a date (month 13, 30 February, 2015-02-29, hour 24, 9 digits): null, never a crash.
    bad = [14133100, 14023000, 15022900, 14102124, 141021000]
    hour = DERIVATIONS["yymmddhh_hour"].expr(pl.col("v"))
    frame = pl.DataFrame({"v": [*bad, 16022923]}).select(weekday.alias("w"), hour.alias("h"))
    assert frame["w"].to_list() == [None] * 5 + [1]  # 2016-02-29 was a Monday
    assert frame["h"].to_list() == [None] * 5 + [23]


def test_derived_features_from_csv_text(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("n,hr,ts,y\n1,14102100,0,0\n2,14102613,3600,1\n")
    frame = _read(_card("csv", **DERIVED), path)
    assert frame["hour"].to_list() == [0, 13]
    assert frame["wd"].to_list() == [2, 7]
    assert frame["uhour"].to_list() == [0, 1]


# --- tasks -------------------------------------------------------------------------------------


def test_task_labels_from_thresholds_lists_and_strings(tmp_path: Path) -> None:
    path = _parquet(
        tmp_path / "m.parquet",
        n=[1, 2, 3, 4, 5],
        rating=[1, 2, 3, 4, 5],
        score=[0.5, 1.5, 2.5, 3.5, 4.5],
        income=["<=50K", ">50K", "<=50K", ">50K", ">50K"],
    )
    tasks = {
        "like": {"column": "rating", "positive": {"ge": 4}, "values": [1, 2, 3, 4, 5]},
        "love": {"column": "rating", "positive": [5], "values": [1, 2, 3, 4, 5]},
        "low": {"column": "rating", "positive": [1, 2], "values": [1, 2, 3, 4, 5]},
        "gt": {"column": "score", "positive": {"gt": 2.5}},
        "le": {"column": "score", "positive": {"le": 2.5}},
        "lt": {"column": "score", "positive": {"lt": 2.5}},
        "rich": {"column": "income", "positive": [">50K"], "values": ["<=50K", ">50K"]},
    }
    card = _card(tasks=tasks)
    assert card.labels == ("like", "love", "low", "gt", "le", "lt", "rich")
    frame = _read(card, path)
    assert frame["__task:like"].to_list() == [0, 0, 0, 1, 1]
    assert frame["__task:love"].to_list() == [0, 0, 0, 0, 1]
    assert frame["__task:low"].to_list() == [1, 1, 0, 0, 0]
    assert frame["__task:gt"].to_list() == [0, 0, 0, 1, 1]
    assert frame["__task:le"].to_list() == [1, 1, 1, 0, 0]
    assert frame["__task:lt"].to_list() == [1, 1, 0, 0, 0]
    assert frame["__task:rich"].to_list() == [0, 1, 0, 1, 1]
    assert all(frame[f"__task:{t}"].dtype == pl.UInt8 for t in card.labels)


def test_two_tasks_on_one_column_need_the_same_values(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "m.parquet", n=[1], rating=[4])
    tasks = {
        "like": {"column": "rating", "positive": [4, 5], "values": [1, 2, 3, 4, 5]},
        "love": {"column": "rating", "positive": [5], "values": [3, 4, 5]},
    }
    with pytest.raises(HarnessError, match=r"tasks\.love\.values: differs from another task"):
        TableReader(_card(tasks=tasks), path)


def test_group_and_time_columns(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "m.parquet", n=[1, 2], y=[0, 1], user=["a", "b"], when=[5, 7])
    frame = _read(_card(group="user", time="when"), path)
    assert frame[GROUP].to_list() == _hash("a", "b")
    assert frame[TIME].to_list() == [5.0, 7.0]
    ints = _parquet(tmp_path / "i.parquet", n=[1, 2], y=[0, 1], user=[3, -1], when=[1.5, 2.5])
    frame = _read(_card(group="user", time="when"), ints)
    assert frame[GROUP].to_list() == [3, 2**64 - 1]  # integer keys are their 64 bits
    assert frame[TIME].to_list() == [1.5, 2.5]


# --- categorical keys --------------------------------------------------------------------------


def test_string_keys_are_equal_across_blocks_and_files(tmp_path: Path) -> None:
    cities = ["paris", "rome", "oslo", "rome", "lima", "paris"]
    card = _card("csv", categorical={"string": ["city"]})
    paths = []
    for k in range(2):
        path = tmp_path / f"m{k}.csv"
        rows = [f"{i},{cities[(i + k) % 6]},{i % 2}" for i in range(30)]
        path.write_text("n,city,y\n" + "\n".join(rows) + "\n")
        paths.append(path)
    keys: dict[str, set[int]] = {}
    for k, path in enumerate(paths):
        frame = _read(card, path, block_bytes=20)  # many blocks per file
        for i, key in enumerate(frame["city"].to_list()):
            keys.setdefault(cities[(i + k) % 6], set()).add(key)
    assert all(len(v) == 1 for v in keys.values())  # one key per string
    assert len({next(iter(v)) for v in keys.values()}) == 4  # distinct strings, distinct keys

    dataset = prepare_dataset(
        card,
        paths,
        PreprocessConfig(min_count=1, block_bytes=20),
        cache_root=tmp_path / "c",
        progress=False,
    )
    written = [f"{cities[(i + k) % 6]}" for k in range(2) for i in range(30)]
    ids = np.concatenate([dataset.split(s).x_cat[:, 0] for s in ("train", "valid", "test")])
    to_id: dict[str, int] = {}
    for city, cid in zip(written, ids.tolist(), strict=True):
        assert to_id.setdefault(city, cid) == cid
    assert sorted(to_id.values()) == [2, 3, 4, 5]
    assert dataset.schema.categorical[0].cardinality == 6


def test_int_and_hex_categorical_keys(tmp_path: Path) -> None:
    card = _card(categorical={"int": ["c"], "hex": ["h"]})
    c = [5, -1, 5, 2**40, None, -1] * 5
    h = ["0000000a", "FFFFFFFF", "0000000a", "deadbeef", "ffffffff", None] * 5
    path = _parquet(tmp_path / "m.parquet", n=list(range(30)), c=c, h=h, y=[0, 1] * 15)
    frame = _read(card, path, block_bytes=64)
    assert frame["c"].dtype == pl.UInt64 and frame["h"].dtype == pl.UInt32
    assert frame["c"].to_list()[:6] == [5, 2**64 - 1, 5, 2**40, None, 2**64 - 1]
    assert frame["h"].to_list()[:6] == [10, 0xFFFFFFFF, 10, 0xDEADBEEF, 0xFFFFFFFF, None]

    dataset = prepare_dataset(
        card, path, PreprocessConfig(min_count=1), cache_root=tmp_path / "c", progress=False
    )
    x_cat = dataset.train.x_cat  # the first 24 rows
    assert dataset.schema.cardinalities == (5, 5)  # 3 values + missing and rare each
    columns: tuple[list[Any], list[Any]] = (c, h)
    for j, column in enumerate(columns):
        seen: dict[object, int] = {}
        for raw, cid in zip(column[:24], x_cat[:, j].tolist(), strict=True):
            value = raw.lower() if isinstance(raw, str) else raw  # hex is case-blind
            assert seen.setdefault(value, cid) == cid
            assert (cid == MISSING_ID) == (value is None)
        assert len(set(seen.values())) == len(seen)


# --- columns the files do not have ----------------------------------------------------------


def test_a_column_in_no_file_lists_the_files_columns(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "m.parquet", n=[1], y=[0], extra=[2])
    card = _card(numeric={"int": ["n", "zz"]})
    with pytest.raises(HarnessError) as info:
        TableReader(card, path)
    assert str(info.value) == (
        "t.toml: column 'zz' is in none of the files (m.parquet has n, y, extra); fix its name "
        "in the card"
    )
    csv = tmp_path / "m.csv"
    csv.write_text("n,y\n1,0\n")
    with pytest.raises(HarnessError, match=r"column 'zz' is in none of the files \(m\.csv has "):
        TableReader(_card("csv", numeric={"int": ["n", "zz"]}), csv)
    # With side tables, every file's columns are listed.
    main = _parquet(tmp_path / "j.parquet", uid=[1], n=[1], y=[0])
    side = _parquet(tmp_path / "u.parquet", uid=[1], age=[3], sex=["F"])
    with pytest.raises(HarnessError) as info:
        TableReader(_card(**JOINED), main, [side])
    assert str(info.value) == (
        "t.toml: column 'gender' is in none of the files (j.parquet has uid, n, y; u.parquet has "
        "uid, age, sex); fix its name in the card"
    )


def test_a_missing_label_column_is_an_error(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "m.parquet", n=[1], label=[0])
    with pytest.raises(HarnessError, match=r"column 'y' is in none of the files"):
        TableReader(_card(), path)
