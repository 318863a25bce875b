"""A card's ``[[references]]``: published results parsed into `Reference` rows, every mistake one
line naming the card and the entry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.data.card import Reference, load_card, parse_card
from harness.data.splits import SPLIT_PROTOCOLS
from harness.errors import HarnessError

PATH = "cards/mine.toml"


def _card(references: Any) -> dict[str, Any]:
    return {
        "name": "mine",
        "format": "parquet",
        "files": ["mine.parquet"],
        "tasks": {"y": {"column": "y"}},
        "numeric": {"int": ["a"]},
        "references": references,
    }


def _table(**changes: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "benchmark": "Mine_x4",
        "protocol": "x4",
        "rows": [800, 100, 100],
        "source": "https://example.org/mine.csv",
        "embedding_dim": 16,
        "results": [
            {"model": "LR", "test_auc": 0.75, "test_logloss": 0.45},
            {"model": "DCNv2", "test_auc": 0.81, "test_logloss": 0.44},
        ],
    }
    for key, value in changes.items():
        if value is None:
            table.pop(key)
        else:
            table[key] = value
    return table


def _error(references: Any) -> str:
    with pytest.raises(HarnessError) as info:
        parse_card(_card(references), path=PATH)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{PATH}: references")
    return message


def test_a_table_gives_one_reference_per_result() -> None:
    card = parse_card(_card([_table()]), path=PATH)
    assert card.references == (
        Reference("Mine_x4", "LR", "x4", (800, 100, 100), 0.75, 0.45,
                  "https://example.org/mine.csv", embedding_dim=16),
        Reference("Mine_x4", "DCNv2", "x4", (800, 100, 100), 0.81, 0.44,
                  "https://example.org/mine.csv", embedding_dim=16),
    )  # fmt: skip
    assert card.references[0].total == 1000 and card.references[0].min_count == 0
    assert parse_card(_card([]), path=PATH).references == ()


def test_references_leave_the_cache_fingerprint_alone() -> None:
    without = _card([])
    del without["references"]
    assert (
        parse_card(without, path=PATH).fingerprint
        == parse_card(_card([_table()]), path=PATH).fingerprint
    )


@pytest.mark.parametrize(
    ("references", "expected"),
    [
        ({"benchmark": "x"}, r"references: an array of tables"),
        ([_table(protocol="x2")], r"references\[0\] \(Mine_x4\)\.protocol: unknown split"),
        ([_table(rows=[800, 100])], r"\.rows: the train, valid and test row counts"),
        ([_table(rows=[800, 0, 100])], r"\.rows: "),
        ([_table(source=None)], r"references\[0\] \(Mine_x4\)\.source: missing"),
        ([_table(benchmark=None)], r"references\[0\]\.benchmark: missing"),
        ([_table(batch_size=-1)], r"\.batch_size: an integer >= 0"),
        ([_table(results=[])], r"\.results: a non-empty list"),
        ([_table(seed=1)], r"references\[0\]\.seed: unknown key"),
        ([_table(), _table()], r"references\[1\]\.benchmark: 'Mine_x4' has a table already"),
        (
            [_table(results=[{"model": "LR", "test_auc": 81.4, "test_logloss": 0.44}])],
            r"references\[0\] \(Mine_x4\)\.results\[0\] \(LR\)\.test_auc: a number in \[0, 1\]",
        ),
        (
            [_table(results=[{"model": "LR", "test_auc": 0.8, "test_logloss": 0}])],
            r"results\[0\] \(LR\)\.test_logloss: a positive number",
        ),
        (
            [_table(results=[{"model": "LR", "test_auc": "0.8", "test_logloss": 0.4}])],
            r"results\[0\] \(LR\)\.test_auc: a number in \[0, 1\], got '0.8'",
        ),
        (
            [_table(results=[{"model": "LR", "auc": 0.8}])],
            r"results\[0\]\.auc: unknown key",
        ),
        (
            [_table(results=[{"model": "LR", "test_auc": 0.8, "test_logloss": 0.4}] * 2)],
            r"results\[1\] \(LR\): 'LR' is listed twice",
        ),
    ],
)
def test_a_bad_reference_is_one_line_naming_the_card_and_the_entry(
    references: Any, expected: str
) -> None:
    message = _error(references)
    assert re.search(expected, message), message


def test_the_shipped_bars_rows() -> None:
    criteo, avazu = load_card("criteo"), load_card("avazu")
    by_name = {(r.benchmark, r.model): r for r in (*criteo.references, *avazu.references)}
    assert {r.benchmark for r in criteo.references} == {"Criteo_x1", "Criteo_x4_001"}
    assert {r.benchmark for r in avazu.references} == {"Avazu_x1", "Avazu_x4_001"}
    assert all(r.protocol in SPLIT_PROTOCOLS for r in by_name.values())
    # The published split sizes of the full files (45,840,617 and 40,428,967 rows).
    assert {r.total for r in criteo.references} == {45_840_617}
    assert {r.total for r in avazu.references} == {40_428_967}
    dcnv2 = by_name["Criteo_x4_001", "DCNv2"]
    assert (dcnv2.test_auc, dcnv2.test_logloss, dcnv2.protocol) == (0.8145, 0.4376, "x4")
    assert (dcnv2.min_count, dcnv2.embedding_dim, dcnv2.batch_size) == (10, 16, 10_000)
    assert by_name["Avazu_x1", "FinalNet"].test_auc == 0.7672
    assert ("Criteo_x4_001", "DLRM") not in by_name  # BARS has no DLRM row there


def test_references_are_not_inherited_from_a_base(tmp_path: Path) -> None:
    (tmp_path / "shop.toml").write_text('base = "criteo"\nname = "shop"\n')
    assert load_card(tmp_path / "shop.toml").references == ()
    assert load_card("criteo-1tb").references == ()  # the Kaggle card's rows are not its own
