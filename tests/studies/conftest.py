"""A small neural preset, a study of it, and results rows to choose a base from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.results.table import TrialResult
from harness.tuning.space import SearchSpace, load_search_space

PRESET = """
family = "neural"
[model.tokenizer]
embedding_dim = { choice = [8, 4] }
numeric_tokens = "flat"
[model.interaction]
kind = { choice = ["cross", "none"] }
[model.interaction.cross]
layers = { int = [1, 2] }
[model.backbone]
kind = "mlp"
[model.backbone.mlp]
dims = [16]
[train]
learning_rate = { float = [1e-3, 1e-2], log = true }
max_epochs = 1
"""


@pytest.fixture
def preset(tmp_path: Path) -> SearchSpace:
    path = tmp_path / "tiny.toml"
    path.write_text(PRESET)
    return load_search_space(path)


def row(model: str, valid: float | None, status: str = "complete", **kw: Any) -> TrialResult:
    """A neural trial of ``model`` whose resolved config has ``embedding_dim = kw['dim']``."""
    dim = kw.pop("dim", 8)
    config = {
        "model": {"tokenizer": {"embedding_dim": dim, "numeric_tokens": "flat"}},
        "train": {"max_epochs": 1},
    }
    values: dict[str, Any] = {
        "suite": "criteo",
        "dataset": "data@1",
        "protocol": "sequential",
        "family": "neural",
        "model": model,
        "study": f"criteo/{model}@abcdef12",
        "trial_id": f"{model}-{valid}-{status}-{dim}",
        "study_trial": 3,
        "params": "{}",
        "seed": 0,
        "status": status,
        "error": "boom" if status == "failed" else "",
        "valid_auc": valid,
        "test_auc": None if valid is None else valid - 0.01,
        "config": json.dumps(config),
        **kw,
    }
    return TrialResult(**values)
