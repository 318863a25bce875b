"""Datasets are cards (``datasets/*.toml``); this module turns a card into the synthetic stand-in
used when no real data is found, and into what ``harness data fetch`` downloads.

A new dataset is a card file (plus, only where its file format needs one, a reader).
"""

from __future__ import annotations

from pathlib import Path

from harness.data.card import DatasetCard, card_names, load_card
from harness.data.fetch import Download
from harness.data.preprocess import DataFiles
from harness.data.synthetic import write_synthetic_criteo
from harness.data.synthetic_table import synthetic_main_name, write_synthetic_table

__all__ = ["dataset_names", "download_of", "get_dataset", "write_synthetic"]


def get_dataset(name: str) -> DatasetCard:
    """The card called ``name``; an unknown name gets a one-line error listing the cards."""
    return load_card(name)


def dataset_names() -> tuple[str, ...]:
    return card_names()


def write_synthetic(card: DatasetCard, folder: Path, rows: int, *, seed: int = 0) -> DataFiles:
    """The card's synthetic stand-in (written once, then reused): its generator's files."""
    folder = Path(folder)
    if card.synthetic.generator == "criteo":
        path = folder / synthetic_main_name(card)
        if not path.exists():
            write_synthetic_criteo(path, rows, seed=seed)
        return DataFiles((path,))
    marker = folder / ".complete"
    if marker.exists():
        return _reuse(card, folder, rows, seed)
    files = write_synthetic_table(card, folder, rows, seed=seed)
    marker.write_text("")
    return files


def _reuse(card: DatasetCard, folder: Path, rows: int, seed: int) -> DataFiles:
    main = folder / synthetic_main_name(card)
    sides = tuple(folder / j.files[0] for j in card.joins)
    if main.exists() and all(s.exists() for s in sides):
        return DataFiles((main,), sides=sides)
    (folder / ".complete").unlink()
    return write_synthetic(card, folder, rows, seed=seed)


def download_of(card: DatasetCard) -> Download | None:
    """What ``harness data fetch`` downloads for the card, or None (see ``manual_download``)."""
    spec = card.download
    if spec is None:
        return None
    return Download(
        name=card.name,
        urls=spec.urls,
        archive_name=spec.archive_name,
        member=spec.member,
        sha256=spec.sha256,
    )
