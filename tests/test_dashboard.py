"""`harness dashboard` serves optuna-dashboard over a suite's studies on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from tests.dashboard_server import listed_studies

pytestmark = pytest.mark.slow


def test_dashboard_serves_the_suites_studies(tmp_path: Path) -> None:
    studies = tmp_path / "runs" / "criteo-synthetic" / "studies.sqlite3"
    studies.parent.mkdir(parents=True)
    study = optuna.create_study(
        study_name="criteo-synthetic/lightgbm", storage=f"sqlite:///{studies}", direction="maximize"
    )
    study.optimize(lambda t: t.suggest_float("learning_rate", 0.01, 0.3), n_trials=2)
    body = listed_studies(["--suite", "criteo", "--synthetic", "--out", str(tmp_path)])
    assert "criteo-synthetic/lightgbm" in body
