"""A card's text columns become ``x_vec``: one sentence embedding per text column and row, in
the rows' own order in every split (whatever the protocol, the shards and the blocks), a zero
vector for a missing text, the text model in the cache key, and the embeddings reused across
preparations (`harness.data.text` encodes each distinct text once per model).

The module prepares one synthetic card (two text columns, two shards of many blocks) under
four protocols; the model loads once, for the first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import harness.data.text as text_module
from harness.data.card import DatasetCard, load_card, parse_card
from harness.data.preprocess import DataFiles, PreprocessConfig, cache_dir_for, prepare_dataset
from harness.data.schema import SPLIT_NAMES, EncodedDataset, FeatureSchema, VectorFeature
from harness.data.synthetic_table import write_synthetic_table
from harness.data.text import PACKAGED_MODEL, TextModel, encode_texts
from harness.errors import HarnessError

SharedFile = Callable[[str], Path]

CARD = """
name = "shop-reviews"
format = "parquet"
files = ["shop.parquet"]
protocol = "x4"
time = "ts"
group = "user"
text = ["review", "title"]

[tasks.click]
column = "clicked"

[numeric]
float = ["score"]      # normal draws: each row's own value, so it tells which raw row it is

[categorical]
string = ["shop"]

[synthetic]
rows = 400
[synthetic.cardinality]
user = 60
shop = 10
"""
PROTOCOLS = ("x4", "time", "group", "last")  # by index; by time, group and time+group (frame)
WIDTH = 384


@dataclass(frozen=True)
class Prepared:
    card: DatasetCard
    files: DataFiles
    raw: pl.DataFrame  # the shards' rows in order
    cache_root: Path
    datasets: dict[str, EncodedDataset]
    text_meta: dict[str, dict[str, object]]


def _card(folder: Path, text: str = CARD) -> DatasetCard:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shop-reviews.toml").write_text(text)
    return load_card(folder / "shop-reviews.toml")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    root = tmp_path_factory.mktemp("text-features")
    card = _card(root / "cards")
    whole = write_synthetic_table(card, root / "raw", 400).main[0]
    raw = pl.read_parquet(whole)
    shards = (root / "raw" / "part-0.parquet", root / "raw" / "part-1.parquet")
    raw.slice(0, 250).write_parquet(shards[0])
    raw.slice(250).write_parquet(shards[1])
    files = DataFiles(shards)
    datasets, metas = {}, {}
    for i, protocol in enumerate(PROTOCOLS):
        with pytest.MonkeyPatch.context() as patch:
            if i:  # every later preparation reads the embeddings from the cache
                patch.setattr(text_module, "_Encoder", _refuse)
            dataset = prepare_dataset(
                card,
                files,
                PreprocessConfig(protocol=protocol, seed=3, block_bytes=3_000),
                cache_root=root / "cache",
                progress=False,
                synthetic=True,
            )
        assert dataset.cache_dir is not None
        datasets[protocol] = dataset
        metas[protocol] = json.loads((Path(dataset.cache_dir) / "meta.json").read_text())["text"]
    return Prepared(card, files, raw, root / "cache", datasets, metas)


def _refuse(model: TextModel) -> None:
    raise AssertionError(f"{model.name} was loaded again, but every text is in the cache")


def _expected(prepared: Prepared) -> tuple[dict[float, int], np.ndarray]:
    """score (float32) -> raw row, and each raw row's vectors (review, then title)."""
    parts = [
        encode_texts(prepared.raw[c].to_list(), cache_root=prepared.cache_root).vectors
        for c in ("review", "title")
    ]
    scores = prepared.raw["score"].cast(pl.Float32).to_numpy()
    by_score = {float(s): i for i, s in enumerate(scores) if not np.isnan(s)}
    assert len(by_score) > 350  # present and distinct: the score names the row
    return by_score, np.concatenate(parts, axis=1)


def _traced_rows(
    dataset: EncodedDataset, by_score: dict[float, int]
) -> Iterator[tuple[str, np.ndarray, int]]:
    """Every encoded row whose score names its raw row: ``(split, its x_vec row, raw row)``."""
    for name in SPLIT_NAMES:
        split = dataset.split(name)
        assert split.x_vec is not None
        for row, score in enumerate(split.x_num[:, 0]):
            if not np.isnan(score):
                yield name, split.x_vec[row], by_score[float(score)]


def test_each_split_has_a_vector_per_row_and_text_column(prepared: Prepared) -> None:
    for dataset in prepared.datasets.values():
        assert dataset.schema.vectors == (
            VectorFeature("review", WIDTH, "text", PACKAGED_MODEL),
            VectorFeature("title", WIDTH, "text", PACKAGED_MODEL),
        )
        assert dataset.schema.vector_slices() == (slice(0, WIDTH), slice(WIDTH, 2 * WIDTH))
        for name in SPLIT_NAMES:
            split = dataset.split(name)
            assert split.x_vec is not None and isinstance(split.x_vec, np.memmap)
            assert split.x_vec.shape == (split.n_rows, 2 * WIDTH)
            assert split.x_vec.dtype == np.float32
        assert sum(dataset.split(s).n_rows for s in SPLIT_NAMES) == 400
    meta = json.loads((Path(str(prepared.datasets["x4"].cache_dir)) / "meta.json").read_text())
    assert meta["blocks"] > 4  # the rows really came in several shards and blocks


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_vectors_line_up_with_their_rows(prepared: Prepared, protocol: str) -> None:
    by_score, expected = _expected(prepared)
    dataset = prepared.datasets[protocol]
    checked = 0
    for _, vector, raw_row in _traced_rows(dataset, by_score):
        np.testing.assert_array_equal(vector, expected[raw_row])
        checked += 1
    assert checked > 350


def test_missing_texts_are_zero_vectors(prepared: Prepared) -> None:
    by_score, _ = _expected(prepared)
    missing = prepared.raw["review"].is_null().to_numpy()
    assert missing.any()
    zeros = 0
    for _, vector, raw_row in _traced_rows(prepared.datasets["x4"], by_score):
        if missing[raw_row]:
            assert not vector[:WIDTH].any()  # the review's columns
            zeros += 1
    assert zeros > 5


def test_equal_texts_get_equal_vectors_across_splits(prepared: Prepared) -> None:
    dataset = prepared.datasets["x4"]
    by_score, _ = _expected(prepared)
    seen: dict[str, tuple[str, np.ndarray]] = {}
    across = 0
    for name, vector, raw_row in _traced_rows(dataset, by_score):
        text = prepared.raw["review"][raw_row]
        if text is None:
            continue
        if text in seen:
            first_split, first = seen[text]
            np.testing.assert_array_equal(vector[:WIDTH], first)
            across += first_split != name
        else:
            seen[text] = (name, np.array(vector[:WIDTH]))
    assert across > 0  # the stock reviews ("Love it!") recur in several splits


def test_another_protocol_reuses_the_embeddings(prepared: Prepared) -> None:
    first = prepared.text_meta["x4"]
    distinct = prepared.raw["review"].drop_nulls().append(prepared.raw["title"].drop_nulls())
    assert first["distinct_texts"] == distinct.n_unique()
    assert first["encoded"] == first["distinct_texts"] and first["reused"] == 0
    assert first["model"] == PACKAGED_MODEL and first["width"] == WIDTH
    for protocol in PROTOCOLS[1:]:  # prepared with the model refused: all from the cache
        meta = prepared.text_meta[protocol]
        assert meta["encoded"] == 0 and meta["reused"] == first["distinct_texts"]


def test_the_schema_json_round_trips_the_vectors(prepared: Prepared) -> None:
    dataset = prepared.datasets["x4"]
    text = (Path(str(dataset.cache_dir)) / "schema.json").read_text()
    schema = FeatureSchema.from_json(text)
    assert schema == dataset.schema and len(schema.vectors) == 2
    assert FeatureSchema.from_json(schema.to_json()) == schema


def test_the_cache_key_follows_the_text_model(prepared: Prepared, tmp_path: Path) -> None:
    config = PreprocessConfig(protocol="x4", seed=3)

    def key(card: DatasetCard) -> str:
        return cache_dir_for(prepared.files, config, card, cache_root=tmp_path, synthetic=True).name

    folder = tmp_path / "cards"
    (folder / "models" / "mine").mkdir(parents=True)
    (folder / "models" / "mine" / "modules.json").write_text("[]")
    local = _card(folder, CARD.replace('text = ["review", "title"]', _MINE))
    assert local.text_model == str((folder / "models" / "mine").resolve())
    assert local.fingerprint != prepared.card.fingerprint
    assert key(local) != key(prepared.card)
    before = key(local)
    (folder / "models" / "mine" / "config.json").write_text("{}")  # the model changed
    assert key(local) != before
    # Without text columns neither the fingerprint nor the key knows of text models (the keys
    # of caches from before text columns still hit).
    plain = _card(tmp_path / "plain", CARD.replace('text = ["review", "title"]\n', ""))
    empty = _card(tmp_path / "empty", CARD.replace('text = ["review", "title"]', "text = []"))
    assert plain.fingerprint == empty.fingerprint != prepared.card.fingerprint
    with_text = key(prepared.card)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TextModel, "key", _refuse)
        assert key(plain) != with_text


_MINE = 'text = ["review", "title"]\ntext_model = "models/mine"'


def test_a_missing_text_model_stops_before_parsing(prepared: Prepared, tmp_path: Path) -> None:
    card = _card(tmp_path, CARD.replace('text = ["review", "title"]', _MINE))
    with pytest.raises(HarnessError) as info:
        prepare_dataset(card, prepared.files, PreprocessConfig(), cache_root=tmp_path / "c")
    assert "models/mine: no such folder" in str(info.value)
    assert not (tmp_path / "c").exists()  # nothing parsed or written


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"text": ["clicked"]},
            "text: column 'clicked' is a task's label column: the model would see its own label",
        ),
        (
            {"text": ["score"]},
            "text: column 'score' is also a numeric float feature; a text column is read as a "
            "string (only a string categorical may also be text)",
        ),
        (
            {"text": [], "text_model": "m"},
            "text_model: names the encoder of the `text` columns, and the card has none",
        ),
        ({"text_model": 3}, "text_model: must be a string, got 3"),
    ],
)
def test_card_mistakes_in_text_are_one_line(edit: dict[str, object], message: str) -> None:
    raw: dict[str, object] = {
        "name": "t",
        "format": "parquet",
        "files": ["t.parquet"],
        "text": ["review"],
        "tasks": {"click": {"column": "clicked"}},
        "numeric": {"float": ["score"]},
        "categorical": {"string": ["shop"]},
    }
    with pytest.raises(HarnessError) as info:
        parse_card({**raw, **edit}, path="t.toml")
    assert str(info.value) == f"t.toml: {message}"


def test_a_string_categorical_may_also_be_text() -> None:
    raw = {
        "name": "t",
        "format": "parquet",
        "files": ["t.parquet"],
        "text": ["shop"],
        "tasks": {"click": {"column": "clicked"}},
        "categorical": {"string": ["shop"]},
    }
    card = parse_card(raw, path="t.toml")
    assert card.text == ("shop",) and card.text_model == PACKAGED_MODEL


def test_the_stand_in_plants_a_signal_in_its_texts(tmp_path: Path) -> None:
    """The reviews card's stand-in: opinion words follow the label, deterministically."""
    card = load_card("reviews")
    first = pl.read_parquet(write_synthetic_table(card, tmp_path / "a", 3000).main[0])
    again = pl.read_parquet(write_synthetic_table(card, tmp_path / "b", 3000).main[0])
    assert first.equals(again)
    texts = first["Review Text"].fill_null("").str.to_lowercase()
    good = sum(texts.str.count_matches(w) for w in ("love", "perfect", "flattering"))
    bad = sum(texts.str.count_matches(w) for w in ("returned", "cheap", "itchy"))
    label = first["Recommended IND"]
    rate_good = label.filter(good > bad).mean()
    rate_bad = label.filter(bad > good).mean()
    assert isinstance(rate_good, float) and isinstance(rate_bad, float)
    assert rate_good > rate_bad + 0.15
    assert 0.04 < first["Review Text"].null_count() / 3000 < 0.06
    assert first["Review Text"].n_unique() < 2900  # texts recur ("Love it!")


# --- the real table ----------------------------------------------------------------------------


def test_reviews_card_on_real_rows(shared_file: SharedFile, tmp_path: Path) -> None:
    """The shipped card over the first 300 rows of the real table (the whole table, 22,634
    distinct texts, takes about 8 minutes to encode on 2 cores: too long for a test; the
    committed reviews board was prepared from it)."""
    source = shared_file("womens_clothing_reviews/reviews.parquet")
    head = pl.read_parquet(source).head(300)
    path = tmp_path / "reviews.parquet"
    head.write_parquet(path)
    card = load_card("reviews")
    dataset = prepare_dataset(
        card, path, PreprocessConfig(protocol="sequential"), cache_root=tmp_path, progress=False
    )
    texts = head["Review Text"].to_list()
    expected = encode_texts(texts, cache_root=tmp_path).vectors  # from the cache: exact
    got = np.concatenate([dataset.split(s).x_vec for s in SPLIT_NAMES])  # type: ignore[misc]
    np.testing.assert_array_equal(got, expected)  # sequential: the rows in file order
    assert got.shape == (300, WIDTH)
    missing = [i for i, t in enumerate(texts) if t is None]
    assert missing and not got[missing].any()
    labels = np.concatenate([dataset.split(s).y[:, 0] for s in SPLIT_NAMES])
    np.testing.assert_array_equal(labels, head["Recommended IND"].to_numpy())
