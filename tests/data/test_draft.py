"""``harness data init``: a drafted card for a user's own CSV or parquet file loads, has the roles
and types the draft module documents, and prepares; ``harness data list --markdown``."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from harness.cli import main
from harness.commands import datasets_markdown
from harness.data.card import DatasetCard, card_names, load_card
from harness.data.draft import draft_card
from harness.data.preprocess import DataFiles, PreprocessConfig, prepare_dataset
from harness.errors import HarnessError

ROWS = 200


def _table(parquet: bool) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    i = np.arange(ROWS)
    columns: dict[str, object] = {
        "user_id": i % 50,  # an id by its name
        "level": i % 5,  # few values
        "count": (i * 7) % 150,  # a number
        "price": rng.normal(10.0, 2.0, ROWS),
        "city": [["paris", "rome", "oslo"][k % 3] for k in i],
        "h": [f"{0xA0C0FFEE + k % 40:08x}" for k in i],  # 8 hex digits
        "review": [f"a long free text review, number {k}, with a few words in it" for k in i],
        "row": i * 3 + 1,  # a distinct value in every row: a row id
        "flag": i % 4 == 0,  # true/false
        "empty": pl.Series([None] * ROWS, dtype=pl.Int64),
        "y": (i % 3 == 0).astype(np.int64),
        "outcome": [["no", "no", "yes"][k % 3] for k in i],
    }
    if parquet:
        start = datetime.date(2024, 1, 1)
        columns["day"] = [start + datetime.timedelta(days=int(k % 30)) for k in i]
    return pl.DataFrame(columns)


def _file(tmp_path: Path, fmt: str) -> Path:
    frame = _table(fmt == "parquet")
    path = tmp_path / f"shop.{fmt}"
    if fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)
    return path


def _draft_and_load(path: Path, label: str, **options: str) -> tuple[str, DatasetCard]:
    draft = draft_card(path, label=label, **options)
    out = path.with_name(f"{path.stem}-{label}.toml")
    out.write_text(draft.text)
    return draft.text, load_card(out)


def _role(card: DatasetCard, name: str) -> tuple[str, str] | None:
    column = card.column(name)
    return None if column is None else (column.role, column.type)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_drafted_card_round_trips(tmp_path: Path, fmt: str) -> None:
    path = _file(tmp_path, fmt)
    text, card = _draft_and_load(path, "y")
    assert (card.name, card.format, card.files, card.protocol) == ("shop", fmt, (path.name,), "x4")
    assert card.header  # a drafted CSV says so; parquet has no header to speak of
    assert card.labels == ("y",)
    assert (card.tasks[0].column, card.tasks[0].positive, card.tasks[0].values) == (
        "y",
        (1,),
        (0, 1),
    )
    assert "# 0/1 values: 1 is the positive class" in text
    assert _role(card, "user_id") == ("categorical", "int")
    assert _role(card, "level") == ("categorical", "int")
    assert _role(card, "count") == ("numeric", "int")
    assert _role(card, "price") == ("numeric", "float")
    assert _role(card, "city") == ("categorical", "string")
    assert _role(card, "h") == ("categorical", "hex")
    assert _role(card, "outcome") == ("categorical", "string")
    # true/false: parquet keeps booleans (read as int), text files spell them out.
    assert _role(card, "flag") == ("categorical", "int" if fmt == "parquet" else "string")
    assert card.text == ("review",)
    for left_out in ("review", "row", "empty", "day", "y"):
        assert _role(card, left_out) is None
    # Why each column was chosen is in a comment; left-out columns are listed with the reason.
    assert 'user_id = "int"  # an id (50 distinct values in 200 rows)' in text
    assert 'level = "int"  # 5 distinct values in 200 rows: categorical' in text
    assert 'count = "int"  # 150 distinct values in 200 rows: a number' in text
    assert "# Left out (add them above to use them):" in text
    assert "#   review: free text (" in text
    assert "#   row: 200 distinct values in 200 rows: a row id carries no signal" in text
    assert "#   empty: no value in the sample" in text
    if fmt == "parquet":
        assert "#   day: a date or time: convert it to Unix seconds to use it" in text

    dataset = prepare_dataset(
        card,
        DataFiles((path,)),
        PreprocessConfig(protocol=card.protocol),
        cache_root=tmp_path / "cache",
        progress=False,
    )
    assert sum(dataset.split(s).n_rows for s in ("train", "valid", "test")) == ROWS
    assert [f.name for f in dataset.schema.numeric] == ["count", "price"]
    assert [f.name for f in dataset.schema.categorical] == [
        "user_id",
        "level",
        "city",
        "h",
        "flag",
        "outcome",
    ]
    flag = dataset.schema.categorical[4]
    assert flag.cardinality == 4  # true, false + missing and rare
    expected = np.array([k % 3 == 0 for k in range(ROWS)], dtype=np.float32)
    y = np.concatenate([dataset.split(s).y[:, 0] for s in ("train", "valid", "test")])
    assert y.sum() == expected.sum()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_two_string_label_takes_the_rarer_value(tmp_path: Path, fmt: str) -> None:
    path = _file(tmp_path, fmt)
    text, card = _draft_and_load(path, "outcome")
    assert (card.tasks[0].positive, card.tasks[0].values) == (("yes",), ("no", "yes"))
    assert "the rarer ('yes') is taken as positive" in text
    assert _role(card, "y") == ("categorical", "int")  # now a feature: 2 values
    dataset = prepare_dataset(
        card, DataFiles((path,)), PreprocessConfig(), cache_root=tmp_path, progress=False
    )
    y = np.concatenate([dataset.split(s).y[:, 0] for s in ("train", "valid", "test")])
    assert int(y.sum()) == sum(k % 3 == 2 for k in range(ROWS))


def test_a_label_with_many_numbers_is_a_threshold(tmp_path: Path) -> None:
    path = _file(tmp_path, "parquet")
    _, card = _draft_and_load(path, "level")  # 0..4, median 2
    task = card.tasks[0]
    assert (task.threshold, task.positive, task.values) == (("ge", 3.0), None, (0, 1, 2, 3, 4))
    _, card = _draft_and_load(path, "price")  # floats: above the median
    task = card.tasks[0]
    assert task.threshold is not None and task.threshold[0] == "gt"
    # Written with 6 significant digits: a draft for a person to check.
    median = _table(True)["price"].median()
    assert isinstance(median, float)
    assert task.threshold[1] == pytest.approx(median, rel=1e-5)


def test_text_labels_need_positive(tmp_path: Path) -> None:
    path = _file(tmp_path, "csv")
    with pytest.raises(HarnessError, match=r"--label city: 3 text values; say which means 1"):
        draft_card(path, label="city")
    _, card = _draft_and_load(path, "city", positive="rome")
    assert (card.tasks[0].positive, card.tasks[0].values) == (("rome",), ("oslo", "paris", "rome"))
    with pytest.raises(HarnessError, match=r"--positive lima: not a value of city \(oslo, paris"):
        draft_card(path, label="city", positive="lima")


def test_group_and_time_choose_the_protocol(tmp_path: Path) -> None:
    path = _file(tmp_path, "parquet")
    _, card = _draft_and_load(path, "y", group="user_id")
    assert (card.group, card.protocol, card.column("user_id")) == ("user_id", "group", None)
    _, card = _draft_and_load(path, "y", time="count")
    assert (card.time, card.protocol, card.column("count")) == ("count", "time", None)
    with pytest.raises(HarnessError, match=r"--time when: shop\.parquet has no such column"):
        draft_card(path, label="y", time="when")


def test_float_labels_ids_and_date_times_from_pandas_files(tmp_path: Path) -> None:
    # pandas writes a nullable integer column as float64: 0.0/1.0 labels, whole-valued ids.
    i = np.arange(ROWS)
    start = datetime.datetime(2024, 1, 1)
    frame = pl.DataFrame(
        {
            "clicked": (i % 3 == 0).astype(np.float64),
            "store_id": (i % 20).astype(np.float64),
            "price": np.random.default_rng(1).normal(10.0, 2.0, ROWS),
            "when": [start + datetime.timedelta(hours=int(k)) for k in i],
        }
    )
    path = tmp_path / "pandas.parquet"
    frame.write_parquet(path)
    _, card = _draft_and_load(path, "clicked", time="when")
    task = card.tasks[0]
    assert (task.positive, task.values) == ((1.0,), (0.0, 1.0))
    assert _role(card, "store_id") == ("categorical", "int")
    assert _role(card, "price") == ("numeric", "float")
    assert (card.time, card.protocol, card.column("when")) == ("when", "time", None)
    dataset = prepare_dataset(
        card, DataFiles.of(path), PreprocessConfig(), cache_root=tmp_path / "c", progress=False
    )
    # By time: the last tenth of the hours is test, every label read as 0/1.
    assert [dataset.split(s).n_rows for s in ("train", "valid", "test")] == [160, 20, 20]
    labels = np.concatenate([dataset.split(s).y for s in ("train", "valid", "test")])
    assert labels.sum() == (i % 3 == 0).sum()


def test_true_false_labels_and_negative_integer_labels(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(
        "clicked,x\n" + "".join(f"{'true' if i % 3 == 0 else 'false'},{i % 7}\n" for i in range(60))
    )
    _, card = _draft_and_load(path, "clicked")
    assert (card.tasks[0].positive, card.tasks[0].values) == (("true",), ("false", "true"))
    dataset = prepare_dataset(
        card, DataFiles.of(path), PreprocessConfig(), cache_root=tmp_path / "c", progress=False
    )
    labels = np.concatenate([dataset.split(s).y for s in ("train", "valid", "test")])
    assert labels.sum() == 20
    # Integers with a median of -2.5: above it is -2 and up.
    path = tmp_path / "n.parquet"
    pl.DataFrame({"score": [-4, -3, -2, -1] * 10, "x": [i % 7 for i in range(40)]}).write_parquet(
        path
    )
    _, card = _draft_and_load(path, "score")
    assert card.tasks[0].threshold == ("ge", -2.0)


def test_time_must_hold_numbers(tmp_path: Path) -> None:
    path = _file(tmp_path, "csv")
    with pytest.raises(HarnessError) as info:
        draft_card(path, label="y", time="city")
    assert str(info.value) == (
        "--time city: a String column; the time column must hold numbers (Unix seconds, "
        "YYMMDDHH) or, in parquet, date-times"
    )


# --- through the command line ------------------------------------------------------------------


def test_data_init_writes_refuses_to_overwrite_and_names_bad_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _file(tmp_path, "csv")
    out = tmp_path / "mine.toml"
    argv = ["data", "init", str(path), "--label", "y", "--out", str(out)]
    assert main(argv) == 0
    said = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert f"wrote {out}: 2 numeric, 6 categorical, 3 left out" in said
    assert load_card(out).labels == ("y",)

    out.write_text("# mine\n")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{out} exists; pass --out OTHER.toml or --force to replace it" in err
    assert out.read_text() == "# mine\n"
    assert main([*argv, "--force"]) == 0
    assert load_card(out).name == "shop"
    capsys.readouterr()

    assert main(["data", "init", str(path), "--label", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "--label nope: shop.csv has no such column (user_id, level, count" in err

    monkeypatch.chdir(tmp_path)  # the default: <file>.toml here
    assert main(["data", "init", str(path), "--label", "outcome"]) == 0
    assert load_card(tmp_path / "shop.toml").labels == ("outcome",)


def test_data_list_markdown_is_the_cards_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "list", "--markdown"]) == 0
    out = capsys.readouterr().out
    cards = [load_card(n) for n in card_names()]
    assert out == datasets_markdown(cards) + "\n"
    lines = out.splitlines()
    assert lines[0].startswith("| dataset | what it is | tasks |")
    assert len(lines) == 2 + len(cards)
    assert lines[2].startswith("| `adult` |")
    movielens = next(line for line in lines if line.startswith("| `movielens` |"))
    assert "| like, love |" in movielens and "| user_id | time |" in movielens
