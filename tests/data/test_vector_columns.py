"""A card's ``vectors`` columns (parquet lists of numbers) become ``x_vec`` features: each row's
own vector in every split whatever the protocol, after the text features, a zero vector where
missing, the width taken from the data, and every mistake a one-line error.

Rows are told apart by an ``id`` numeric column (``x_num``), so each split's ``x_vec`` row is
checked against its source row.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from harness.data.card import DatasetCard, load_card, parse_card
from harness.data.preprocess import DataFiles, PreprocessConfig, prepare_dataset
from harness.data.schema import SPLIT_NAMES, EncodedDataset, FeatureSchema, VectorFeature
from harness.data.synthetic_table import VECTOR_WIDTH, vector_direction, write_synthetic_table
from harness.data.text import encode_texts
from harness.errors import HarnessError

CARD = """
name = "items"
format = "parquet"
files = ["items.parquet"]
vectors = ["emb"]

[tasks.click]
column = "clicked"

[numeric]
int = ["id"]

[categorical]
string = ["shop"]
"""
ROWS = 80
WIDTH = 5
NULL_IDS = (3, 41, 77)


def _card(folder: Path, text: str = CARD) -> DatasetCard:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.toml").write_text(text)
    return load_card(folder / "items.toml")


def _vector(i: int, width: int = WIDTH) -> list[float]:
    return [i + k / 8 for k in range(width)]


def _frame(vectors: list[list[float] | None], dtype: pl.DataType | None = None) -> pl.DataFrame:
    n = len(vectors)
    return pl.DataFrame(
        {
            "id": np.arange(n),
            "shop": [f"s{i % 4}" for i in range(n)],
            "clicked": [i % 3 == 0 for i in range(n)],
            "emb": pl.Series(vectors, dtype=dtype or pl.List(pl.Float64)),
        }
    )


def _prepare(
    card: DatasetCard, files: tuple[Path, ...], root: Path, protocol: str = "sequential"
) -> EncodedDataset:
    return prepare_dataset(
        card,
        DataFiles(files),
        PreprocessConfig(protocol=protocol, seed=5, block_bytes=600),
        cache_root=root / "cache",
        progress=False,
    )


def _check_rows(dataset: EncodedDataset, expected: dict[int, np.ndarray], at: slice) -> int:
    """Every split's x_vec[:, at] row equals its source row's (found by its id); rows seen."""
    seen = 0
    for name in SPLIT_NAMES:
        split = dataset.split(name)
        assert split.x_vec is not None and split.x_vec.dtype == np.float32
        ids = split.x_num[:, 0].astype(int)
        for row, i in enumerate(ids):
            np.testing.assert_array_equal(split.x_vec[row, at], expected[int(i)])
        seen += len(ids)
    return seen


@pytest.mark.parametrize("protocol", ["sequential", "x4"])
def test_each_row_gets_its_own_vector_and_nulls_are_zeros(tmp_path: Path, protocol: str) -> None:
    card = _card(tmp_path / "cards")
    vectors = [None if i in NULL_IDS else _vector(i) for i in range(ROWS)]
    frame = _frame(vectors)
    shards = (tmp_path / "part-0.parquet", tmp_path / "part-1.parquet")
    frame.slice(0, 50).write_parquet(shards[0], row_group_size=16)
    frame.slice(50).write_parquet(shards[1], row_group_size=16)

    dataset = _prepare(card, shards, tmp_path, protocol)

    assert dataset.schema.vectors == (VectorFeature("emb", WIDTH, "column", ""),)
    assert dataset.schema.vector_width == WIDTH
    expected = {
        i: np.zeros(WIDTH, np.float32) if v is None else np.asarray(v, np.float32)
        for i, v in enumerate(vectors)
    }
    assert _check_rows(dataset, expected, slice(0, WIDTH)) == ROWS
    train_ids = dataset.split("train").x_num[:, 0].astype(int)
    contiguous = np.array_equal(train_ids, np.arange(len(train_ids)))
    assert contiguous == (protocol == "sequential")  # x4 draws each row's split at random


def test_a_fixed_size_array_column_reads_its_width(tmp_path: Path) -> None:
    card = _card(tmp_path / "cards")
    vectors = [_vector(i, 3) for i in range(40)]
    path = tmp_path / "items.parquet"
    _frame(vectors, pl.Array(pl.Float32, 3)).write_parquet(path)

    dataset = _prepare(card, (path,), tmp_path)

    assert dataset.schema.vectors == (VectorFeature("emb", 3, "column", ""),)
    expected = {i: np.asarray(v, np.float32) for i, v in enumerate(vectors)}
    assert _check_rows(dataset, expected, slice(0, 3)) == 40


def test_a_vector_of_another_length_names_file_and_row(tmp_path: Path) -> None:
    card = _card(tmp_path / "cards")
    vectors: list[list[float] | None] = [None, *(_vector(i) for i in range(1, 40))]
    vectors[17] = _vector(17, WIDTH + 1)
    path = tmp_path / "items.parquet"
    _frame(vectors).write_parquet(path)

    with pytest.raises(HarnessError) as error:
        _prepare(card, (path,), tmp_path)

    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("items.parquet row 18: vector column emb has 6 values")
    assert "the first vector has 5" in message


def test_a_missing_value_inside_a_vector_is_an_error_or_a_skipped_row(tmp_path: Path) -> None:
    card = _card(tmp_path / "cards")
    vectors: list[list[float | None] | None] = [list(_vector(i)) for i in range(30)]
    vectors[9] = [1.0, float("nan"), 2.0, 3.0, 4.0]
    vectors[20] = [1.0, None, 2.0, 3.0, 4.0]
    vectors[25] = None  # a missing vector is zeros, not a bad row
    path = tmp_path / "items.parquet"
    _frame(vectors).write_parquet(path)

    with pytest.raises(HarnessError) as error:
        _prepare(card, (path,), tmp_path)
    message = str(error.value)
    assert message.startswith("items.parquet row 10: column emb is [1.0, nan, 2.0, 3.0, 4.0]")
    assert "none missing or infinite" in message and "--bad-rows skip" in message

    skipped = prepare_dataset(
        card,
        DataFiles((path,)),
        PreprocessConfig(protocol="sequential", seed=5, block_bytes=600, bad_rows="skip"),
        cache_root=tmp_path / "skip",
        progress=False,
    )
    assert skipped.skipped_rows == 2
    kept = {
        i: np.zeros(WIDTH, np.float32) if v is None else np.asarray(v, np.float32)
        for i, v in enumerate(vectors)
        if i not in (9, 20)
    }
    assert _check_rows(skipped, kept, slice(0, WIDTH)) == 28


def test_a_column_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    card = _card(tmp_path / "cards")
    path = tmp_path / "items.parquet"
    _frame([_vector(i) for i in range(30)]).with_columns(pl.lit("x").alias("emb")).write_parquet(
        path
    )

    with pytest.raises(HarnessError, match="column emb is String in the file"):
        _prepare(card, (path,), tmp_path)


def _parse(text: str) -> DatasetCard:
    return parse_card(tomllib.loads(text), path="items.toml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('format = "parquet"', 'format = "csv"'),
            "items.toml: vectors: vector columns need a parquet file",
        ),
        (
            ('int = ["id"]', 'int = ["id"]\nfloat = ["emb"]'),
            "items.toml: vectors: column 'emb' is also a feature",
        ),
        (
            ('column = "clicked"', 'column = "emb"'),
            "items.toml: vectors: column 'emb' is also a task's label column",
        ),
        (
            ('vectors = ["emb"]', 'vectors = ["emb"]\ntext = ["emb"]'),
            "items.toml: vectors: column 'emb' is also a text column",
        ),
        (('vectors = ["emb"]', 'vectors = ["emb", "emb"]'), "items.toml: vectors: 'emb' is listed"),
        (('vectors = ["emb"]', "vectors = [1]"), "items.toml: vectors: must be a list of strings"),
    ],
)
def test_card_mistakes_are_one_line_errors(change: tuple[str, str], message: str) -> None:
    with pytest.raises(HarnessError) as error:
        _parse(CARD.replace(*change))
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_the_fingerprint_changes_only_for_cards_with_vectors() -> None:
    without = CARD.replace('vectors = ["emb"]\n', "")
    plain = _parse(without)
    assert plain.vectors == ()
    with_empty = _parse(
        without.replace('files = ["items.parquet"]', 'files = ["items.parquet"]\nvectors = []')
    )
    assert with_empty.fingerprint == plain.fingerprint
    assert _parse(CARD).fingerprint != plain.fingerprint
    assert _parse(CARD).vectors == ("emb",)


def test_text_features_come_first_then_vector_columns(tmp_path: Path) -> None:
    card = _card(
        tmp_path / "cards", CARD.replace('vectors = ["emb"]', 'vectors = ["emb"]\ntext = ["note"]')
    )
    notes = ["Love it.", "Returned it.", None]
    vectors = [None if i == 7 else _vector(i) for i in range(30)]
    frame = _frame(vectors).with_columns(pl.Series("note", [notes[i % 3] for i in range(30)]))
    path = tmp_path / "items.parquet"
    frame.write_parquet(path)

    dataset = _prepare(card, (path,), tmp_path, "x4")

    text_width = dataset.schema.vectors[0].width
    assert [(v.name, v.source) for v in dataset.schema.vectors] == [
        ("note", "text"),
        ("emb", "column"),
    ]
    assert dataset.schema.vector_width == text_width + WIDTH
    encoded = encode_texts([n for n in notes if n], cache_root=tmp_path / "cache").vectors
    by_note = {**dict(zip(notes[:2], encoded, strict=True)), None: np.zeros(text_width)}
    texts = {i: by_note[notes[i % 3]].astype(np.float32) for i in range(30)}
    vecs = {
        i: np.zeros(WIDTH, np.float32) if v is None else np.asarray(v, np.float32)
        for i, v in enumerate(vectors)
    }
    assert _check_rows(dataset, texts, slice(0, text_width)) == 30
    assert _check_rows(dataset, vecs, slice(text_width, None)) == 30


def test_the_schema_json_round_trips_a_vector_column() -> None:
    schema = FeatureSchema(
        numeric=(),
        categorical=(),
        labels=("click",),
        vectors=(VectorFeature("note", 384, "text", "m"), VectorFeature("emb", 16, "column", "")),
    )
    back = FeatureSchema.from_json(schema.to_json())
    assert back == schema
    assert back.vectors[1].source == "column" and back.vectors[1].model == ""


def test_the_synthetic_stand_in_writes_the_vector_with_its_signal(tmp_path: Path) -> None:
    card = _card(tmp_path / "cards")
    files = write_synthetic_table(card, tmp_path / "raw", 4000)
    frame = pl.read_parquet(files.main[0])

    assert frame.schema["emb"] == pl.List(pl.Float32)
    present = frame.filter(pl.col("emb").is_not_null())
    assert 0.9 < present.height / frame.height < 0.99
    assert set(present["emb"].list.len().to_list()) == {VECTOR_WIDTH}
    values = np.stack(present["emb"].to_list())
    projection = values @ vector_direction(card, "emb")
    clicked = present["clicked"].cast(pl.Float64).to_numpy()
    # The planted term moves the click rate: the top third by projection clicks far more.
    order = np.argsort(projection)
    third = len(order) // 3
    assert clicked[order[-third:]].mean() > clicked[order[:third]].mean() + 0.15

    dataset = _prepare(card, files.main, tmp_path)
    assert dataset.schema.vectors == (VectorFeature("emb", VECTOR_WIDTH, "column", ""),)


ITEM_CARD = """
name = "clicks"
title = "clicks on items"
description = "per-item text and vectors from a side table"
licence = "none"
source = "made here"
format = "parquet"
files = ["clicks.parquet"]
protocol = "x4"
min_count = 1
text = ["blurb"]
vectors = ["emb"]
[[join]]
file = ["items.parquet"]
on = "item_id"
[tasks.click]
column = "click"
[numeric]
int = ["age"]
[categorical]
int = ["item_id"]
"""


def test_per_item_text_and_vectors_come_from_a_joined_side_table(tmp_path: Path) -> None:
    """Item features kept once per item (a side table) reach every row of that item."""
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "clicks.toml").write_text(ITEM_CARD)
    card = load_card(tmp_path / "cards" / "clicks.toml")
    blurbs = [f"item {i} is {'lovely' if i % 2 else 'awful'}" for i in range(20)]
    items = pl.DataFrame(
        {
            "item_id": list(range(20)),
            "blurb": blurbs,
            "emb": [[float(i), float(-i), 1.0] for i in range(20)],
        }
    )
    ids = np.random.default_rng(0).integers(0, 20, 300)
    clicks = pl.DataFrame({"item_id": ids, "age": ids + 20, "click": (ids % 2).astype(int)})
    items.write_parquet(tmp_path / "items.parquet")
    clicks.write_parquet(tmp_path / "clicks.parquet")
    files = DataFiles(main=(tmp_path / "clicks.parquet",), sides=(tmp_path / "items.parquet",))
    dataset = prepare_dataset(
        card, files, PreprocessConfig(protocol="sequential"), cache_root=tmp_path, progress=False
    )
    assert [(v.name, v.width, v.source) for v in dataset.schema.vectors] == [
        ("blurb", 384, "text"),
        ("emb", 3, "column"),
    ]
    x = np.concatenate([dataset.split(s).x_vec for s in SPLIT_NAMES])  # type: ignore[misc]
    np.testing.assert_array_equal(x[:, 384:], np.stack([ids, -ids, np.ones_like(ids)], 1))
    texts = encode_texts(blurbs, cache_root=tmp_path).vectors  # from the cache: exact
    np.testing.assert_array_equal(x[:, :384], texts[ids])
