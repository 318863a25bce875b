"""Tiny encoded datasets with a planted signal, for the GBDT family tests."""

from __future__ import annotations

import pytest

from harness.data.schema import EncodedDataset
from tests.planted import planted_dataset

CARDINALITIES = (12, 300)


def make_planted_dataset(n_train: int = 3000, n_eval: int = 1000, seed: int = 0) -> EncodedDataset:
    return planted_dataset(CARDINALITIES, n_train, n_eval, seed)


@pytest.fixture(scope="session")
def planted() -> EncodedDataset:
    return make_planted_dataset()
