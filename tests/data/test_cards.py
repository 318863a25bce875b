"""Dataset cards: every shipped card loads and its synthetic stand-in prepares to the card's
schema; every mistake in a card is one line naming the card file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.data.card import DatasetCard, card_names, load_card, parse_card
from harness.data.preprocess import PreprocessConfig, prepare_dataset
from harness.data.registry import write_synthetic
from harness.data.table import CanonicalColumns
from harness.errors import HarnessError

PATH = "cards/mine.toml"


def _raw(**changes: Any) -> dict[str, Any]:
    """A small valid card as parsed TOML, with ``changes`` applied (None deletes a key)."""
    raw: dict[str, Any] = {
        "name": "mine",
        "format": "parquet",
        "files": ["mine.parquet"],
        "tasks": {"y": {"column": "y"}},
        "numeric": {"int": ["a"]},
        "categorical": {"string": ["b"]},
    }
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def _error(raw: dict[str, Any]) -> str:
    with pytest.raises(HarnessError) as info:
        parse_card(raw, path=PATH)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- every shipped card ----------------------------------------------------------------------


def test_the_shipped_cards_are_the_documented_ones() -> None:
    assert card_names() == (
        "adult", "avazu", "criteo", "criteo-1tb", "kdd2004", "movielens", "reviews",
    )  # fmt: skip


@pytest.mark.parametrize("name", card_names())
def test_every_shipped_card_loads(name: str) -> None:
    card = load_card(name)
    assert card.name == name
    assert Path(card.path).name == f"{name}.toml"
    assert len(card.fingerprint) == 12
    assert card.tasks and (card.numeric or card.categorical)
    types = card.raw_types()  # raises on an inconsistent card
    for task in card.tasks:
        assert task.column in types
    assert load_card(Path(card.path)) == card  # by path as by name


def test_a_base_card_is_inherited_but_not_its_download() -> None:
    criteo, tb = load_card("criteo"), load_card("criteo-1tb")
    assert criteo.download is not None and tb.download is None
    assert tb.features == criteo.features and tb.columns == criteo.columns
    assert tb.tasks == criteo.tasks and tb.format == "tsv" and not tb.header
    assert (tb.files, tb.numbered) == ((), "day_")
    assert tb.fingerprint == criteo.fingerprint  # the same rows encode the same way


@pytest.mark.parametrize("name", card_names())
def test_synthetic_stand_in_prepares_to_the_cards_schema(name: str, tmp_path: Path) -> None:
    card = load_card(name)
    files = write_synthetic(card, tmp_path / "raw", 300)
    dataset = prepare_dataset(
        card,
        files,
        PreprocessConfig(protocol=card.protocol, min_count=card.min_count),
        cache_root=tmp_path / "cache",
        progress=False,
        synthetic=True,
    )
    schema = dataset.schema
    columns = CanonicalColumns.of(card)
    assert tuple(f.name for f in schema.numeric) == card.numeric
    assert tuple(f.kind for f in schema.numeric) == columns.numeric_kinds
    assert tuple(f.name for f in schema.categorical) == card.categorical
    assert tuple(f.kind for f in schema.categorical) == columns.categorical_kinds
    assert schema.labels == tuple(t.name for t in card.tasks)
    assert schema.query_group == card.group
    assert dataset.protocol == card.protocol
    assert dataset.title == f"{name} (synthetic)"
    assert sum(dataset.split(s).n_rows for s in ("train", "valid", "test")) == 300
    for split_name in ("train", "valid", "test"):
        split = dataset.split(split_name)
        n = split.n_rows
        assert n > 0
        assert split.x_num.shape == (n, len(card.numeric))
        assert split.x_cat.shape == (n, len(card.categorical))
        assert split.y.shape == (n, len(card.tasks))
        assert set(np.unique(split.y).tolist()) <= {0.0, 1.0}
        if card.categorical:
            assert (split.x_cat >= 0).all()
            assert (split.x_cat < np.array(schema.cardinalities)).all()
        if card.group is None:
            assert split.group is None
        else:
            assert split.group is not None and split.group.shape == (n,)
        if not card.text:
            assert split.x_vec is None
        else:  # one sentence embedding per text column (all-MiniLM-L6-v2: 384 wide)
            assert split.x_vec is not None and split.x_vec.shape == (n, 384 * len(card.text))
            assert schema.vector_width == 384 * len(card.text)
    assert tuple(v.name for v in schema.vectors) == card.text
    # The planted label is not constant on the training rows.
    assert 0.0 < float(dataset.train.y[:, 0].mean()) < 1.0


# --- mistakes: one line naming the file and the key ------------------------------------------


def test_a_stand_in_is_written_once_then_reused_also_for_numbered_files(tmp_path: Path) -> None:
    card = parse_card(_raw(files=[], numbered="part_", format="csv", header=True), path=PATH)
    first = write_synthetic(card, tmp_path, 200)
    assert first.main == (tmp_path / "part_0",)
    stamp = first.main[0].stat().st_mtime_ns
    again = write_synthetic(card, tmp_path, 200)  # reused, not rewritten
    assert again == first and first.main[0].stat().st_mtime_ns == stamp


def test_a_derived_feature_reads_an_integer_source() -> None:
    derived = {"h": {"from": "b", "op": "unix_hour"}}
    assert _error(_raw(derived=derived)) == (
        f"{PATH}: derived.h.from: unix_hour reads an integer column, and b is declared string; "
        "declare it int (or derive from another column)"
    )
    card = parse_card(_raw(derived={"h": {"from": "a", "op": "unix_hour"}}), path=PATH)
    assert card.categorical == ("b", "h")


@pytest.mark.parametrize(
    ("changes", "key", "says"),
    [
        ({"licnce": "CC0"}, "licnce", "unknown key; did you mean 'licence'?"),
        ({"format": "xlsx"}, "format", "must be one of csv, tsv, parquet, got 'xlsx'"),
        ({"format": "tsv"}, "columns", "a file without a header line needs its column names"),
        ({"format": "csv", "header": False}, "columns", "needs its column names in order"),
        ({"numeric": {"double": ["a"]}}, "numeric.double", "numeric types are int, int32, float"),
        ({"numeric": {"a": "double"}}, "numeric.a", "numeric types are int, int32, float"),
        (
            {"categorical": {"float": ["b"]}},
            "categorical.float",
            "categorical types are string, int, hex",
        ),
        ({"categorical": {"b": "date"}}, "categorical.b", "categorical types are string, int"),
        (
            {"categorical": {"string": ["a"]}},
            "numeric/categorical",
            "feature 'a' is listed twice",
        ),
        ({"numeric": {"int": ["a", "a"]}}, "numeric.int", "'a' is listed twice"),
        (
            {"tasks": {"y": {"column": "a"}}},
            "tasks.y",
            "column 'a' is also a feature: the model would see its own label",
        ),
        (
            {"tasks": {"y": {"column": "y", "positive": ["z"], "values": ["p", "q"]}}},
            "tasks.y.positive",
            "'z' is not one of `values`",
        ),
        (
            {"tasks": {"y": {"column": "y", "positive": {"ge": "4"}}}},
            "tasks.y.positive.ge",
            "must be a number, got '4'",
        ),
        (
            {"tasks": {"y": {"column": "y", "positive": {"between": 4}}}},
            "tasks.y.positive",
            "a threshold is one of",
        ),
        (
            {"tasks": {"y": {"column": "y", "positive": ["yes"]}}},
            "tasks.y.values",
            "list every value the column may hold",
        ),
        ({"tasks": {"y": {"column": "y", "weight": 2}}}, "tasks.y.weight", "unknown key"),
        ({"tasks": None}, "tasks", "name at least one task"),
        (
            {"derived": {"h": {"from": "t", "op": "hour_of_year"}}},
            "derived.h.op",
            "unknown op 'hour_of_year'; valid: yymmddhh_hour, yymmddhh_weekday, unix_hour",
        ),
        (
            {"derived": {"h": {"from": "t", "op": "unix_hour", "role": "text"}}},
            "derived.h.role",
            "numeric or categorical, got 'text'",
        ),
        ({"protocol": "time"}, "protocol", "'time' needs the card's `time` column"),
        ({"protocol": "group"}, "protocol", "'group' needs the card's `group` column"),
        ({"protocol": "last", "group": "u"}, "protocol", "'last' needs the card's `time` column"),
        ({"protocol": "last", "time": "t"}, "protocol", "'last' needs the card's `group` column"),
        ({"protocol": "random"}, "protocol", "unknown split protocol 'random'; valid: sequential"),
        ({"files": None}, "files", "name the data file(s)"),
        ({"min_count": 0}, "min_count", "must be an integer >= 1, got 0"),
        ({"separator": ";"}, "separator", "only for csv and tsv files"),
        ({"join": [{"file": "u.parquet"}]}, "join[0].on", "missing"),
        ({"synthetic": {"rows": 5}}, "synthetic.rows", "an integer >= 10, got 5"),
    ],
)
def test_a_mistake_is_one_line_naming_file_and_key(
    changes: dict[str, Any], key: str, says: str
) -> None:
    message = _error(_raw(**changes))
    assert message.startswith(f"{PATH}: {key}: "), message
    assert says in message


def test_unknown_key_lists_the_valid_keys() -> None:
    message = _error(_raw(protcol="x4"))
    assert "did you mean 'protocol'?" in message
    assert "(valid: name, title, description" in message
    # The words other tools use point at the card's keys.
    message = _error(_raw(features={"a": "int"}))
    assert "features: unknown key; did you mean 'numeric' and 'categorical'" in message
    assert "did you mean 'tasks' ([tasks.<name>] column = ...)?" in _error(_raw(label="y"))


def test_the_protocol_needs_are_met_by_the_card() -> None:
    assert parse_card(_raw(protocol="time", time="t"), path=PATH).time == "t"
    card = parse_card(_raw(protocol="last", time="t", group="u"), path=PATH)
    assert (card.protocol, card.group, card.time) == ("last", "u", "t")


def test_headerless_text_needs_every_feature_in_columns() -> None:
    raw = _raw(format="tsv", columns=["y", "a"])
    message = _error(raw)
    assert message == f"{PATH}: features: column 'b' is not in `columns`"
    card = parse_card(_raw(format="tsv", columns=["y", "a", "b"]), path=PATH)
    assert (card.header, card.delimiter) == (False, "\t")


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_unknown_base_names_the_card_and_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "mine.toml", 'base = "critoe"\nname = "mine"\n')
    with pytest.raises(HarnessError) as info:
        load_card(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: base: no card 'critoe'")
    assert "criteo" in message  # the known cards are listed


def test_a_base_must_be_a_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "mine.toml", 'base = 3\nname = "mine"\n')
    with pytest.raises(HarnessError, match=r"mine\.toml: base: the name of another card, got 3"):
        load_card(path)


def test_a_card_with_a_base_overrides_its_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "mine.toml", 'base = "criteo"\nname = "mine"\nprotocol = "x1"\nmin_count = 5\n'
    )
    card = load_card(path)
    assert (card.name, card.protocol, card.min_count) == ("mine", "x1", 5)
    assert card.path == str(path)
    assert len(card.numeric) == 13 and len(card.categorical) == 26


def test_invalid_toml_and_missing_card_are_one_line(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.toml", 'name = "x\n')
    with pytest.raises(HarnessError, match=r"bad\.toml: not valid TOML: ") as info:
        load_card(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(HarnessError, match=r"unknown dataset 'nope'; cards in .*: adult"):
        load_card("nope")


def test_local_cards_add_to_the_shipped_ones_and_inherit_beside_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "datasets"
    local.mkdir()
    _write(local, "shop.toml", 'base = "criteo"\nname = "shop"\nmin_count = 3\n')
    _write(local, "shop-x1.toml", 'base = "shop"\nname = "shop-x1"\nprotocol = "x1"\n')
    # Takes the shipped card's name and inherits from it: it hides the shipped card.
    _write(local, "criteo.toml", 'base = "criteo"\nname = "criteo"\nmin_count = 7\n')
    monkeypatch.chdir(tmp_path)
    names = card_names()
    assert {"shop", "shop-x1", "criteo", "avazu", "adult"} <= set(names)
    card = load_card("shop-x1")  # its base is the local shop, whose base is the shipped criteo
    assert (card.name, card.protocol, card.min_count) == ("shop-x1", "x1", 3)
    criteo = load_card("criteo")
    assert criteo.path == str(Path("datasets") / "criteo.toml")
    assert (criteo.min_count, len(criteo.categorical)) == (7, 26)
    assert load_card("avazu").path.endswith(str(Path("datasets") / "avazu.toml"))
    # An explicit folder is the only one looked in.
    with pytest.raises(HarnessError, match=r"unknown dataset 'avazu'; cards in .*: criteo, shop"):
        load_card("avazu", folder=local)


def test_cards_inheriting_in_a_circle_are_one_error(tmp_path: Path) -> None:
    _write(tmp_path, "a.toml", 'base = "b"\nname = "a"\n')
    _write(tmp_path, "b.toml", 'base = "a"\nname = "b"\n')
    with pytest.raises(HarnessError) as info:
        load_card(tmp_path / "a.toml")
    assert str(info.value) == (
        f"{tmp_path / 'b.toml'}: base: the cards inherit in a circle (a -> b -> a)"
    )


# --- fingerprint -------------------------------------------------------------------------------


def _fingerprint(**changes: Any) -> str:
    card: DatasetCard = parse_card(_raw(**changes), path=PATH)
    return card.fingerprint


def test_fingerprint_follows_what_changes_the_arrays() -> None:
    base = _fingerprint()
    assert _fingerprint(description="another description") == base
    assert _fingerprint(title="T", licence="CC0", source="s", docs="d.md") == base
    assert _fingerprint(synthetic={"rows": 99}) == base
    assert _fingerprint(numeric={"float": ["a"]}) != base  # a type changes
    assert _fingerprint(categorical={"hex": ["b"]}) != base
    assert _fingerprint(missing_values=["?"]) != base
    assert _fingerprint(tasks={"y": {"column": "y", "positive": {"ge": 1}}}) != base
    assert _fingerprint(group="g") != base
