"""Published reference rows appear only beside a run on the same protocol and the full data."""

from __future__ import annotations

import pytest

from harness.data.card import Reference, load_card
from harness.data.splits import get_protocol
from harness.leaderboard.references import BARS_URL, applicable_references, reference_note

# What the harness's `x4` gives on the full files (`get_protocol("x4").sizes(n, seed=0)`): the
# row hash's binomial noise keeps each split within a few thousand rows of BARS's counts.
CRITEO_X4_SEED0 = (36_668_008, 4_587_115, 4_585_494)
AVAZU_X4_SEED0 = (32_339_174, 4_046_361, 4_043_432)
CRITEO_X1_SEED0 = (33_006_064, 8_248_377, 4_586_176)  # 72:18:10, as BARS's Criteo_x1


def _benchmarks(refs: tuple[Reference, ...]) -> set[str]:
    return {r.benchmark for r in refs}


def test_a_full_data_run_on_the_protocol_gets_its_rows() -> None:
    criteo, avazu = load_card("criteo").references, load_card("avazu").references
    shown = applicable_references(criteo, "x4", CRITEO_X4_SEED0)
    assert _benchmarks(shown) == {"Criteo_x4_001"} and len(shown) == 8
    assert [r.model for r in shown][:3] == ["LR", "FM", "DeepFM"]  # the card's order
    assert _benchmarks(applicable_references(avazu, "x4", AVAZU_X4_SEED0)) == {"Avazu_x4_001"}
    # Criteo_x1 with its published counts (BARS's own split files, or a 72:18:10 protocol).
    x1 = (33_003_326, 8_250_124, 4_587_167)
    assert _benchmarks(applicable_references(criteo, "x1", x1)) == {"Criteo_x1"}
    assert _benchmarks(applicable_references(criteo, "files", x1)) == {"Criteo_x1"}
    avazu_x1 = (28_300_276, 4_042_897, 8_085_794)
    assert _benchmarks(applicable_references(avazu, "files", avazu_x1)) == {"Avazu_x1"}


@pytest.mark.parametrize(
    "rows",
    [
        (8_000, 1_000, 1_000),  # the 10k head of the file
        (160_000, 20_000, 20_000),  # the synthetic stand-in
        (18_336_246, 2_292_031, 2_292_031),  # half the file
        (36_672_493, 4_584_062, 4_400_000),  # a test split 4% short
    ],
)
def test_a_head_a_sample_or_synthetic_data_gets_none(rows: tuple[int, int, int]) -> None:
    assert applicable_references(load_card("criteo").references, "x4", rows) == ()


def test_another_protocol_gets_none() -> None:
    criteo = load_card("criteo").references
    for protocol in ("sequential", "time", "x1"):
        assert applicable_references(criteo, protocol, CRITEO_X4_SEED0) == ()
    # The harness's x1 on the full file matches BARS's Criteo_x1 sizes.
    assert get_protocol("x1").sizes(45_840_617, seed=0) == CRITEO_X1_SEED0
    x1 = applicable_references(criteo, "x1", CRITEO_X1_SEED0)
    assert x1 and {r.benchmark for r in x1} == {"Criteo_x1"}


def test_the_tolerance_is_a_share_of_the_published_total() -> None:
    ref = Reference("B", "LR", "x4", (800_000, 100_000, 100_000), 0.8, 0.4, "https://e.org")
    assert applicable_references([ref], "x4", (801_000, 99_000, 100_000)) == (ref,)
    assert applicable_references([ref], "x4", (801_001, 98_999, 100_000)) == ()
    assert applicable_references([ref], "x4", (801_001, 98_999, 100_000), tolerance=0.01)
    with pytest.raises(ValueError, match="rows"):
        applicable_references([ref], "x4", (1, 2))  # type: ignore[arg-type]


def test_the_note_says_published_elsewhere_and_how() -> None:
    assert reference_note(()) == ""
    shown = applicable_references(load_card("criteo").references, "x4", CRITEO_X4_SEED0)
    note = reference_note(shown)
    assert "not run here" in note and BARS_URL in note and "\n" not in note
    assert "[Criteo_x4_001](https://github.com/reczoo/BARS/" in note
    assert "36,672,493 / 4,584,062 / 4,584,062 rows" in note
    assert "embedding size 16" in note and "batch 10,000" in note
    assert "fewer than 10 times" in note and "GPUs" in note
    assert "not a seed-for-seed comparison" in note
