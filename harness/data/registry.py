"""The dataset registry: the one place a dataset name becomes an adapter.

A new dataset is an adapter module (reader + ``prepare``), a dataset card under ``datasets/``,
and one ``DatasetAdapter(...)`` line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.data.fetch import DOWNLOADS, Download
from harness.data.preprocess import prepare_criteo
from harness.data.schema import EncodedDataset
from harness.data.synthetic import write_synthetic_criteo
from harness.errors import HarnessError

__all__ = ["DATASETS", "DatasetAdapter", "get_dataset"]


@dataclass(frozen=True)
class DatasetAdapter:
    """How to read one dataset, make a synthetic stand-in for it, and where to download it."""

    name: str
    prepare: Callable[..., EncodedDataset]
    write_synthetic: Callable[..., Path] | None
    download: Download | None
    card: str


DATASETS: dict[str, DatasetAdapter] = {
    "criteo": DatasetAdapter(
        name="criteo",
        prepare=prepare_criteo,
        write_synthetic=write_synthetic_criteo,
        download=DOWNLOADS["criteo"],
        card="datasets/criteo.md",
    ),
}


def get_dataset(name: str) -> DatasetAdapter:
    """The adapter called ``name``; an unknown name gets a one-line error listing valid ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise HarnessError(
            f"unknown dataset {name!r}; valid: {', '.join(sorted(DATASETS))}"
        ) from None
