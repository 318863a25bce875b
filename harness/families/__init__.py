"""The model-family registry: the one place a family name becomes an object.

A new family is one module implementing ``harness.families.base.Family`` plus one line in
``FAMILIES``.
"""

from __future__ import annotations

from harness.errors import HarnessError
from harness.families.base import EpochMetrics, Family, FitResult, TrainContext
from harness.families.catboost import CATBOOST, CatBoostConfig
from harness.families.dcnv2 import DCNV2, DCNv2Config
from harness.families.lightgbm import LIGHTGBM, LightGBMConfig

__all__ = [
    "FAMILIES",
    "CatBoostConfig",
    "DCNv2Config",
    "EpochMetrics",
    "Family",
    "FitResult",
    "LightGBMConfig",
    "TrainContext",
    "get_family",
]

FAMILIES: dict[str, Family] = {
    "lightgbm": LIGHTGBM,
    "catboost": CATBOOST,
    "dcnv2": DCNV2,
}


def get_family(name: str) -> Family:
    """The registered family called ``name``.

    Raises:
        HarnessError: no family has that name (the message lists the valid ones).
    """
    try:
        return FAMILIES[name]
    except KeyError:
        valid = ", ".join(sorted(FAMILIES))
        raise HarnessError(f"unknown model family {name!r}; valid: {valid}") from None
