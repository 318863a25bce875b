"""The model-family registry: the one place a family name becomes an object.

A new family is one module implementing ``harness.families.base.Family`` plus one line in
``FAMILIES``.
"""

from __future__ import annotations

from harness.errors import HarnessError
from harness.families.base import Family
from harness.families.catboost import CATBOOST
from harness.families.dcnv2 import DCNV2
from harness.families.lightgbm import LIGHTGBM

__all__ = ["FAMILIES", "get_family"]

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
