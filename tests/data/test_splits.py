"""The value-driven split protocols through `prepare_dataset`: ``time``, ``group``, ``last`` and
pre-split ``files`` (tests/data/test_criteo_splits.py covers sequential, x1 and x4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from harness.data.card import DatasetCard, parse_card
from harness.data.preprocess import DataFiles, PreprocessConfig, prepare_dataset
from harness.data.schema import RARE_ID, EncodedDataset
from harness.data.sources import resolve_data
from harness.errors import HarnessError

SPLITS = ("train", "valid", "test")


def _card(**changes: Any) -> DatasetCard:
    raw: dict[str, Any] = {
        "name": "t",
        "format": "parquet",
        "files": ["m.parquet"],
        "tasks": {"y": {"column": "y"}},
        "numeric": {"int": ["rid"]},  # the row's id, to see where each row went
    }
    raw.update(changes)
    return parse_card(raw, path="t.toml")


def _write(path: Path, **columns: Any) -> Path:
    n = len(next(iter(columns.values())))
    pl.DataFrame({"y": [i % 2 for i in range(n)], **columns}).write_parquet(path)
    return path


def _prepare(
    card: DatasetCard, files: Path | DataFiles, tmp_path: Path, protocol: str, **config: Any
) -> EncodedDataset:
    return prepare_dataset(
        card,
        files,
        PreprocessConfig(protocol=protocol, **config),
        cache_root=tmp_path / f"cache-{protocol}-{config.get('seed', 0)}",
        progress=False,
    )


def _rids(dataset: EncodedDataset) -> dict[str, list[int]]:
    """Each split's row ids, in the order the split holds them."""
    return {s: dataset.split(s).x_num[:, 0].astype(np.int64).tolist() for s in SPLITS}


def _groups(dataset: EncodedDataset) -> dict[str, set[int]]:
    out = {}
    for s in SPLITS:
        group = dataset.split(s).group
        assert group is not None
        out[s] = set(group.tolist())
    return out


# --- time ---------------------------------------------------------------------------------


def test_time_train_before_valid_before_test(tmp_path: Path) -> None:
    n = 100
    order = np.random.default_rng(0).permutation(n)  # file order is not time order
    times = 1_000 + 7 * order
    path = _write(tmp_path / "m.parquet", rid=order.tolist(), t=times.tolist())
    dataset = _prepare(_card(time="t", protocol="time"), path, tmp_path, "time")
    rids = _rids(dataset)
    assert [len(rids[s]) for s in SPLITS] == [80, 10, 10]
    # rid = rank in time: the earliest 80 train, the next 10 valid, the latest 10 test.
    assert sorted(rids["train"]) == list(range(80))
    assert sorted(rids["valid"]) == list(range(80, 90))
    assert sorted(rids["test"]) == list(range(90, 100))
    # Each split keeps file order.
    position = {int(r): i for i, r in enumerate(order)}
    for s in SPLITS:
        assert [position[r] for r in rids[s]] == sorted(position[r] for r in rids[s])


def test_time_rows_sharing_a_timestamp_at_a_cut_stay_together(tmp_path: Path) -> None:
    # 75 rows at t=0, 10 at t=1 (across the 80% cut), 10 at t=2, 5 at t=3.
    times = np.array([0] * 75 + [1] * 10 + [2] * 10 + [3] * 5)
    order = np.random.default_rng(1).permutation(times.size)
    path = _write(tmp_path / "m.parquet", rid=order.tolist(), t=times[order].tolist())
    dataset = _prepare(_card(time="t", protocol="time"), path, tmp_path, "time")
    by_time = {s: sorted({int(times[r]) for r in rids}) for s, rids in _rids(dataset).items()}
    assert by_time == {"train": [0, 1], "valid": [2], "test": [3]}
    assert (dataset.train.n_rows, dataset.valid.n_rows, dataset.test.n_rows) == (85, 10, 5)


def test_time_with_one_timestamp_leaves_splits_empty(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.parquet", rid=list(range(30)), t=[5] * 30)
    with pytest.raises(HarnessError, match=r"give train 30, valid 0, test 0; every split needs"):
        _prepare(_card(time="t", protocol="time"), path, tmp_path, "time")


def test_time_from_a_csv_column(tmp_path: Path) -> None:
    card = parse_card(
        {
            "name": "t",
            "format": "csv",
            "files": ["m.csv"],
            "time": "t",
            "protocol": "time",
            "tasks": {"y": {"column": "y"}},
            "numeric": {"int": ["rid"]},
        },
        path="t.toml",
    )
    path = tmp_path / "m.csv"
    path.write_text("rid,t,y\n" + "".join(f"{i},{(19 - i) * 0.5},{i % 2}\n" for i in range(20)))
    rids = _rids(_prepare(card, path, tmp_path, "time"))
    assert sorted(rids["test"]) == [0, 1] and sorted(rids["valid"]) == [2, 3]


# --- group ---------------------------------------------------------------------------------


def _grouped(tmp_path: Path, groups: int = 2000, per_group: int = 2) -> Path:
    n = groups * per_group
    keys = np.random.default_rng(2).permutation(np.repeat(np.arange(groups), per_group))
    return _write(tmp_path / "m.parquet", rid=list(range(n)), g=keys.tolist())


def test_group_whole_groups_go_to_one_split(tmp_path: Path) -> None:
    path = _grouped(tmp_path)
    dataset = _prepare(_card(group="g", protocol="group"), path, tmp_path, "group")
    groups = _groups(dataset)
    assert not groups["train"] & groups["valid"]
    assert not groups["train"] & groups["test"]
    assert not groups["valid"] & groups["test"]
    assert groups["train"] | groups["valid"] | groups["test"] == set(range(2000))
    sizes = [len(groups[s]) for s in SPLITS]
    assert sizes == [1600, 200, 200]  # exact 8:1:1 shares of the groups
    assert [dataset.split(s).n_rows for s in SPLITS] == [2 * k for k in sizes]
    assert dataset.schema.query_group == "g"


def test_group_assignment_is_seeded(tmp_path: Path) -> None:
    path = _grouped(tmp_path, groups=400)
    card = _card(group="g", protocol="group")
    first = _groups(_prepare(card, path, tmp_path, "group", seed=0))
    again = _groups(_prepare(card, path, tmp_path / "again", "group", seed=0))
    other = _groups(_prepare(card, path, tmp_path, "group", seed=1))
    assert first == again
    assert first["test"] != other["test"] and first["train"] != other["train"]
    assert not other["train"] & (other["valid"] | other["test"])


def test_group_shares_are_exact_with_few_groups(tmp_path: Path) -> None:
    # 122 queries (KDD Cup 2004's count): 97/12/13 whatever the seed; hashing each group on its
    # own would scatter so few of them.
    path = _grouped(tmp_path, groups=122, per_group=3)
    for seed in range(3):
        groups = _groups(_prepare(_card(group="g"), path, tmp_path, "group", seed=seed))
        assert [len(groups[s]) for s in SPLITS] == [97, 12, 13]


def test_a_protocol_needs_the_columns_it_splits_by(tmp_path: Path) -> None:
    path = _grouped(tmp_path, groups=10)
    for protocol, need in (("group", "group"), ("time", "time"), ("last", "group")):
        with pytest.raises(HarnessError) as info:
            _prepare(_card(), path, tmp_path, protocol)
        assert f"protocol {protocol!r} needs the card's `{need}` column" in str(info.value)


def test_group_of_strings(tmp_path: Path) -> None:
    names = [f"q{i % 60}" for i in range(600)]
    path = _write(tmp_path / "m.parquet", rid=list(range(600)), g=names)
    dataset = _prepare(_card(group="g", protocol="group"), path, tmp_path, "group")
    rids = _rids(dataset)
    where = {s: {names[r] for r in rids[s]} for s in SPLITS}
    assert sum(len(v) for v in where.values()) == 60  # each query in exactly one split
    groups = _groups(dataset)
    assert sum(len(v) for v in groups.values()) == 60


# --- last (leave-last-one-out per user) ------------------------------------------------------


def test_last_row_by_time_is_test_the_one_before_valid(tmp_path: Path) -> None:
    # user -> times; users 1 and 2 have fewer than 3 rows.
    history = {1: [50], 2: [10, 20], 3: [30, 10, 20], 4: [5, 40, 25, 35, 15], 5: [7, 9, 8]}
    rows = [(u, t) for u, times in history.items() for t in times]
    order = np.random.default_rng(3).permutation(len(rows))
    rows = [rows[i] for i in order]  # users interleaved, times out of order
    path = _write(
        tmp_path / "m.parquet",
        rid=list(range(len(rows))),
        u=[u for u, _ in rows],
        t=[t for _, t in rows],
    )
    dataset = _prepare(_card(group="u", time="t", protocol="last"), path, tmp_path, "last")
    rids = _rids(dataset)
    split_of = {r: s for s in SPLITS for r in rids[s]}
    for user, times in history.items():
        ranked = sorted((t, r) for r, (u, t) in enumerate(rows) if u == user)
        got = [split_of[r] for _, r in ranked]  # by increasing time
        if len(times) < 3:
            assert got == ["train"] * len(times), user
        else:
            assert got == ["train"] * (len(times) - 2) + ["valid", "test"], user
    assert [len(rids[s]) for s in SPLITS] == [8, 3, 3]
    for s in SPLITS:
        assert rids[s] == sorted(rids[s])  # file order within each split


def test_last_breaks_time_ties_by_file_order(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.parquet", rid=[0, 1, 2, 3], u=[1, 1, 1, 1], t=[5, 5, 5, 5])
    rids = _rids(_prepare(_card(group="u", time="t", protocol="last"), path, tmp_path, "last"))
    assert rids == {"train": [0, 1], "valid": [2], "test": [3]}


# --- files (pre-split) -------------------------------------------------------------------------


def _presplit(tmp_path: Path) -> tuple[Path, Path, Path]:
    def one(name: str, rids: Sequence[int], cats: Sequence[str]) -> Path:
        return _write(tmp_path / name, rid=list(rids), c=list(cats))

    train = one("train.parquet", [5, 3, 9, 1, 7, 0], ["a", "a", "b", "b", "a", "b"])
    valid = one("valid.parquet", [104, 100, 102], ["a", "new", "b"])
    test = one("test.parquet", [201, 200], ["b", "a"])
    return train, valid, test


def test_files_give_each_files_rows_to_its_split(tmp_path: Path) -> None:
    card = _card(categorical={"string": ["c"]})
    train, valid, test = _presplit(tmp_path)
    source = resolve_data(card, str(train), {}, valid=str(valid), test=str(test))
    assert source.files is not None and source.files.splits == (0, 1, 2)
    dataset = _prepare(card, source.files, tmp_path, "files")
    assert _rids(dataset) == {
        "train": [5, 3, 9, 1, 7, 0],
        "valid": [104, 100, 102],
        "test": [201, 200],
    }
    # The vocabulary is fitted on the training file only: "new" is rare.
    valid_ids = dataset.valid.x_cat[:, 0].tolist()
    assert valid_ids[1] == RARE_ID and RARE_ID not in (valid_ids[0], valid_ids[2])
    assert dataset.schema.categorical[0].cardinality == 4


def test_files_protocol_needs_all_three_files(tmp_path: Path) -> None:
    card = _card()
    train, valid, test = _presplit(tmp_path)
    need = r"pre-split data needs all three: --data TRAIN --valid VALID --test TEST"
    with pytest.raises(HarnessError, match=need):
        resolve_data(card, str(train), {}, valid=str(valid))
    with pytest.raises(HarnessError, match=need):
        resolve_data(card, str(train), {}, test=str(test))
    with pytest.raises(HarnessError, match=need):
        resolve_data(card, None, {}, valid=str(valid), test=str(test))
    with pytest.raises(HarnessError, match=r"--test .*nope\.parquet: no such file"):
        resolve_data(card, str(train), {}, valid=str(valid), test=str(tmp_path / "nope.parquet"))
    with pytest.raises(HarnessError, match=r"protocol 'files' needs --valid and --test files"):
        _prepare(card, train, tmp_path, "files")
    files = DataFiles((train, valid, test), (0, 1, 2))
    with pytest.raises(HarnessError, match=r"pre-split files \(--valid, --test\) take the 'files'"):
        _prepare(card, files, tmp_path, "x4")


def test_leave_last_n_out_keeps_the_last_n_rows_of_each_user_for_test(tmp_path: Path) -> None:
    # User 1 has 7 rows (>= 2*2+1): its two latest are test, the two before valid, the rest
    # train. Users 2 and 3 have fewer than 5 rows: train only.
    users = [1] * 7 + [2] * 4 + [3] * 3
    times = [5, 1, 7, 3, 2, 6, 4, 1, 2, 3, 4, 1, 2, 3]
    path = _write(tmp_path / "m.parquet", rid=list(range(14)), u=users, t=times)
    dataset = _prepare(_card(group="u", time="t"), path, tmp_path, "last2")
    assert _rids(dataset) == {
        "train": [1, 3, 4, *range(7, 14)],
        "valid": [0, 6],
        "test": [2, 5],
    }
    assert dataset.protocol == "last2"
    with pytest.raises(HarnessError, match=r"last<N>"):
        _prepare(_card(group="u", time="t"), path, tmp_path, "last0")
