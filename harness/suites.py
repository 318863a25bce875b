"""Named suites: which dataset (card), which models, and how much search by default.

A suite is what ``harness run --suite NAME`` runs. Adding one is one ``Suite(...)`` entry below
(its dataset a card in ``datasets/``); a user's own card runs as a suite of its own
(`suite_for_card`).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.data.card import DatasetCard
from harness.errors import HarnessError

__all__ = ["DEFAULT_MODELS", "SUITES", "Suite", "get_suite", "suite_for_card"]


@dataclass(frozen=True)
class Suite:
    """A benchmark: one dataset card, the models to tune, and the budget.

    ``models`` are search-space file names (``search_spaces/<model>.toml``): the GBDT baselines
    and the neural presets compared by default. ``protocol``, ``min_count`` and
    ``synthetic_rows`` default (None) to the card's.
    """

    name: str
    dataset: str
    description: str
    models: tuple[str, ...]
    protocol: str | None = None
    min_count: int | None = None
    trials: int = 12
    time_budget_s: float = 1800.0
    # The synthetic stand-in used when no real data is found: its rows (None: the card's), and
    # a shorter default budget, since it only shows the pipeline working.
    synthetic_rows: int | None = None
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
    "avazu": Suite(
        name="avazu",
        dataset="avazu",
        description="Avazu mobile-ads CTR: 21 categorical ids plus hour of day and weekday",
        models=DEFAULT_MODELS,
    ),
    "movielens": Suite(
        name="movielens",
        dataset="movielens",
        description="MovieLens 100K, two tasks (rating >= 4, rating = 5), per-user GAUC/NDCG",
        models=("lightgbm", "catboost", "mmoe", "shared-bottom", "dcnv2"),
    ),
    "kdd2004": Suite(
        name="kdd2004",
        dataset="kdd2004",
        description="KDD Cup 2004 protein homology: 74 floats, ranked within native proteins",
        models=("lightgbm", "lightgbm-rank", "catboost", "mlp", "resnet", "dcnv2"),
    ),
    "adult": Suite(
        name="adult",
        dataset="adult",
        description="UCI Adult census income: a small mixed-type sanity suite (not CTR)",
        models=("lightgbm", "catboost", "mlp", "resnet", "dcnv2", "deepfm"),
    ),
    "reviews": Suite(
        name="reviews",
        dataset="reviews",
        description="Women's clothing reviews: recommended or not, from tabular columns and text",
        models=("lightgbm", "catboost", "mlp", "dcnv2", "deepfm"),
    ),
}


def get_suite(name: str) -> Suite:
    """The suite called ``name``; an unknown name gets a one-line error listing the valid ones."""
    try:
        return SUITES[name]
    except KeyError:
        raise HarnessError(
            f"unknown suite {name!r}; valid suites: {', '.join(sorted(SUITES))} "
            "(see `harness suites`), or pass --card FILE for your own data"
        ) from None


def suite_for_card(card: DatasetCard) -> Suite:
    """The suite of a user's own card: its dataset, the default models."""
    if card.name in SUITES and SUITES[card.name].dataset == card.name:
        return SUITES[card.name]
    return Suite(
        name=card.name,
        dataset=card.name,
        description=card.description or f"dataset card {card.path}",
        models=DEFAULT_MODELS,
    )
