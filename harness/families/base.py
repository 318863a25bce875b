"""What every model family (GBDT or neural) offers the tuner: a typed config and ``fit``.

A family turns a validated config plus an encoded dataset into a ``FitResult``; the tuner never
needs to know whether it is driving LightGBM or a torch ranker.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from harness.data.schema import EncodedDataset
from harness.fitting import FitResult, TrainContext

__all__ = ["Family"]


class Family(Protocol):
    """A model family: a name, a config dataclass a search space fills, ``fit`` and ``validate``."""

    name: str
    kind: Literal["gbdt", "neural"]
    config_type: type[Any]

    def fit(self, config: Any, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        """Trains on ``data.train``, early-stops on ``data.valid``, scores ``data.test``."""
        ...

    def validate(self, config: Any, data: EncodedDataset) -> None:
        """Raises ValueError when ``config`` cannot work on ``data`` (checked before any trial).

        Must be cheap: it runs at every corner of a search space, without training.
        """
        ...
