"""Named suites: which dataset, which models, and how much search by default.

A suite is what ``harness run --suite NAME`` runs. Adding one is one ``Suite(...)`` entry below.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError

__all__ = ["DEFAULT_MODELS", "SUITES", "Suite", "get_suite"]


@dataclass(frozen=True)
class Suite:
    """A benchmark: one dataset, its split protocol, the models to tune, and the budget.

    ``models`` are search-space file names (``search_spaces/<model>.toml``): the GBDT baselines
    and the neural presets compared by default.
    """

    name: str
    dataset: str
    description: str
    models: tuple[str, ...]
    protocol: str = "sequential"
    min_count: int = 2
    trials: int = 12
    time_budget_s: float = 1800.0
    # The synthetic stand-in used when no real data is found: its rows, and a shorter default
    # budget, since it only shows the pipeline working (about 10 minutes on 2 cores).
    synthetic_rows: int = 200_000
    synthetic_time_budget_s: float = 600.0

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError(f"suite {self.name!r} names no models")
        if self.trials < 1:
            raise ValueError(f"suite {self.name!r}: trials must be at least 1, got {self.trials=}")
        if self.time_budget_s <= 0:
            raise ValueError(f"suite {self.name!r}: {self.time_budget_s=} must be positive")


# The GBDT baselines and the neural presets most CTR benchmarks compare (BARS ranks these).
DEFAULT_MODELS = ("lightgbm", "catboost", "dcnv2", "deepfm", "dlrm", "autoint")

SUITES: dict[str, Suite] = {
    "criteo": Suite(
        name="criteo",
        dataset="criteo",
        description="Criteo Kaggle display-advertising CTR (dac): 13 numeric, 26 categorical",
        models=DEFAULT_MODELS,
    ),
    "criteo-1tb": Suite(
        name="criteo-1tb",
        dataset="criteo-1tb",
        description="Criteo 1TB click logs (24 day files, ~4.4B rows): for a Ray cluster",
        models=DEFAULT_MODELS,
        time_budget_s=12 * 3600.0,
    ),
}


def get_suite(name: str) -> Suite:
    """The suite called ``name``; an unknown name gets a one-line error listing the valid ones."""
    try:
        return SUITES[name]
    except KeyError:
        raise HarnessError(
            f"unknown suite {name!r}; valid suites: {', '.join(sorted(SUITES))} "
            "(see `harness suites`)"
        ) from None
