"""The dataset registry: the one place a dataset name becomes an adapter.

A new dataset is an adapter module (reader + ``prepare``), a dataset card under ``datasets/``,
and one ``DatasetAdapter(...)`` line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.data.criteo_1tb import prepare_criteo_1tb
from harness.data.fetch import DOWNLOADS, Download
from harness.data.preprocess import prepare_criteo
from harness.data.schema import EncodedDataset
from harness.data.synthetic import write_synthetic_criteo
from harness.errors import HarnessError

__all__ = ["DATASETS", "DatasetAdapter", "get_dataset"]


@dataclass(frozen=True)
class DatasetAdapter:
    """How to read one dataset, make a synthetic stand-in for it, and where to download it.

    Attributes:
        prepare: ``prepare(source, config, *, cache_root, progress, name)`` in one process;
            ``source`` is what `harness.data.sources.resolve_data` found (its ``path``), or the
            list of raw files (its ``files``).
        download: what ``harness data fetch`` downloads; None when it cannot, and then
            ``manual_download`` says how to get the data by hand.
    """

    name: str
    prepare: Callable[..., EncodedDataset]
    write_synthetic: Callable[..., Path] | None
    download: Download | None
    card: str
    manual_download: str = ""


DATASETS: dict[str, DatasetAdapter] = {
    "criteo": DatasetAdapter(
        name="criteo",
        prepare=prepare_criteo,
        write_synthetic=write_synthetic_criteo,
        download=DOWNLOADS["criteo"],
        card="datasets/criteo.md",
    ),
    "criteo-1tb": DatasetAdapter(
        name="criteo-1tb",
        prepare=prepare_criteo_1tb,
        write_synthetic=write_synthetic_criteo,  # same format: a stand-in is one day file
        download=None,
        card="datasets/criteo-1tb.md",
        manual_download=(
            "download the day files day_0 .. day_23 (about 340 GB gzipped) from the Hugging Face "
            "dataset criteo/CriteoClickLogs after accepting Criteo's terms, into one folder, "
            "then pass --data FOLDER"
        ),
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
