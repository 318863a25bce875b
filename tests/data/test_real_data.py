"""Real public data (../shared/data, see its README) through the shipped cards: row counts,
label counts, groups and joins. Each test skips when ../shared is absent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from harness.data.card import load_card
from harness.data.preprocess import DataFiles, PreprocessConfig, prepare_dataset
from harness.data.schema import EncodedDataset
from harness.data.sources import resolve_data

SharedFile = Callable[[str], Path]
SPLITS = ("train", "valid", "test")


def _prepare(name: str, main: Path, tmp_path: Path, sides: Sequence[Path] = ()) -> EncodedDataset:
    card = load_card(name)
    return prepare_dataset(
        card,
        DataFiles((main,), sides=tuple(sides)),
        PreprocessConfig(protocol=card.protocol, min_count=card.min_count),
        cache_root=tmp_path,
        progress=False,
    )


def _rows(dataset: EncodedDataset) -> int:
    return sum(dataset.split(s).n_rows for s in SPLITS)


def _positives(dataset: EncodedDataset, task: int = 0) -> int:
    return int(sum(dataset.split(s).y[:, task].sum() for s in SPLITS))


def _cardinality(dataset: EncodedDataset, name: str) -> int:
    return next(f.cardinality for f in dataset.schema.categorical if f.name == name)


def test_avazu_head(shared_file: SharedFile, tmp_path: Path) -> None:
    path = shared_file("avazu/train_head9k.csv.gz")
    dataset = _prepare("avazu", path, tmp_path)
    assert _rows(dataset) == 8_999 and dataset.skipped_rows == 0
    assert _positives(dataset) == 1_563  # 7,436 / 1,563
    assert dataset.schema.labels == ("click",)
    assert len(dataset.schema.numeric) == 0 and len(dataset.schema.categorical) == 23
    # Every row is from hour 14102100: hour 0 of a Tuesday, one value each (+ missing, rare).
    assert _cardinality(dataset, "hour_of_day") == 3 and _cardinality(dataset, "weekday") == 3
    assert _cardinality(dataset, "site_category") > 3


def test_adult(shared_file: SharedFile, tmp_path: Path) -> None:
    path = shared_file("adult/adult.parquet")
    dataset = _prepare("adult", path, tmp_path)
    assert _rows(dataset) == 48_842
    assert _positives(dataset) == 11_687  # income >50K: 11,687, <=50K: 37,155
    assert [f.name for f in dataset.schema.numeric][:2] == ["age", "fnlwgt"]
    # "?" is missing: workclass has 8 real values (+ missing and rare ids).
    raw = pl.read_parquet(path, columns=["workclass"])["workclass"]
    assert raw.n_unique() == 9 and (raw == "?").sum() == 2_799
    assert _cardinality(dataset, "workclass") == 8 + 2
    assert (dataset.train.x_cat[:, 0] == 0).sum() > 0  # the "?" rows are missing ids
    assert _cardinality(dataset, "gender") == 4


@pytest.mark.slow
def test_kdd2004_groups_are_never_split(shared_file: SharedFile, tmp_path: Path) -> None:
    path = shared_file("kddcup2004_bio/bio_train_80pct_groups.parquet")
    dataset = _prepare("kdd2004", path, tmp_path)
    assert _rows(dataset) == 116_142
    assert _positives(dataset) == 1_089
    assert dataset.schema.query_group == "EXAMPLE_ID"
    assert len(dataset.schema.numeric) == 74
    groups = {}
    for s in SPLITS:
        group = dataset.split(s).group
        assert group is not None
        groups[s] = set(group.tolist())
    assert sum(len(g) for g in groups.values()) == 122  # each group in exactly one split
    assert len(groups["train"] | groups["valid"] | groups["test"]) == 122
    assert all(groups[s] for s in SPLITS)


def test_movielens_two_tasks_and_joined_attributes(shared_file: SharedFile, tmp_path: Path) -> None:
    ratings = shared_file("movielens100k/ratings_first80pct.parquet")
    users = shared_file("movielens100k/users.parquet")
    shared_file("movielens100k/items.parquet")
    source = resolve_data("movielens", str(ratings), {})  # finds the side tables beside it
    assert source.files is not None
    assert [p.name for p in source.files.sides] == ["users.parquet", "items.parquet"]
    dataset = _prepare("movielens", ratings, tmp_path, source.files.sides)
    n = 79_999
    assert _rows(dataset) == n
    assert dataset.schema.labels == ("like", "love")
    # Rating counts (README): 1: 5,062, 2: 9,101, 3: 21,764, 4: 27,507, 5: 16,565.
    assert _positives(dataset, 0) / n == (27_507 + 16_565) / n
    assert _positives(dataset, 1) / n == 16_565 / n
    assert _cardinality(dataset, "gender") == 2 + 2
    assert _cardinality(dataset, "occupation") == 21 + 2
    # The group column is user_id: each row's joined age is its user's age.
    ages = pl.read_parquet(users).select("user_id", "age")
    age_of = dict(zip(ages["user_id"].to_list(), ages["age"].to_list(), strict=True))
    for s in SPLITS:
        split = dataset.split(s)
        assert split.group is not None
        expected = np.array([age_of[int(u)] for u in split.group], dtype=np.float32)
        np.testing.assert_array_equal(split.x_num[:, 0], expected)
    # By time: the ratings up to the 80% (90%) timestamp are train (valid), ties kept together.
    times = pl.read_parquet(ratings)["timestamp"].to_numpy()
    cuts = np.sort(times)[[int(0.8 * (n - 1)), int(0.9 * (n - 1))]]
    assert dataset.train.n_rows == int((times <= cuts[0]).sum())
    assert dataset.valid.n_rows == int(((times > cuts[0]) & (times <= cuts[1])).sum())
