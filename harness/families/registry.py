"""The model-family registry: the one place a family name becomes an object.

A family is a *trainer* (LightGBM, CatBoost, or the neural ranker); the models a user compares
are search-space files that name their family (``search_spaces/deepfm.toml`` says
``family = "neural"``). A new family is one module implementing ``harness.families.base.Family``
plus one line in ``FAMILIES``.
"""

from __future__ import annotations

from harness.errors import HarnessError
from harness.families.base import Family
from harness.families.catboost import CATBOOST
from harness.families.lightgbm import LIGHTGBM
from harness.families.neural import NEURAL

__all__ = ["FAMILIES", "get_family"]

FAMILIES: dict[str, Family] = {
    "lightgbm": LIGHTGBM,
    "catboost": CATBOOST,
    "neural": NEURAL,
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
