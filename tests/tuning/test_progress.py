"""The live display: counts and times survive 80 columns; it draws while stdout is redirected."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from rich.console import Console

from harness.tuning.progress import TuningProgress


def _render(progress: TuningProgress, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(progress._progress.get_renderable())
    return out.getvalue()


def test_counts_and_times_are_never_cut_at_80_columns() -> None:
    progress = TuningProgress(Console(), "criteo-synthetic/lightgbm", 12, enabled=True)
    for status in ("complete", "pruned", "complete"):
        progress.trial_done(status, 0.7686)
    progress.epoch("a1b2c3d4", 7, 0.75)
    text = _render(progress, 80)
    assert "3/12" in text and re.search(r"\d:\d\d:\d\d", text)
    assert "criteo-synthetic/lightgbm" in text
    assert "best 0.7686" in text  # the free text is what gets shortened, from its end
    assert "…" not in text.split("best")[0]
    wide = _render(progress, 160)
    assert "best 0.7686 · pruned 1 · trial a1b2c3d4 epoch 7 AUC 0.7500" in wide


def test_the_display_draws_on_the_real_stream_while_stdout_is_redirected(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness.tuning.tuner import _pinned

    console = Console(force_terminal=False)  # writes to "whatever sys.stdout is"
    with _pinned(console), contextlib.redirect_stdout(io.StringIO()) as swallowed:
        console.print("epoch 1 of trial 3")
        print("Ray's banner")
    out = capsys.readouterr().out
    assert "epoch 1 of trial 3" in out and "Ray's banner" not in out
    assert "Ray's banner" in swallowed.getvalue()
    console.print("after")
    assert "after" in capsys.readouterr().out
