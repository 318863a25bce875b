"""Factor studies on the leaderboard: mean ± std per arm over seeds, one section per study, never
ranked with the search."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from rich.console import Console

from harness.leaderboard.console import study_table
from harness.leaderboard.markdown import (
    READING_A_STUDY,
    format_bytes,
    format_mean_std,
    render,
    study_section,
)
from harness.leaderboard.summary import MeanStd, mean_std, summarize, summarize_studies
from harness.results.table import TrialResult
from harness.studies.files import Arm, StudyFile
from tests.leaderboard.boards import run_info

BASE = "the best dcnv2 trial by validation AUC in this run folder (0.8000; trial 3, seed 0)"


def _row(arm: str, seed: int, auc: float | None, logloss: float | None, **kw: Any) -> TrialResult:
    values: dict[str, Any] = {
        "suite": "criteo",
        "dataset": "d",
        "protocol": "sequential",
        "family": "neural",
        "model": "dcnv2",
        "study": f"criteo/s:{arm}/dcnv2@fp",
        "trial_id": f"{arm}-{seed}-{kw.get('status', 'complete')}",
        "study_trial": seed,
        "params": "{}",
        "seed": seed,
        "status": "complete",
        "valid_auc": auc,
        "test_auc": auc,
        "test_logloss": logloss,
        "train_seconds": 10.0 + seed,
        "embedding_params": 1000 if arm == "small" else 4_000_000,
        "embedding_bytes": 4000 if arm == "small" else 16_000_000,
        "factor_study": "sizes",
        "arm": arm,
        "base_source": BASE,
        "space_fingerprint": f"fp-{arm}",
        "started_at": f"2026-01-01T00:00:{seed:02d}",
        **kw,
    }
    if values["status"] == "failed":
        values["error"] = "boom"
    return TrialResult(**values)


ROWS = [
    _row("big", 0, 0.78, 0.45),
    _row("big", 1, 0.80, 0.44),
    _row("big", 2, 0.79, 0.43),
    _row("small", 0, 0.70, 0.50),
    _row("small", 1, 0.74, 0.48),
    _row("small", 2, 0.90, 0.30, status="pruned"),  # stopped by the budget: not averaged
    _row("small", 3, None, None, status="failed"),
    _row("small", 4, None, None, status="interrupted"),  # not counted at all
]
FILE = StudyFile(
    name="sizes",
    path="search_spaces/studies/sizes.toml",
    description="Embedding sizes, quality against memory",
    factor=("model.tokenizer.embedding_dim",),
    arms=(
        Arm("small", {}, ("model.tokenizer.embedding_dim = 4",)),
        Arm("big", {}, ("model.tokenizer.embedding_dim = 64",)),
    ),
)


def test_mean_and_sample_std() -> None:
    assert mean_std([]) is None
    assert mean_std([0.5]) == MeanStd(0.5, None, 1)
    m = mean_std([0.78, 0.80, 0.79])
    assert m is not None and m.n == 3
    assert m.mean == pytest.approx(0.79) and m.std == pytest.approx(0.01)


def test_each_arm_is_averaged_over_its_complete_seeds_best_first() -> None:
    (s,) = summarize_studies(ROWS, {"sizes": FILE})
    assert (s.study, s.preset, s.base_source, s.hidden) == ("sizes", "dcnv2", BASE, 0)
    assert s.factor == "model.tokenizer.embedding_dim" and s.description.startswith("Embedding")
    big, small = s.arms
    assert big.arm == "big" and big.seeds == (0, 1, 2)
    assert big.test_auc is not None and big.test_logloss is not None
    assert big.test_auc.mean == pytest.approx(0.79) and big.test_auc.std == pytest.approx(0.01)
    assert big.test_logloss.mean == pytest.approx(0.44)
    assert big.test_logloss.std == pytest.approx(0.01)
    assert big.train_seconds == pytest.approx(11.0)
    assert (big.embedding_params, big.embedding_bytes) == (4_000_000, 16_000_000)
    assert small.seeds == (0, 1) and (small.pruned, small.failed) == (1, 1)
    assert small.test_auc is not None and small.test_auc.mean == pytest.approx(0.72)
    assert small.test_auc.std == pytest.approx(math.sqrt(0.0008))
    assert small.settings == ("model.tokenizer.embedding_dim = 4",)


def test_a_later_base_or_arm_version_hides_the_earlier_rows() -> None:
    older = [
        _row("big", 5, 0.6, 0.6, base_source="dcnv2's defaults", started_at="2025-01-01"),
        _row("small", 6, 0.6, 0.6, space_fingerprint="fp-old", started_at="2025-01-01"),
    ]
    (s,) = summarize_studies([*older, *ROWS])
    assert s.hidden == 2
    assert {a.arm: a.seeds for a in s.arms} == {"big": (0, 1, 2), "small": (0, 1)}
    assert s.description == "" and s.arms[1].settings == ()  # no study file given


def test_study_rows_are_never_ranked_or_counted_with_the_search() -> None:
    tagged = _row("x", 0, 0.6, 0.6, space_fingerprint="fp-search")
    search = dataclasses.replace(tagged, factor_study="", arm="", base_source="")
    (model,) = summarize([search, *ROWS], {"dcnv2": ("neural", "fp-search")})
    assert model.best == search and model.trials == 1 and model.older == 0


def test_the_section_says_what_was_fixed_and_how_to_read_it() -> None:
    (s,) = summarize_studies(ROWS, {"sizes": FILE})
    text = "\n".join(study_section(s))
    assert text.startswith("## Study: sizes\n\nEmbedding sizes, quality against memory\n")
    assert "| preset | `dcnv2` |" in text
    assert f"| base configuration | {BASE} |" in text
    assert "| factor | `model.tokenizer.embedding_dim`: one arm per value" in text
    assert "| seeds | 0, 1, 2 |" in text
    lines = text.splitlines()
    head = lines.index(next(line for line in lines if line.startswith("| arm |")))
    assert lines[head] == (
        "| arm | test AUC (mean ± std) | test logloss (mean ± std) | seeds | embedding params "
        "| embedding bytes | train s (mean) |"
    )
    assert lines[head + 2] == (
        "| big | 0.7900 ± 0.0100 | 0.4400 ± 0.0100 | 3 | 4.0M | 15.3 MiB | 11.0 |"
    )
    assert lines[head + 3] == (
        "| small | 0.7200 ± 0.0283 | 0.4900 ± 0.0141 | 2 (+1 pruned, 1 failed) | 1.0k | "
        "3.9 KiB | 10.5 |"
    )
    assert READING_A_STUDY in text and "smaller than about 2 std is not evidence" in text
    assert "- small: `model.tokenizer.embedding_dim = 4`" in text


def test_the_page_has_a_section_per_study_and_no_empty_search_table() -> None:
    info = run_info(trials_per_model=0, time_budget_s=0.0)
    page = render(info, [], summarize_studies(ROWS, {"sizes": FILE}))
    assert "| search | none in this run folder yet |" in page
    assert "## Best configuration per model" not in page
    assert page.count("## Study: sizes") == 1


def test_formats() -> None:
    assert format_bytes(None) == "—" and format_bytes(512) == "512 B"
    assert format_bytes(3 << 20) == "3.0 MiB"
    assert format_mean_std(None) == "—"
    assert format_mean_std(MeanStd(0.5, None, 1)) == "0.5000 ± —"


def test_the_console_prints_the_same_table() -> None:
    (s,) = summarize_studies(ROWS, {"sizes": FILE})
    console = Console(width=200, record=True)
    console.print(study_table(s))
    text = console.export_text()
    assert "Study sizes: dcnv2, model.tokenizer.embedding_dim varied" in text
    assert "0.7900 ± 0.0100" in text and "15.3 MiB" in text and "2 (+2 cut)" in text
