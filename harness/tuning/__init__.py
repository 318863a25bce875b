"""Search spaces and the Ray Tune + Optuna tuner.

``harness.tuning.space`` (no Ray) loads and samples search spaces; ``tune_model`` lives in
``harness.tuning.tuner`` (which, with the parts it runs, imports ``ray``) and is imported from
here lazily so that loading a search space does not start importing Ray.
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
    from harness.tuning.tuner import tune_model

__all__ = [
    "ChoiceParam",
    "FloatParam",
    "IntParam",
    "Param",
    "SearchSpace",
    "load_search_space",
    "tune_model",
]


def __getattr__(name: str) -> Any:
    if name == "tune_model":
        from harness.tuning.tuner import tune_model

        return tune_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
