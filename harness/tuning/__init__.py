"""Search spaces and the Ray Tune + Optuna tuner.

``harness.tuning.space`` (no Ray) loads and samples search spaces; ``tune_family`` lives in
``harness.tuning.tuner``, the one module that imports ``ray``, and is imported from here lazily so
that loading a search space does not start importing Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.tuning.space import (
    ChoiceParam,
    FloatParam,
    IntParam,
    Param,
    SearchSpace,
    load_search_space,
)

if TYPE_CHECKING:
    from harness.tuning.tuner import tune_family

__all__ = [
    "ChoiceParam",
    "FloatParam",
    "IntParam",
    "Param",
    "SearchSpace",
    "load_search_space",
    "tune_family",
]


def __getattr__(name: str) -> Any:
    if name == "tune_family":
        from harness.tuning.tuner import tune_family

        return tune_family
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
