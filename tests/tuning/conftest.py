"""A tiny encoded dataset with a planted signal and a small LightGBM space, for tuner tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.data.schema import EncodedDataset
from harness.tuning.space import SearchSpace, load_search_space
from tests.planted import planted_dataset

CARDINALITIES = (8, 40)

SMALL_LIGHTGBM = """
family = "lightgbm"
learning_rate = { float = [0.05, 0.3], log = true }
num_leaves = { int = [4, 31] }
categorical = { choice = ["numeric", "native"] }
n_estimators = 120
early_stopping_rounds = 15
rounds_per_epoch = 20
"""


def small_planted_dataset(n_train: int = 1500, n_eval: int = 500, seed: int = 0) -> EncodedDataset:
    return planted_dataset(CARDINALITIES, n_train, n_eval, seed)


@pytest.fixture(scope="session")
def planted() -> EncodedDataset:
    return small_planted_dataset()


@pytest.fixture
def lightgbm_space(tmp_path: Path) -> SearchSpace:
    path = tmp_path / "lightgbm.toml"
    path.write_text(SMALL_LIGHTGBM)
    return load_search_space(path, family="lightgbm")


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[None]:
    """A local Ray cluster with the resources (``num_cpus``, ``num_gpus``: logical ones) of the
    test's indirect parameter."""
    import ray  # only the tests that start a cluster pay for importing Ray

    ray.init(
        include_dashboard=False,
        object_store_memory=150 << 20,
        logging_level="ERROR",
        log_to_driver=False,
        **request.param,
    )
    try:
        yield
    finally:
        ray.shutdown()
